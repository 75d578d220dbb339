"""The payload MoEngage POSTs to ``callback_url`` when a file segment has been processed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs

from moengage_segments._frozen import FrozenMap, freeze_map
from moengage_segments.errors import ValidationError
from moengage_segments.models._converter import structure

__all__ = ["FileSegmentCallback"]


@attrs.frozen
class FileSegmentCallback:
    """Result of processing a file segment's CSV, as sent to ``callback_url``.

    ``status`` is 201 on success (then ``values_found``, ``values_processed`` and ``user_count`` are
    set), 400 for a client-side problem (file too large, download failed) and 500 for a server error
    (then ``error_message`` says why).

    Example::

        callback = FileSegmentCallback.from_json(await request.read())
        if callback.succeeded:
            print(callback.user_count)
    """

    status: int
    segment_name: str | None = None
    db_name: str | None = None
    request_id: str | None = None
    values_found: int | None = None
    values_processed: int | None = None
    user_count: int | None = None
    error_message: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=FrozenMap, converter=freeze_map)

    @property
    def succeeded(self) -> bool:
        """True when processing succeeded (status 2xx).

        Example::

            assert FileSegmentCallback(status=201, user_count=3).succeeded
        """
        return 200 <= self.status < 300

    @classmethod
    def from_json(cls, payload: str | bytes | Mapping[str, Any]) -> FileSegmentCallback:
        """Parse a callback body (raw JSON text/bytes or an already decoded mapping).

        Example::

            FileSegmentCallback.from_json('{"segment_name": "s", "status": 201, "user_count": 3}')
        """
        data: Any = payload
        if isinstance(payload, (str, bytes, bytearray)):
            try:
                data = json.loads(payload)
            except ValueError as exc:
                raise ValidationError("callback", f"not valid JSON: {exc}") from None
        if not isinstance(data, Mapping) or "status" not in data:
            raise ValidationError("callback", "expected a JSON object with a 'status' key")
        try:
            return structure(dict(data), cls)
        except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
            raise ValidationError("callback", f"ill-typed field ({_first_problem(exc)})") from None


def _first_problem(exc: BaseException) -> str:
    """A short description of what cattrs rejected, e.g. ``invalid value for type, expected int @ $.status``."""
    if isinstance(exc, cattrs.BaseValidationError):
        return cattrs.transform_error(exc)[0]
    return str(exc)
