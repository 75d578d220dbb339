"""Everything between an operation and the raw send: auth headers, pacing, retries, error mapping, logging.

The raw send itself is the seam in :mod:`moengage_segments._async.http` (aiohttp by default, any
:class:`HTTPTransport` when given). Resources are lazy and loop-bound: the aiohttp session is created by
the first request, inside the running loop, and the client refuses to be used from another loop, after
``fork()`` or after close.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
import attrs

from moengage_segments._async.endpoints import Endpoint
from moengage_segments._async.http import AiohttpTransport, HTTPRequest, HTTPTransport
from moengage_segments._async.quota.base import QuotaStore
from moengage_segments._async.quota.memory import PROCESS_QUOTA, InProcessQuotaStore
from moengage_segments._async.ratelimit import RateLimiter, SlotTooFar
from moengage_segments._async.retry import Retrier, hinted_wait
from moengage_segments._frozen import freeze_map
from moengage_segments._log import logger
from moengage_segments.config import ENV_DB_NAME, NoPickle, RateLimits, RetryPolicy, Settings
from moengage_segments.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ClientStateError,
    ConfigurationError,
    RateLimitError,
    error_for_status,
)
from moengage_segments.telemetry import Probe, Telemetry

__all__ = ["Response", "Transport", "dump_json", "logger", "parse_error", "quota_scope", "redact_headers"]


_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def dump_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, the form every request body is sent in."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` that is safe to log: credentials replaced by ``***``."""
    return {k: ("***" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


@attrs.frozen
class Response:
    """A successful HTTP response, decoded."""

    status: int
    #: Case-insensitive (aiohttp's ``CIMultiDictProxy`` copy): ``headers.get("x-request-id")`` finds any spelling.
    headers: Mapping[str, str]
    data: Any
    attempts: int

    @property
    def request_id(self) -> str | None:
        """The service's id for this response: ``request_id``/``response_id`` in the body, else a header."""
        data = self.data
        if isinstance(data, Mapping):
            value = data.get("request_id") or data.get("response_id")
            if value:
                return str(value)
        for name in ("X-Request-Id", "Request-Id"):  # the headers are case-insensitive
            if name in self.headers:
                return self.headers[name]
        return None


def _decode(raw: bytes) -> Any:
    """The JSON value of a body, or None when it is empty or not JSON (a gateway's HTML page, say)."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def parse_error(status: int, body: bytes, data: Any, content_type: str, endpoint: Endpoint) -> APIStatusError:
    """Map an error response (raw ``body``, decoded ``data``) onto the exception hierarchy.

    Any of the three envelopes is read. Bodies that are not JSON still give the right class, with a short
    description instead of the body itself.
    """
    code = message = attribute = request_id = None
    details: dict[str, Any] = {}
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, Mapping):  # v3 and cohort envelopes
            code = error.get("code") or error.get("type")
            message = error.get("message")
            attribute = error.get("attribute")
            request_id = error.get("request_id") or data.get("response_id")
            details = {
                k: v for k, v in error.items() if k not in ("code", "type", "message", "attribute", "request_id")
            }
        else:  # v2 envelope, or a gateway's {"message": ...} / {"error": "..."}
            code = data.get("title")
            message = data.get("description") or data.get("message")
            if message is None and isinstance(error, str):
                message = error
            request_id = data.get("response_id") or data.get("request_id")
    elif body:
        kind = content_type.split(";")[0].strip() or "unknown content type"
        message = f"non-JSON error body ({kind}, {len(body)} bytes)"
    cls = error_for_status(status)
    path = endpoint.path
    error_obj = cls(
        status,
        code=_text(code),
        message=_text(message),
        attribute=_text(attribute),
        request_id=_text(request_id),
        details=details,
        method=endpoint.method,
        path=path,
    )
    return error_obj


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class Transport(NoPickle):
    """Sends requests for one client. Shared by every namespace and by the cohort engine."""

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float,
        retry: RetryPolicy,
        rate_limits: RateLimits | None,
        max_connections: int,
        sender: HTTPTransport | None = None,
        quota: QuotaStore | None = None,
        telemetry: Telemetry | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.retry = retry
        self.max_connections = max_connections
        if quota is None:
            # The process-wide store runs on the real monotonic clock; a client on another clock (tests)
            # cannot share its timestamps.
            quota = PROCESS_QUOTA if clock is time.monotonic else InProcessQuotaStore(clock=clock)
        self.limiter = RateLimiter(rate_limits, clock=clock, sleep=sleep, store=quota, scope=quota_scope(settings))
        self._clock = clock
        self._sleep = sleep
        #: Names this client in the service's (and the emulator's) request logs; no secret in it.
        self.client_id = uuid.uuid4().hex[:8]
        self.user_agent = _user_agent(self.client_id)
        token = base64.b64encode(f"{settings.workspace_id}:{settings.api_key}".encode()).decode("ascii")
        self.__authorization = f"Basic {token}"
        # The raw send (the seam). Only a transport the client made is closed by it; a given one is the caller's.
        self._owns_sender = sender is None
        self.sender: HTTPTransport = AiohttpTransport(max_connections=max_connections) if sender is None else sender
        self.telemetry = telemetry if telemetry is not None else Telemetry()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = os.getpid()
        self._closed = False

    def __repr__(self) -> str:
        return f"<Transport {self.settings.base_url} workspace={self.settings.workspace_id}>"

    def headers_for(self, endpoint: Endpoint) -> dict[str, str]:
        """The headers an endpoint needs: Basic auth plus MOE-DBNAME (v2) or MOE-APPKEY (v3, cohort)."""
        headers = {
            "Authorization": self.__authorization,
            "Accept": "application/json",
            "User-Agent": self.user_agent,
        }
        if endpoint.method != "GET":
            headers["Content-Type"] = "application/json"
        if endpoint.envelope == "v2":
            headers["MOE-DBNAME"] = self.require_db_name()
        else:
            headers["MOE-APPKEY"] = self.settings.workspace_id
        return headers

    def require_db_name(self) -> str:
        """The configured ``db_name``; :class:`ConfigurationError` when there is none.

        Both revisions of the vendor's spec mark ``MOE-DBNAME`` required on every v2 operation (file
        segments, archive, unarchive), so such a call without it fails here, before anything is sent.
        """
        db_name = self.settings.db_name
        if not db_name:
            raise ConfigurationError(
                f"missing MoEngage configuration: db_name (argument or {ENV_DB_NAME}); the file-segment and "
                "archive/unarchive calls (v2) require the MOE-DBNAME header. Nothing was sent"
            )
        return db_name

    def _adopt_in_child(self) -> None:
        """Make a transport created, but never used, before ``fork()`` this (child) process's own.

        Nothing of it is bound to the parent yet (no loop, no connection), so the child gets a fresh
        HTTP sender and goes on: the module-level client of a pre-forking server (gunicorn) just works.
        """
        self._pid = os.getpid()
        if self._owns_sender:
            self.sender = AiohttpTransport(max_connections=self.max_connections)

    def _check_usable(self) -> asyncio.AbstractEventLoop:
        if self._closed:
            raise ClientStateError("this client is closed; create a new one")
        if os.getpid() != self._pid:
            if self._loop is not None:  # used in the parent: its connections belong to the parent's loop
                raise ClientStateError("this client was used before fork(); create a new one in the child process")
            self._adopt_in_child()
        loop = asyncio.get_running_loop()
        if self._loop is not None and loop is not self._loop:
            raise ClientStateError(
                "this client is bound to another event loop (it was first used there); create one client per loop"
            )
        return loop

    async def aclose(self) -> None:
        """Close the session. Idempotent; safe to call from the loop the client was used on."""
        self._closed = True
        if self._owns_sender and isinstance(self.sender, AiohttpTransport):
            await self.sender.aclose()

    async def request(
        self,
        endpoint: Endpoint,
        *,
        path: str | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        on_wire: Callable[[int], object] | None = None,
    ) -> Response:
        """Send one operation with pacing and retries; return the decoded success response.

        ``body`` (pre-encoded bytes) wins over ``json_body``. Raises an :class:`APIError` subclass
        carrying ``attempts`` when the call finally fails. ``on_wire`` is called with ``+1`` when an
        attempt goes on the wire (after its rate-limit slot) and ``-1`` when it comes back, so a caller can
        tell requests in flight from requests waiting for a slot or a retry.
        """
        headers = self.headers_for(endpoint)  # first: a missing db_name fails before anything else
        self._loop = self._check_usable()
        probe = self.telemetry.probe(
            endpoint.name,
            endpoint.method,
            endpoint.path,
            endpoint.limit_family,
            path.rsplit("/", 1)[-1] if path is not None and "{segment_id}" in endpoint.path else None,
        )
        if probe is None:  # nothing listens: no extra work
            return await self._request(endpoint, headers, path, json_body, body, params, retry, on_wire, None)
        try:
            response = await self._request(endpoint, headers, path, json_body, body, params, retry, on_wire, probe)
        except BaseException as exc:
            probe.finish(type(exc))
            raise
        probe.finish()
        return response

    async def _request(
        self,
        endpoint: Endpoint,
        headers: dict[str, str],
        path: str | None,
        json_body: Any,
        body: bytes | None,
        params: Mapping[str, str] | None,
        retry: RetryPolicy | None,
        on_wire: Callable[[int], object] | None,
        probe: Probe | None,
    ) -> Response:
        url = self.settings.base_url + (path or endpoint.path)
        if params:
            # Percent-encode the query ourselves (space -> %20, as the API documents `?name=my%20segment`);
            # aiohttp/yarl would send '+', which only form decoders read as a space.
            url = f"{url}?{urlencode(params, quote_via=quote, safe='')}"
        data = body if body is not None else (dump_json(json_body) if json_body is not None else None)
        frozen = freeze_map(headers)  # once: every attempt's HTTPRequest shares it
        retrier = Retrier(
            retry or self.retry,
            idempotent=endpoint.idempotent,
            started=self._clock(),
            retry_unhinted_429=endpoint.retry_unhinted_429,
        )
        attempt = 0
        while True:
            attempt += 1
            await self._acquire_slot(endpoint, retrier, attempt, probe)
            if self._closed:  # closed while this call waited for a slot or a retry
                raise ClientStateError("this client was closed while the request was waiting; create a new one")
            started = self._clock()
            sent = True
            if probe is not None:
                probe.attempt(attempt, len(data) if data is not None else 0)
            if on_wire is not None:
                on_wire(1)
            timeout = self._attempt_timeout(retrier)
            try:
                response = await self._send(endpoint, url, frozen, data, attempt, timeout)
                error: APIError | None = None
                if isinstance(response, APIStatusError):
                    error = response
                else:
                    logger.debug(
                        "%s %s -> %d in %.3fs (attempt %d)",
                        endpoint.method,
                        endpoint.path,
                        response.status,
                        self._clock() - started,
                        attempt,
                    )
                    if probe is not None:
                        probe.response(response.status, None, response.request_id)
                    return response
            except (aiohttp.ClientConnectorError, ConnectionRefusedError) as exc:
                sent = False  # never reached the server: safe to re-send even a create
                error = APIConnectionError(f"{endpoint.method} {endpoint.path}: cannot connect ({exc.strerror or exc})")
            except (asyncio.TimeoutError, TimeoutError, aiohttp.ServerTimeoutError):
                error = APITimeoutError(f"{endpoint.method} {endpoint.path}: no response within {round(timeout, 3):g}s")
            except (aiohttp.ClientError, OSError) as exc:
                error = APIConnectionError(f"{endpoint.method} {endpoint.path}: {type(exc).__name__}: {exc}")
            except APIConnectionError as exc:  # a custom transport may raise the SDK's own error
                error = exc
            finally:
                if on_wire is not None:
                    on_wire(-1)
            error.attempts = attempt
            if probe is not None:
                status = error.status if isinstance(error, APIStatusError) else None
                probe.response(status, type(error).__name__, getattr(error, "request_id", None))
            decision = retrier.decide(error, attempt=attempt, sent=sent, now=self._clock())
            if not decision.retry:
                raise error
            if isinstance(error, RateLimitError):
                await self.limiter.pause(endpoint.limit_family, decision.delay)
            logger.debug(
                "retrying %s %s after %s in %.2fs (attempt %d of %d)",
                endpoint.method,
                endpoint.path,
                _describe(error),
                decision.delay,
                attempt,
                retrier.policy.max_attempts,
            )
            if probe is not None:
                probe.retry(attempt, decision.delay, _describe(error))
            await self._sleep(decision.delay)

    async def _acquire_slot(self, endpoint: Endpoint, retrier: Retrier, attempt: int, probe: Probe | None) -> None:
        """Wait for the client-side limiter, at most one rate window (``rate_limit_cap``) or the deadline.

        A slot further away than that (the 11th file operation in an hour, say) raises
        :class:`RateLimitError` at once, without sending, with ``retry_after`` set: the same error, and the
        same advice, as a 429 from the service whose hint is too long to wait out.
        """
        policy = retrier.policy
        limits = self.limiter.limits
        max_wait = policy.rate_limit_cap + (limits.margin if limits is not None else 0.0)
        left = None  # the deadline bounds the wait for this call's turn too (callers of other clients queue ahead)
        if policy.deadline is not None:
            left = max(policy.deadline - (self._clock() - retrier.started), 0.0)
            max_wait = min(max_wait, left)
        try:
            waited = await self.limiter.acquire(endpoint.limit_family, max_wait, turn_within=left)
        except SlotTooFar as far:
            error = RateLimitError(
                429,
                code="Client rate limit",
                message=(
                    f"the client-side limit for {endpoint.name} has no slot for {far.wait:.0f}s, longer than "
                    f"this call may wait ({max_wait:.0f}s); nothing was sent, retry later"
                ),
                details={"client_side": True},
                method=endpoint.method,
                path=endpoint.path,
            )
            error.retry_after = far.wait
            error.attempts = attempt - 1
            raise error from None
        if probe is not None and waited > 0:
            probe.limiter_wait(waited)

    def _attempt_timeout(self, retrier: Retrier) -> float:
        """``timeout``, or less when the call's deadline comes first: it bounds the attempt in flight too."""
        deadline = retrier.policy.deadline
        if deadline is None:
            return self.timeout
        return min(self.timeout, max(deadline - (self._clock() - retrier.started), 0.001))

    async def _send(
        self,
        endpoint: Endpoint,
        url: str,
        headers: Mapping[str, str],
        data: bytes | None,
        attempt: int,
        timeout: float,
    ) -> Response | APIStatusError:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s (attempt %d, %d bytes, headers %s)",
                endpoint.method,
                endpoint.path,
                attempt,
                len(data or b""),
                redact_headers(headers),
            )
        resp = await self.sender.send(HTTPRequest(endpoint.method, url, headers, data, timeout))
        raw = resp.content
        await self.limiter.observe(endpoint.limit_family, resp.headers)
        decoded = _decode(raw)
        if resp.status >= 400:
            error = parse_error(resp.status, raw, decoded, resp.headers.get("Content-Type", ""), endpoint)
            if isinstance(error, RateLimitError):
                error.retry_after = hinted_wait(resp.headers)
            logger.debug("%s (attempt %d)", error, attempt)  # the error text starts with "METHOD path ->"
            return error
        return Response(resp.status, resp.headers, decoded, attempt)


def _user_agent(client_id: str) -> str:
    from moengage_segments import __version__  # the package is fully imported before a client is built

    return f"moengage-segments/{__version__} python/{sys.version_info[0]}.{sys.version_info[1]} client/{client_id}"


_DEFAULT_PORTS = {"https": 443, "http": 80}


def quota_scope(settings: Settings) -> str:
    """The part of a quota key that names whose quota it is: the API host (with port) and the workspace.

    The host is lower-cased and the scheme's default port left out, so every spelling of one host shares.
    """
    parts = urlsplit(settings.base_url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return f"{host}/{settings.workspace_id}"


def _describe(error: APIError) -> str:
    if isinstance(error, APIStatusError):
        return f"HTTP {error.status}"
    return type(error).__name__
