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

__all__ = ["MAX_CALLBACK_DEPTH", "FileSegmentCallback"]


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

        The body comes from the network, so it is read strictly: ``status`` and the counts must be
        integers (``true`` or ``"201"`` is not a status), the names and texts strings or null, and JSON
        nested too deep for the parser is refused. Every refusal is a :class:`ValidationError`.

        Example::

            FileSegmentCallback.from_json('{"segment_name": "s", "status": 201, "user_count": 3}')
        """
        data: Any = payload
        if isinstance(payload, (str, bytes, bytearray)):
            try:
                data = json.loads(payload)
            except RecursionError:
                raise ValidationError("callback", "JSON nested too deeply") from None
            except ValueError as exc:
                raise ValidationError("callback", f"not valid JSON: {exc}") from None
        if not isinstance(data, Mapping) or "status" not in data:
            raise ValidationError("callback", "expected a JSON object with a 'status' key")
        if _deeper_than(data, MAX_CALLBACK_DEPTH):
            raise ValidationError("callback", f"JSON nested more than {MAX_CALLBACK_DEPTH} levels deep")
        for name, expected in _FIELD_TYPES.items():
            value = data.get(name)
            if (value is not None or name == "status") and not _is_exactly(value, expected):
                kind = "an integer" if expected is int else "a string"
                raise ValidationError(f"callback.{name}", f"must be {kind}, got {type(value).__name__}")
        try:
            return structure(dict(data), cls)
        except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
            raise ValidationError("callback", f"ill-typed field ({_first_problem(exc)})") from None


#: How deeply a callback body may nest. The documented one is flat; the bound keeps a hostile body from
#: exhausting the stack of whatever walks it later (freezing, repr, logging).
MAX_CALLBACK_DEPTH = 32


def _deeper_than(value: Any, limit: int) -> bool:
    """True when ``value`` nests lists/objects more than ``limit`` levels (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, Mapping) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (Mapping, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


#: The type each known field must have on the wire (``None`` allowed except for ``status``). cattrs alone
#: would turn ``true`` into 1 and ``"201"`` into 201.
_FIELD_TYPES: dict[str, type] = {
    "status": int,
    "values_found": int,
    "values_processed": int,
    "user_count": int,
    "segment_name": str,
    "db_name": str,
    "request_id": str,
    "error_message": str,
}


def _is_exactly(value: Any, expected: type) -> bool:
    # bool is a subclass of int, and true is not a count.
    return isinstance(value, expected) and not isinstance(value, bool)


def _first_problem(exc: BaseException) -> str:
    """A short description of what cattrs rejected, e.g. ``invalid value for type, expected int @ $.status``."""
    if isinstance(exc, cattrs.BaseValidationError):
        return cattrs.transform_error(exc)[0]
    return str(exc)
