"""In-memory state: workspaces, their users and their segments.

A workspace is keyed by its Workspace ID (the Basic-auth username). Users are a set of uids plus optional
attributes (used to match file-segment values by attribute). Segments are of three kinds: ``file``,
``filter`` and ``cohort``.

Example::

    ws = Workspace("ws", "key", "ws_db")
    ws.add_users(["u1", "u2"], {"u1": {"email": "a@x.test"}})
    ws.lookup("email", "a@x.test")  # {'u1'}
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from moengage_segments.testing._ids import format_time, new_segment_id, utcnow

__all__ = ["SegmentInfo", "SegmentKind", "Workspace", "_Segment"]

SegmentKind = Literal["file", "filter", "cohort"]
SegmentStatus = Literal["active", "archived"]

# The v3 ``type`` value is documented for filter segments only ("ELASTIC_SEARCH"); the others are ours.
_V3_TYPE = {"filter": "ELASTIC_SEARCH", "file": "FILE", "cohort": "COHORT"}


@attrs.frozen
class SegmentInfo:
    """A read-only snapshot of one segment, returned by the inspection API.

    Example::

        info = emu.segment(cs_id)
        assert info.kind == "file" and info.member_count == 3
    """

    id: str
    name: str
    kind: SegmentKind
    status: SegmentStatus
    type: str
    source: str
    created_time: str
    updated_time: str
    member_count: int
    description: str
    included_filters: dict[str, Any] | None = None
    excluded_filters: dict[str, Any] | None = None
    attribute_name: str | None = None
    expiry_days: int | None = None
    processing: str | None = None
    cohort_id: str | None = None
    partner: str | None = None


@attrs.define(eq=False)
class _Segment:
    """Mutable segment record (internal)."""

    name: str
    kind: SegmentKind
    id: str = attrs.field(factory=new_segment_id)
    status: SegmentStatus = "active"
    source: str = "API"
    created_time: _dt.datetime = attrs.field(factory=utcnow)
    updated_time: _dt.datetime = attrs.field(factory=utcnow)
    members: set[str] = attrs.field(factory=set)
    description: str = ""
    included_filters: dict[str, Any] | None = None
    excluded_filters: dict[str, Any] | None = None
    canonical: str | None = None
    references: frozenset[str] = frozenset()
    attribute_name: str | None = None
    expiry_days: int | None = None
    processing: str | None = None
    cohort_id: str | None = None
    partner: str | None = None
    archived_at: _dt.datetime | None = None

    @property
    def v3_type(self) -> str:
        return _V3_TYPE[self.kind]

    def touch(self) -> None:
        self.updated_time = utcnow()

    def summary(self) -> dict[str, Any]:
        """The ``SegmentListItemV3`` shape."""
        return {
            "name": self.name,
            "id": self.id,
            "created_time": format_time(self.created_time),
            "type": self.v3_type,
            "source": self.source,
        }

    def detail(self) -> dict[str, Any]:
        """The ``FilterSegmentDataV3`` shape (filters only for filter segments)."""
        data = self.summary()
        data["updated_time"] = format_time(self.updated_time)
        data["description"] = self.description
        if self.included_filters is not None:
            data["included_filters"] = self.included_filters
        if self.excluded_filters is not None:
            data["excluded_filters"] = self.excluded_filters
        # Keep the documented key order: name, id, created_time, updated_time, type, source, ...
        order = ["name", "id", "created_time", "updated_time", "type", "source", "description"]
        return {k: data[k] for k in order + [k for k in data if k not in order]}

    def info(self) -> SegmentInfo:
        return SegmentInfo(
            id=self.id,
            name=self.name,
            kind=self.kind,
            status=self.status,
            type=self.v3_type,
            source=self.source,
            created_time=format_time(self.created_time),
            updated_time=format_time(self.updated_time),
            member_count=len(self.members),
            description=self.description,
            included_filters=self.included_filters,
            excluded_filters=self.excluded_filters,
            attribute_name=self.attribute_name,
            expiry_days=self.expiry_days,
            processing=self.processing,
            cohort_id=self.cohort_id,
            partner=self.partner,
        )


class Workspace:
    """One MoEngage workspace: credentials, users and segments.

    Example::

        ws = Workspace("ws", "key", "ws_db")
        seg = ws.add_segment(_Segment(name="promo", kind="file"))
        ws.by_name("promo") is seg  # True
    """

    def __init__(self, workspace_id: str, api_key: str, db_name: str) -> None:
        self.workspace_id = workspace_id
        self.api_key = api_key
        self.db_name = db_name
        self.users: set[str] = set()
        self.attributes: dict[str, dict[str, Any]] = {}
        self.segments: dict[str, _Segment] = {}
        self.cohorts: dict[str, _Segment] = {}  # cohort_id -> its current segment
        self._index: dict[str, dict[str, set[str]]] = {}  # attribute -> value -> uids

    # --- users -------------------------------------------------------------------------------------
    def add_users(self, uids: Iterable[str], attributes: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.users.update(uids)
        if attributes:
            for uid, attrs_ in attributes.items():
                self.users.add(uid)
                self.attributes.setdefault(uid, {}).update(attrs_)
            self._index.clear()

    def lookup(self, attribute: str, value: str) -> set[str]:
        """Uids whose ``attribute`` equals ``value`` (``ID`` is the uid itself); compared as strings."""
        if attribute == "ID":
            return {value} if value in self.users else set()
        index = self._index.get(attribute)
        if index is None:
            index = {}
            for uid, attrs_ in self.attributes.items():
                if attribute in attrs_:
                    index.setdefault(_as_key(attrs_[attribute]), set()).add(uid)
            self._index[attribute] = index
        return index.get(_as_key(value), set())

    # --- segments ----------------------------------------------------------------------------------
    def add_segment(self, segment: _Segment) -> _Segment:
        self.segments[segment.id] = segment
        return segment

    def by_name(self, name: str, kinds: Iterable[SegmentKind] | None = None) -> _Segment | None:
        """The segment named ``name`` (of one of ``kinds``): an active one before archived ones, oldest
        first within each status (the order of a by-name list).

        Names repeat only through cohort segments (exempt from uniqueness; a push to an archived cohort
        starts a new segment), so the active one, the cohort's current segment, is the one meant.
        """
        wanted = set(kinds) if kinds is not None else None
        archived: _Segment | None = None
        for segment in self.segments.values():  # insertion order: oldest first
            if segment.name != name or (wanted is not None and segment.kind not in wanted):
                continue
            if segment.status == "active":
                return segment
            archived = archived or segment
        return archived

    def name_taken(self, name: str, exclude: str | None = None) -> bool:
        return any(s.name == name and s.id != exclude for s in self.segments.values())

    def active_count(self) -> int:
        return sum(1 for s in self.segments.values() if s.status == "active")


def _as_key(value: Any) -> str:
    # Doubles match by numeric value ("5" and "5.0" are the same double).
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(float(value))
    text = str(value)
    try:
        return repr(float(text)) if text.strip() and _looks_numeric(text) else text
    except ValueError:
        return text


def _looks_numeric(text: str) -> bool:
    return all(c in "0123456789.-+eE" for c in text)
