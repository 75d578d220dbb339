"""Handlers of the v3 family: list, create, get and update segments.

The emulator-specific rules live here: referenced segments must exist, nesting levels and referenced
segment counts have configurable caps (413), cycles are refused (412), and both the name and the
canonical definition must be unique (409, the latter with ``existing_cs_name``/``existing_cs_id``).

Example::

    POST /v3/custom-segments {"name": "vip", "included_filters": {...}}
    -> 201 {"data": {...}, "response_id": "cNjnTEJw", "type": "custom_segment"}
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from moengage_segments.testing import _errors as E
from moengage_segments.testing import _filters as F
from moengage_segments.testing._core import BODY_KEY, Core
from moengage_segments.testing._errors import Reject, json_response, v3_error
from moengage_segments.testing._ids import new_response_id
from moengage_segments.testing._state import Workspace, _Segment

__all__ = ["create_filter_segment", "get_segment", "list_segments", "update_filter_segment"]

_OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")


def _ok(status: int, data: Any) -> web.Response:
    return json_response(status, {"data": data, "response_id": new_response_id(), "type": "custom_segment"})


def _format_error(detail: str) -> Reject:
    return Reject(v3_error(400, "Invalid request", E.V3_INVALID_FORMAT), detail)


def _filters_error(detail: str) -> Reject:
    return Reject(v3_error(400, "Invalid Request", E.V3_INVALID_FILTERS), detail)


def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(request[BODY_KEY] or b"null")
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep to parse
        raise _format_error("body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise _format_error("body must be a JSON object")
    return body


def _check_name(value: Any) -> str:
    if not isinstance(value, str):
        raise _format_error("name must be a string")
    if not value.strip() or re.search(r"[<>]", value):
        raise _filters_error("name is blank or contains HTML characters")
    return value


def _segment_or_404(ws: Workspace, segment_id: str) -> _Segment:
    if not _OBJECT_ID.fullmatch(segment_id):
        raise Reject(v3_error(400, "Invalid request", E.V3_INVALID_BSON), "malformed id")
    segment = ws.segments.get(segment_id)
    if segment is None:
        message = f"Custom segment not found with the given id: {segment_id}"
        raise Reject(v3_error(404, "Entity Not Found", message), message)
    return segment


def _level_of(ws: Workspace, seen: frozenset[str] = frozenset()) -> Any:
    def level(segment_id: str) -> int:
        segment = ws.segments.get(segment_id)
        if segment is None or segment.included_filters is None or segment_id in seen:
            return 0
        inner = _level_of(ws, seen | {segment_id})
        return max(F.nesting_level(segment.included_filters, inner), F.nesting_level(segment.excluded_filters, inner))

    return level


def _reaches(ws: Workspace, start: frozenset[str], target: str) -> bool:
    stack, seen = list(start), set()
    while stack:
        current = stack.pop()
        if current == target:
            return True
        if current in seen:
            continue
        seen.add(current)
        segment = ws.segments.get(current)
        if segment is not None:
            stack.extend(segment.references)
    return False


def _definition(
    core: Core, ws: Workspace, body: dict[str, Any], self_id: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None, frozenset[str]]:
    included = body.get("included_filters")
    excluded = body.get("excluded_filters")
    if included is None:
        raise _format_error("included_filters is required")
    limit = core.config.max_filter_nesting
    if max(F.own_nesting(included), F.own_nesting(excluded)) > limit:
        raise _too_nested(limit)
    try:
        _validate(included, "included_filters", core.config.strict)
        if excluded is not None:
            _validate(excluded, "excluded_filters", core.config.strict)
    except F.FilterError as exc:
        raise _filters_error(str(exc)) from exc
    refs = F.references(included, excluded)
    missing = sorted(r for r in refs if r not in ws.segments)
    if missing:
        raise _filters_error(f"referenced segment(s) not found: {', '.join(missing)}")
    if self_id is not None and (self_id in refs or _reaches(ws, refs, self_id)):
        raise Reject(v3_error(412, "Cyclic Entity", E.V3_CYCLE), "cycle")
    level_of = _level_of(ws, frozenset({self_id}) if self_id else frozenset())
    if max(F.nesting_level(included, level_of), F.nesting_level(excluded, level_of)) > limit:
        raise _too_nested(limit)
    cap = core.config.max_filter_segment_refs
    if len(refs) > cap:
        message = f"The query has more than {cap} custom segments. Please reduce the custom segments."
        raise Reject(v3_error(413, "Too many segments in a query", message), "too many references")
    if len(json.dumps([included, excluded])) > core.config.max_filter_query_bytes:
        message = "The query is too large to execute. Please reduce the filters."
        raise Reject(v3_error(413, "Query length limit exceeded", message), "query length")
    return included, excluded, refs


def _too_nested(limit: int) -> Reject:
    message = f"The query has more than {limit} levels of nesting. Please reduce the segment nesting."
    return Reject(v3_error(413, "Query has too many nesting levels", message), "nesting")


def _validate(group: Any, path: str, strict: bool) -> None:
    # One entry point for structural checks, so the SDK's own parser can take over (see _filters).
    F.validate_filters(group, path, strict=strict)


def _check_unique(ws: Workspace, name: str, canonical: str, self_id: str | None) -> None:
    if ws.name_taken(name, exclude=self_id):
        message = (
            f"Another custom-segment already exists with the same name: {name}. Please change the custom-segment name."
        )
        raise Reject(v3_error(409, "Resource not created", message), "duplicate name")
    for other in ws.segments.values():
        if other.id != self_id and other.status == "active" and other.canonical == canonical:
            message = (
                f"Another custom-segment already exists containing the given filters: {other.name}. "
                "Please reuse the same or update the filters"
            )
            raise Reject(
                v3_error(409, "Resource not created", message, existing_cs_name=other.name, existing_cs_id=other.id),
                "duplicate definition",
            )


def _describe(ws: Workspace, included: Any, excluded: Any) -> str:
    def name_of(segment_id: str) -> str | None:
        segment = ws.segments.get(segment_id)
        return segment.name if segment else None

    return F.describe(included, name_of, excluded=excluded)


async def list_segments(core: Core, request: web.Request, ws: Workspace) -> web.Response:
    """``GET /v3/custom-segments[?name=]``: every segment (all kinds, archived included), exact name match.

    With ``?name=``, active segments come first (a cohort name can repeat: the archived segments of the
    cohort and its current one), so a caller taking the first item gets the current segment.

    Example::

        await list_segments(core, request, ws)
    """
    name = request.query.get("name")
    if name is None:
        return _ok(200, [s.summary() for s in ws.segments.values()])
    matches = [s for s in ws.segments.values() if s.name == name]
    matches.sort(key=lambda s: s.status != "active")  # stable: oldest first within each status
    return _ok(200, [s.summary() for s in matches])


async def create_filter_segment(core: Core, request: web.Request, ws: Workspace) -> web.Response:
    """``POST /v3/custom-segments``.

    Example::

        await create_filter_segment(core, request, ws)  # 201
    """
    body = _body(request)
    if "name" not in body:
        raise _format_error("name is required")
    name = _check_name(body["name"])
    included, excluded, refs = _definition(core, ws, body, None)
    canonical = F.canonical(included, excluded)
    _check_unique(ws, name, canonical, None)
    active = ws.active_count()
    if active >= core.config.max_active_segments:
        raise Reject(
            v3_error(
                429, "Too Many Requests", E.ACTIVE_LIMIT, actual_count=active + 1, limit=core.config.max_active_segments
            ),
            "active segment cap",
        )
    segment = ws.add_segment(
        _Segment(
            name=name,
            kind="filter",
            included_filters=F.echo(included),
            excluded_filters=F.echo(excluded) if excluded is not None else None,
            canonical=canonical,
            references=refs,
            description=_describe(ws, included, excluded),
        )
    )
    return _ok(201, segment.detail())


async def get_segment(core: Core, request: web.Request, ws: Workspace) -> web.Response:
    """``GET /v3/custom-segments/{id}``: any segment kind.

    Example::

        await get_segment(core, request, ws)
    """
    return _ok(200, _segment_or_404(ws, request.match_info["segment_id"]).detail())


async def update_filter_segment(core: Core, request: web.Request, ws: Workspace) -> web.Response:
    """``PATCH /v3/custom-segments/{id}``: replaces the definition (an omitted ``excluded_filters`` clears it).

    Example::

        await update_filter_segment(core, request, ws)
    """
    segment = _segment_or_404(ws, request.match_info["segment_id"])
    if segment.kind != "filter" or segment.status != "active":
        raise Reject(v3_error(403, "Forbidden operation", E.V3_FORBIDDEN), "not an active filter segment")
    body = _body(request)
    name = _check_name(body["name"]) if body.get("name") is not None else segment.name
    updated_by = body.get("updated_by")
    if updated_by is not None and (not isinstance(updated_by, str) or "@" not in updated_by):
        raise _format_error("updated_by must be an e-mail address")
    included, excluded, refs = _definition(core, ws, body, segment.id)
    canonical = F.canonical(included, excluded)
    _check_unique(ws, name, canonical, segment.id)
    segment.name = name
    segment.included_filters = F.echo(included)
    segment.excluded_filters = F.echo(excluded) if excluded is not None else None
    segment.canonical = canonical
    segment.references = refs
    segment.description = _describe(ws, included, excluded)
    segment.touch()
    return _ok(200, segment.detail())
