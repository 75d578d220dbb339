"""Handlers of the v2 file-segment family: create, add-users, remove-users, replace.

Every handler answers 202 at once (zero users on create) and leaves the work to a file job.

Example::

    POST /v2/custom-segments/file-segment
    {"name": "promo", "attribute_name": "ID", "attribute_type": "string",
     "file_url": "http://127.0.0.1:9000/uids.csv", "expiry_time": 30}
    -> 202 {"message": "File-segment creation request accepted", "success": true, "cs_name": "promo", "cs_id": "..."}
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from aiohttp import web

from moengage_segments.testing import _errors as E
from moengage_segments.testing._core import BODY_KEY, Core
from moengage_segments.testing._errors import Reject, json_response, v2_error
from moengage_segments.testing._file_jobs import FileOp, start_file_job, users_uploaded_today
from moengage_segments.testing._state import SegmentKind, Workspace, _Segment

__all__ = ["add_users", "create_file_segment", "remove_users", "replace_users", "v2_body", "v2_target"]

_ACCEPTED = {
    "create": "File-segment creation request accepted",
    "add": "File-segment user-add request accepted",
    "remove": "File-segment user-remove request accepted",
    "replace": "File-segment user-replace request accepted",
}


def _invalid(description: str) -> Reject:
    return Reject(v2_error(400, "Invalid request", description), description)


def _missing(field: str) -> Reject:
    # The vendor's example text for a missing field.
    return _invalid(f"{field} - Field is required but value is None : None")


def v2_body(request: web.Request) -> dict[str, Any]:
    """The JSON object body of a v2 request, or a 400 in the v2 envelope.

    Example::

        body = v2_body(request)
    """
    try:
        body = json.loads(request[BODY_KEY] or b"null")
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep to parse
        raise _invalid("Request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise _invalid("Request body must be a JSON object")
    return body


def _text(body: dict[str, Any], field: str, *, required: bool = True) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise _missing(field)
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{field} - Not a valid string : {value}")
    return value


def _url(body: dict[str, Any], field: str, schemes: tuple[str, ...], *, required: bool) -> str | None:
    value = _text(body, field, required=required)
    if value is not None:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in schemes or (parts.scheme != "file" and not parts.netloc):
            raise _invalid(f"{field} - Not a valid URL : {value}")
    return value


def _fields(body: dict[str, Any], *, create: bool, strict: bool) -> dict[str, Any]:
    # The schema requires `name`; like archive/unarchive, `cs_id` alone is enough unless strict.
    fields: dict[str, Any] = {
        "name": _text(body, "name", required=create or strict or body.get("cs_id") is None),
        "cs_id": None if create else _text(body, "cs_id", required=False),
        "attribute_name": _text(body, "attribute_name"),
    }
    attribute_type = body.get("attribute_type")
    if attribute_type is None:
        raise _missing("attribute_type")
    if attribute_type not in ("string", "double"):
        raise _invalid(f"attribute_type - Must be one of: string, double : {attribute_type}")
    fields["attribute_type"] = attribute_type
    fields["file_url"] = _url(body, "file_url", ("http", "https", "file"), required=True)
    fields["callback_url"] = _url(body, "callback_url", ("http", "https"), required=False)
    emails = body.get("emails")
    if emails is not None and (
        not isinstance(emails, list) or not all(isinstance(e, str) and "@" in e for e in emails)
    ):
        raise _invalid(f"emails - Not a valid list of email addresses : {emails}")
    if create:
        expiry = body.get("expiry_time")
        if expiry is None:
            raise _missing("expiry_time")
        if not isinstance(expiry, int) or isinstance(expiry, bool) or expiry <= 0:
            raise _invalid(f"expiry_time - Not a valid positive integer : {expiry}")
        fields["expiry_time"] = expiry
    return fields


def v2_target(ws: Workspace, name: str | None, cs_id: str | None, kinds: tuple[SegmentKind, ...]) -> _Segment:
    """The segment named by ``cs_id`` (which wins) or ``name``, or a v2 404.

    By name, only segments of ``kinds`` are candidates, and an active one wins over an archived one
    (see :meth:`Workspace.by_name`).

    Example::

        segment = v2_target(ws, "promo", None, ("file",))
    """
    segment = ws.segments.get(cs_id) if cs_id else ws.by_name(name, kinds) if name else None
    if segment is None or segment.kind not in kinds:
        shown = cs_id or name
        message = f"Custom segment not found for the given name or cs_id: {shown}"
        raise Reject(v2_error(404, "Entity Not Found", message), message)
    return segment


def _check_user_quota(core: Core) -> None:
    if users_uploaded_today(core) >= core.config.max_file_users_per_day:
        raise Reject(v2_error(429, "Too Many Requests", E.FILE_OPS_LIMIT), "2M users/day quota used up")


def _accepted(op: FileOp, segment: _Segment) -> web.Response:
    return json_response(202, {"message": _ACCEPTED[op], "success": True, "cs_name": segment.name, "cs_id": segment.id})


async def create_file_segment(core: Core, request: web.Request, ws: Workspace) -> web.Response:
    """``POST /v2/custom-segments/file-segment``.

    Example::

        await create_file_segment(core, request, ws)  # 202, job scheduled
    """
    fields = _fields(v2_body(request), create=True, strict=core.config.strict)
    name = str(fields["name"])
    if ws.name_taken(name):
        raise Reject(v2_error(409, "Resource not created", f"Name already exists: {name}"), "duplicate name")
    if ws.active_count() >= core.config.max_active_segments:
        # Undocumented for v2; the v3 wording in the v2 envelope.
        raise Reject(v2_error(429, "Too Many Requests", E.ACTIVE_LIMIT), "active segment cap")
    _check_user_quota(core)
    segment = ws.add_segment(
        _Segment(
            name=name,
            kind="file",
            attribute_name=fields["attribute_name"],
            expiry_days=fields["expiry_time"],
            description=f"Users whose {fields['attribute_name']} is listed in an uploaded file",
        )
    )
    start_file_job(core, ws, segment, "create", fields)
    return _accepted("create", segment)


async def _update(core: Core, request: web.Request, ws: Workspace, op: FileOp) -> web.Response:
    fields = _fields(v2_body(request), create=False, strict=core.config.strict)
    segment = v2_target(ws, fields["name"], fields["cs_id"], ("file",))
    _check_user_quota(core)
    start_file_job(core, ws, segment, op, fields)
    return _accepted(op, segment)


async def add_users(core: Core, request: web.Request, ws: Workspace) -> web.Response:
    """``PUT /v2/custom-segments/file-segment/add-users``.

    Example::

        await add_users(core, request, ws)
    """
    return await _update(core, request, ws, "add")


async def remove_users(core: Core, request: web.Request, ws: Workspace) -> web.Response:
    """``PUT /v2/custom-segments/file-segment/remove-users``.

    Example::

        await remove_users(core, request, ws)
    """
    return await _update(core, request, ws, "remove")


async def replace_users(core: Core, request: web.Request, ws: Workspace) -> web.Response:
    """``PUT /v2/custom-segments/file-segment/replace``.

    Example::

        await replace_users(core, request, ws)
    """
    return await _update(core, request, ws, "replace")
