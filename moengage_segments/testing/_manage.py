"""Handlers of the v2 manage family: archive and unarchive (any segment kind).

Assumptions (undocumented): archiving an archived segment, or unarchiving an active one, is a no-op that
answers 200 with a message saying so ("The custom segment is already archived"); cohort-sync segments
cannot be unarchived (400); unarchiving past the active-segment cap is refused with 429.

Example::

    PATCH /v2/custom-segments/archive {"name": "promo"}
    -> 200 {"message": "Successfully archived the custom segment", "success": true, "cs_name": "promo"}
"""

from __future__ import annotations

from aiohttp import web

from moengage_segments.testing import _errors as E
from moengage_segments.testing._core import Core
from moengage_segments.testing._errors import Reject, json_response, v2_error
from moengage_segments.testing._file_segments import v2_body, v2_target
from moengage_segments.testing._ids import utcnow
from moengage_segments.testing._state import Workspace

__all__ = ["archive", "unarchive"]


def _target_fields(core: Core, request: web.Request) -> tuple[str | None, str | None]:
    body = v2_body(request)
    id_field = "cs_id" if "cs_id" in body else "segment_id"  # the legacy id field name
    name, cs_id = body.get("name"), body.get(id_field)
    # The schema types cs_id as a string: a null is as wrong as a number (only an absent key means "none").
    id_given = id_field in body
    for field, value, present in (("name", name, False), (id_field, cs_id, id_given)):
        if (value is not None or present) and (not isinstance(value, str) or not value.strip()):
            message = f"{field} - Not a valid string : {value}"
            raise Reject(v2_error(400, "Invalid request", message), message)
    # The spec marks `name` required; only strict mode insists when `cs_id` is given.
    if name is None and (cs_id is None or core.config.strict):
        message = "name - Field is required but value is None : None"
        raise Reject(v2_error(400, "Invalid request", message), message)
    return name, cs_id


async def archive(core: Core, request: web.Request, ws: Workspace) -> web.Response:
    """``PATCH /v2/custom-segments/archive``.

    Example::

        await archive(core, request, ws)
    """
    name, cs_id = _target_fields(core, request)
    segment = v2_target(ws, name, cs_id, ("file", "filter", "cohort"))
    if segment.status != "active":
        return json_response(
            200, {"message": "The custom segment is already archived", "success": True, "cs_name": segment.name}
        )
    segment.status = "archived"
    segment.archived_at = utcnow()
    segment.touch()
    return json_response(
        200, {"message": "Successfully archived the custom segment", "success": True, "cs_name": segment.name}
    )


async def unarchive(core: Core, request: web.Request, ws: Workspace) -> web.Response:
    """``PATCH /v2/custom-segments/unarchive``.

    Example::

        await unarchive(core, request, ws)
    """
    name, cs_id = _target_fields(core, request)
    segment = v2_target(ws, name, cs_id, ("file", "filter", "cohort"))
    if segment.status == "archived":
        if segment.kind == "cohort":
            message = f"Cohort sync segments cannot be unarchived: {segment.name}"
            raise Reject(v2_error(400, "Invalid request", message), message)
        if ws.active_count() >= core.config.max_active_segments:
            raise Reject(v2_error(429, "Too Many Requests", E.ACTIVE_LIMIT), "active segment cap")
        segment.status = "active"
        segment.archived_at = None
        segment.touch()
    else:
        return json_response(
            200, {"message": "The custom segment is already active", "success": True, "cs_name": segment.name}
        )
    return json_response(
        200,
        {"message": "Successfully unarchived the custom segment", "success": True, "cs_name": segment.name},
    )
