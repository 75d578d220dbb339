"""Result models of the segment operations: acknowledgements, summaries and full segments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from moengage_segments._frozen import FrozenMap, freeze_map
from moengage_segments.filters import FilterGroup, RawFilter
from moengage_segments.models._converter import structure

__all__ = ["Segment", "SegmentAck", "SegmentState", "SegmentSummary", "segment_state"]

#: Whether a segment is archived, as far as the service says (see :func:`segment_state`).
SegmentState = Literal["active", "archived"]


def segment_state(extra: Mapping[str, Any]) -> SegmentState | None:
    """The archived/active state in a segment's unknown keys, or ``None`` when the service does not say.

    The documented list and get responses carry no state; a service that sends one anyway is read from a
    ``status`` of ``"active"``/``"archived"`` or a boolean ``archived``/``is_archived``.

    Example::

        assert segment_state({"status": "ARCHIVED"}) == "archived"
        assert segment_state({}) is None
    """
    status = extra.get("status")
    if isinstance(status, str) and status.lower() in ("active", "archived"):
        return "archived" if status.lower() == "archived" else "active"
    for key in ("archived", "is_archived"):
        flag = extra.get(key)
        if isinstance(flag, bool):
            return "archived" if flag else "active"
    return None


@attrs.frozen
class SegmentAck:
    """The service's acknowledgement of a file-segment or archive/unarchive request.

    ``segment_id`` is read from ``cs_id`` (or ``segment_id`` in older responses) and may be ``None``
    where the service does not return it (archive, some replace responses). ``status`` is the HTTP
    status (200 or 202; both are success).

    Example::

        ack = await client.file_segments.create(name="vip", file_url=url, attribute_name="ID",
                                                attribute_type="string", expiry_days=30)
        print(ack.segment_id, ack.name, ack.message)
    """

    status: int
    segment_id: str | None = None
    name: str | None = None
    message: str | None = None
    success: bool | None = None
    extra: Mapping[str, Any] = attrs.field(factory=FrozenMap, converter=freeze_map)

    @classmethod
    def from_response(cls, status: int, body: Any) -> SegmentAck:
        """Build an ack from a v2 response body (tolerant of missing or extra keys).

        Example::

            SegmentAck.from_response(202, {"cs_id": "...", "cs_name": "vip", "success": True})
        """
        data = dict(body) if isinstance(body, Mapping) else {}
        normalized = {
            "status": status,
            "segment_id": data.pop("cs_id", None) or data.pop("segment_id", None),
            "name": data.pop("cs_name", None) or data.pop("name", None),
            "message": data.pop("message", None),
            "success": data.pop("success", None),
        }
        ack = structure(normalized, cls)
        return attrs.evolve(ack, extra=data)


@attrs.frozen
class SegmentSummary:
    """One item of ``GET /v3/custom-segments``: the id and name of a segment.

    Example::

        for summary in await client.segments.list():
            print(summary.id, summary.name, summary.created_time)
    """

    id: str
    name: str
    created_time: datetime | None = None
    type: str | None = None
    source: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=FrozenMap, converter=freeze_map)

    @property
    def state(self) -> SegmentState | None:
        """``"active"``/``"archived"`` when the service says (the API documents no such field), else ``None``.

        Example::

            archived = [s for s in await client.segments.list() if s.state == "archived"]
        """
        return segment_state(self.extra)


@attrs.frozen
class Segment:
    """A full segment as returned by ``GET``/``POST``/``PATCH /v3/custom-segments``.

    ``included_filters``/``excluded_filters`` hold the definition of a filter segment as typed
    :class:`~moengage_segments.filters.FilterGroup` objects (``None`` for other kinds, or when not used);
    filter kinds this SDK does not know are kept as ``RawFilter`` rather than rejected (a root that is
    not a group at all is kept whole as one ``RawFilter``).
    ``response_id`` is the service's id for the response that carried it.

    Example::

        segment = await client.segments.get("6388a97a02adb9071ca84ce9")
        print(segment.name, segment.description)
    """

    id: str
    name: str
    created_time: datetime | None = None
    updated_time: datetime | None = None
    type: str | None = None
    source: str | None = None
    description: str | None = None
    included_filters: FilterGroup | RawFilter | None = None
    excluded_filters: FilterGroup | RawFilter | None = None
    response_id: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=FrozenMap, converter=freeze_map)

    @property
    def state(self) -> SegmentState | None:
        """``"active"``/``"archived"`` when the service says (the API documents no such field), else ``None``.

        Example::

            if (await client.segments.get(segment_id)).state == "archived":
                await client.segments.unarchive(segment_id=segment_id)
        """
        return segment_state(self.extra)
