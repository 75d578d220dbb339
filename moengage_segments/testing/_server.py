"""The aiohttp application: the route table and the one middleware that runs every request through
faults → authentication → rate limits → handler, and records it.

A body is read only for a known route and valid credentials, and never more than the endpoint's cap plus
one byte (:func:`body_cap`): an unauthenticated or oversized upload is not buffered.

Example::

    app = build_app(core)
    web.run_app(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs
from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute

from moengage_segments.testing import _cohort, _file_segments, _filter_segments, _manage
from moengage_segments.testing._auth import authenticate, basic_credentials, credentials_valid
from moengage_segments.testing._core import BODY_KEY, DETAIL_KEY, WORKSPACE_KEY, Core
from moengage_segments.testing._errors import (
    Family,
    Reject,
    account_suspended_error,
    family_error,
    v2_error,
    v3_error,
)
from moengage_segments.testing._faults import Fault
from moengage_segments.testing._inspect import RequestRecord
from moengage_segments.testing._limits import Decision
from moengage_segments.testing._state import Workspace

__all__ = ["ENDPOINTS", "Endpoint", "body_cap", "build_app"]

Handler = Callable[[Core, web.Request, Workspace], Awaitable[web.Response]]


@attrs.frozen
class Endpoint:
    """One operation of the API: its key, family, rate-limit bucket, route and handler.

    Example::

        ENDPOINTS["cohort_sync"].family  # 'cohort'
    """

    key: str
    family: Family
    bucket: str
    method: str
    paths: tuple[str, ...]
    handler: Handler


_V3 = ("/v3/custom-segments", "/v3/custom-segments/")
_V3_ID = ("/v3/custom-segments/{segment_id}",)
_FS = "/v2/custom-segments/file-segment"

ENDPOINTS: dict[str, Endpoint] = {
    e.key: e
    for e in (
        Endpoint("create_file_segment", "file", "file_segment_ops", "POST", (_FS,), _file_segments.create_file_segment),
        Endpoint("add_users", "file", "file_segment_ops", "PUT", (f"{_FS}/add-users",), _file_segments.add_users),
        Endpoint(
            "remove_users", "file", "file_segment_ops", "PUT", (f"{_FS}/remove-users",), _file_segments.remove_users
        ),
        Endpoint("replace_users", "file", "file_segment_ops", "PUT", (f"{_FS}/replace",), _file_segments.replace_users),
        Endpoint("archive", "manage", "archive", "PATCH", ("/v2/custom-segments/archive",), _manage.archive),
        Endpoint("unarchive", "manage", "unarchive", "PATCH", ("/v2/custom-segments/unarchive",), _manage.unarchive),
        Endpoint("list_segments", "filter", "list_segments", "GET", _V3, _filter_segments.list_segments),
        Endpoint(
            "create_filter_segment",
            "filter",
            "create_filter_segment",
            "POST",
            _V3,
            _filter_segments.create_filter_segment,
        ),
        Endpoint("get_segment", "filter", "get_segment", "GET", _V3_ID, _filter_segments.get_segment),
        Endpoint(
            "update_filter_segment",
            "filter",
            "update_filter_segment",
            "PATCH",
            _V3_ID,
            _filter_segments.update_filter_segment,
        ),
        Endpoint("cohort_sync", "cohort", "cohort_sync", "POST", ("/v1/integrations/cohortsync",), _cohort.cohort_sync),
    )
}


def body_cap(core: Core, endpoint: Endpoint) -> int:
    """The most body bytes ``endpoint`` accepts: the documented 128 KB for cohort sync, else
    ``max_request_body_bytes`` (no documented cap; far above any valid request).

    Example::

        body_cap(core, ENDPOINTS["cohort_sync"])  # 128000
    """
    if endpoint.family == "cohort":
        return core.config.max_cohort_body_bytes
    return core.config.max_request_body_bytes


async def _read_capped(request: web.Request, cap: int) -> bytes:
    """At most ``cap + 1`` bytes of the body: enough to tell "too large" without buffering the rest."""
    chunks: list[bytes] = []
    size = 0
    while size <= cap:
        chunk = await request.content.read(cap + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


#: Unread body bytes thrown away before answering, so the connection stays usable. A longer upload is left
#: to aiohttp (it discards for a few seconds, then closes the connection). Nothing is ever kept.
_DISCARD_LIMIT = 16 * 1024 * 1024


async def _discard_rest(request: web.Request) -> None:
    """Read and drop what is left of the body (bounded), without buffering it."""
    content = request.content
    left = _DISCARD_LIMIT
    if request.content_length is not None and request.content_length > _DISCARD_LIMIT:
        return
    while left > 0 and not content.at_eof():
        chunk = await content.readany()
        if not chunk:
            break
        left -= len(chunk)


def _too_large(endpoint: Endpoint, cap: int) -> Reject:
    message = f"Request body exceeds {cap} bytes"
    if endpoint.family == "filter":
        return Reject(v3_error(413, "Payload Too Large", message), message)
    return Reject(v2_error(413, "Payload Too Large", message), message)


_HTML = (
    "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1>"
    "</center><hr><center>emulated gateway</center></body></html>"
)


def _rate_limited(endpoint: Endpoint, decision: Decision) -> web.Response:
    if endpoint.family == "filter" and decision.window is not None:
        minutes = f"{decision.window.period / 60:g}"
        message = f"API rate limit breached. Current limit: {decision.limit}/{minutes} mins"
        return v3_error(429, "Too Many Requests", message)
    if endpoint.family == "manage":
        return v2_error(429, "Too Many Requests", "API rate limit breached. Please retry after some time.")
    return family_error(endpoint.family, 429)


class _ResetConnection(Exception):
    pass


async def _apply_fault(request: web.Request, endpoint: Endpoint, fault: Fault) -> web.Response | None:
    """The response a fault replaces the real one with; None lets the request through (delay)."""
    if fault.kind == "delay":
        await asyncio.sleep(fault.delay)
        return None
    if fault.kind == "reset":
        raise _ResetConnection
    if fault.html:
        text = _HTML.format(status=fault.status, reason=_reason(fault.status))
        response = web.Response(status=fault.status, text=text, content_type="text/html")
    elif fault.suspension is not None:
        response = account_suspended_error(endpoint.family, fault.suspension)
    else:
        response = family_error(endpoint.family, fault.status)
    if fault.retry_after is not None:
        response.headers["Retry-After"] = f"{fault.retry_after:g}"
    return response


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _process(core: Core, request: web.Request, endpoint: Endpoint) -> web.Response:
    try:
        ws = authenticate(core, request, endpoint.family)
        request[WORKSPACE_KEY] = ws.workspace_id
        key = (ws.workspace_id, endpoint.bucket)
        decision = core.limits.check(key)
        if not decision.allowed:
            response = _rate_limited(endpoint, decision)
        else:
            try:
                cap = body_cap(core, endpoint)
                # The cohort handler answers its own documented 413 (after its 415 check).
                if endpoint.family != "cohort" and len(request[BODY_KEY]) > cap:
                    raise _too_large(endpoint, cap)
                response = await endpoint.handler(core, request, ws)
            except Reject as exc:
                request[DETAIL_KEY] = exc.detail
                response = exc.response
            if response.status == 429:
                # A handler's own 429 (active-segment cap, daily user quota) is not a request-rate
                # refusal: it does not count towards the window, and that window's headers would mislead.
                core.limits.refund(key, decision)
                return response
        response.headers.update(decision.headers())
        return response
    except Reject as exc:
        request[DETAIL_KEY] = exc.detail
        return exc.response


def build_app(core: Core) -> web.Application:
    """The aiohttp application serving every endpoint of :data:`ENDPOINTS` on ``core``.

    Example::

        runner = web.AppRunner(build_app(core))
    """

    routes: dict[AbstractRoute, Endpoint] = {}

    @web.middleware
    async def pipeline(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started, wall = time.perf_counter(), time.time()
        endpoint = routes.get(request.match_info.route)
        body = b""
        if endpoint is not None and credentials_valid(core, request):
            # Unknown routes and unauthenticated requests get their error without the body being read.
            body = await _read_capped(request, body_cap(core, endpoint))
        request[BODY_KEY] = body
        counters = core.counters
        counters.requests += 1
        counters.bytes_received += len(body)
        counters.peak_connections = max(counters.peak_connections, core.open_connections())
        status, fault_name = 0, None
        try:
            if endpoint is None:
                response: web.StreamResponse = await handler(request)
            else:
                counters.requests_by_endpoint[endpoint.key] += 1
                fault = core.faults.next_for(endpoint.family, endpoint.key)
                early = None
                if fault is not None:
                    fault_name = f"{fault.kind}:{fault.status}" if fault.kind == "status" else fault.kind
                    counters.faults_injected += 1
                    if not fault.after:
                        early = await _apply_fault(request, endpoint, fault)
                response = early if early is not None else await _process(core, request, endpoint)
                if fault is not None and fault.after:
                    # Compared with None: an aiohttp (<3.9.2) response with no custom keys is falsy.
                    replaced = await _apply_fault(request, endpoint, fault)
                    response = replaced if replaced is not None else response
            status = response.status
            await _discard_rest(request)
            return response
        except web.HTTPException as exc:
            status = exc.status
            await _discard_rest(request)
            raise
        except _ResetConnection:
            # Close the socket without a response: the client sees a disconnect.
            if request.transport is not None:
                request.transport.abort() if hasattr(request.transport, "abort") else request.transport.close()
            raise asyncio.CancelledError from None
        finally:
            counters.statuses[status] += 1
            if status == 429:
                counters.rate_limited += 1
            core.requests.append(
                RequestRecord(
                    method=request.method,
                    path=request.path,
                    endpoint=endpoint.key if endpoint else None,
                    status=status,
                    body_size=len(body),
                    time=wall,
                    duration=time.perf_counter() - started,
                    workspace_id=request.get(WORKSPACE_KEY) or _user(request),
                    fault=fault_name,
                    detail=request.get(DETAIL_KEY),
                    client=request.headers.get("User-Agent"),
                    peer=_peer(request),
                )
            )

    # Bodies are read by the middleware through _read_capped (per-endpoint caps, 413 in the right envelope),
    # never by request.read(); client_max_size only guards a handler that would call it.
    app = web.Application(middlewares=[pipeline], client_max_size=1024 * 1024)
    for endpoint in ENDPOINTS.values():
        for path in endpoint.paths:
            routes[app.router.add_route(endpoint.method, path, _unreachable)] = endpoint
    app.router.add_get("/_emulator/files/{name}", _hosted_file(core))
    return app


def _hosted_file(core: Core) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    # Not part of the API: lets tests give file segments an http:// file_url without another server.
    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        data = core.hosted_files.get(name)
        if data is not None:
            return web.Response(body=data, content_type="text/csv")
        path = folder_file(core.files_dir, name)
        if path is None:
            raise web.HTTPNotFound
        return web.FileResponse(path, headers={"Content-Type": "text/csv"})

    return serve


def folder_file(folder: Path | None, name: str) -> Path | None:
    """The regular file ``name`` directly inside ``folder``, or None (no sub-folders, no way out of it).

    Example::

        folder_file(Path("csv"), "vip.csv")  # Path("csv/vip.csv") if it exists
    """
    if folder is None or not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        return None
    path = (folder / name).resolve()
    if path.parent != folder.resolve() or not path.is_file():
        return None  # a symlink out of the folder is refused too
    return path


async def _unreachable(request: web.Request) -> web.Response:  # pragma: no cover - middleware answers
    raise web.HTTPInternalServerError


def _peer(request: web.Request) -> str | None:
    peername = request.transport.get_extra_info("peername") if request.transport is not None else None
    if not peername:
        return None
    return f"{peername[0]}:{peername[1]}"


def _user(request: web.Request) -> str | None:
    credentials = basic_credentials(request)
    return credentials[0] if credentials else None
