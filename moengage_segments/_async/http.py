"""The raw-send seam: one request in, one response out, and the aiohttp transport that is its default.

Everything that makes a call an SDK call (auth headers, pacing, retries, mapping statuses onto
exceptions, logging) happens above this seam, in :mod:`moengage_segments._async.transport`. So a
transport passed as ``AsyncClient(transport=...)`` — :class:`moengage_segments.testing.MockTransport` in
tests, say — still gets the SDK's retries and errors.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import AsyncGenerator, Mapping
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import attrs
import yarl
from multidict import CIMultiDict, CIMultiDictProxy

from moengage_segments._frozen import freeze_map
from moengage_segments.errors import APIConnectionError

__all__ = ["MAX_RESPONSE_BYTES", "AiohttpTransport", "HTTPRequest", "HTTPResponse", "HTTPTransport"]

#: The largest response body read (64 MiB). The API's answers are kilobytes (a list of 1,000 segments is
#: well under 1 MB); the cap keeps a broken or hostile server from filling memory within the timeout.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024

_UNSET: Any = object()


@attrs.frozen
class HTTPRequest:
    """One HTTP request as the SDK hands it to a transport: ready to send, credentials included.

    ``url`` is absolute, its query already percent-encoded; ``content`` is the body (``None`` for a GET);
    ``timeout`` bounds this attempt in seconds. Keep requests out of logs: the headers carry the
    ``Authorization`` header.

    Example::

        def handler(request: HTTPRequest) -> HTTPResponse:
            assert request.method == "GET" and request.path == "/v3/custom-segments"
            return HTTPResponse(200, json={"data": []})
    """

    method: str
    url: str
    #: Read-only (so that the request stays hashable, and one attempt cannot change the next one's headers).
    headers: Mapping[str, str] = attrs.field(repr=False, converter=freeze_map)
    content: bytes | None = attrs.field(default=None, repr=False)
    timeout: float = 30.0

    @property
    def path(self) -> str:
        """The URL's path, without the query.

        Example::

            if request.path.endswith("/file-segment"): ...
        """
        return urlsplit(self.url).path

    @property
    def params(self) -> dict[str, str]:
        """The query parameters, decoded.

        Example::

            name = request.params.get("name")  # GET /v3/custom-segments?name=vip -> "vip"
        """
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    def json(self) -> Any:
        """The body decoded as JSON (``None`` when there is no body).

        Example::

            body = request.json()
            members = body["parameters"]["members"]
        """
        return None if self.content is None else jsonlib.loads(self.content)


class HTTPResponse:
    """One HTTP response as a transport returns it, for any status (errors are mapped above the seam).

    Give the body as ``content`` (bytes) or ``json`` (encoded for you, with a JSON content type).
    ``headers`` are case-insensitive.

    Example::

        HTTPResponse(429, headers={"Retry-After": "2"}, json={"error": {"code": "Too Many Requests"}})
    """

    __slots__ = ("content", "headers", "status")

    def __init__(
        self,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes = b"",
        json: Any = _UNSET,
    ) -> None:
        merged: CIMultiDict[str] = CIMultiDict(headers or {})
        if json is not _UNSET:
            content = jsonlib.dumps(json, separators=(",", ":")).encode("utf-8")
            merged.setdefault("Content-Type", "application/json")
        self.status = status
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(merged)
        self.content = content

    def __repr__(self) -> str:
        return f"<HTTPResponse {self.status}, {len(self.content)} bytes>"


@runtime_checkable
class HTTPTransport(Protocol):
    """What ``AsyncClient(transport=...)`` accepts: an object with one async ``send`` method.

    ``send`` returns the response for any status. When no response arrives it raises ``TimeoutError``
    (nothing within ``request.timeout``), ``ConnectionRefusedError`` (the request never reached the
    service, so even a create may be re-sent) or another ``OSError``/``APIConnectionError`` (it may have
    arrived). aiohttp's own exceptions are understood too. Retries happen above the transport: ``send`` is
    called once per attempt.

    Example::

        class Recording:
            def __init__(self, inner: HTTPTransport) -> None:
                self.inner, self.seen = inner, []

            async def send(self, request: HTTPRequest) -> HTTPResponse:
                self.seen.append((request.method, request.path))
                return await self.inner.send(request)
    """

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send ``request`` once and return the response, whatever its status.

        Example::

            response = await transport.send(request)
        """
        ...


class AiohttpTransport:
    """The default transport: one pooled aiohttp session, created lazily on the loop of the first request."""

    def __init__(self, *, max_connections: int = 64, max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self.max_connections = max_connections
        self.max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None
        self._guard: AsyncGenerator[None, None] | None = None

    def __repr__(self) -> str:
        return f"<AiohttpTransport max_connections={self.max_connections}>"

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send with aiohttp; its exceptions propagate (the layer above maps them)."""
        session = await self._get_session()
        # The query is encoded already (space -> %20): keep yarl from re-encoding it.
        url = yarl.URL(request.url, encoded=True)
        async with session.request(
            request.method,
            url,
            data=request.content,
            headers=dict(request.headers),
            timeout=aiohttp.ClientTimeout(total=request.timeout),
        ) as resp:
            raw = await _read_capped(resp, self.max_response_bytes)
            return HTTPResponse(resp.status, headers=resp.headers, content=raw)

    async def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=self.max_connections)
            self._session = aiohttp.ClientSession(connector=connector, raise_for_status=False)
            # Runs to its ``yield`` at once: no other task can slip in between the check and the assignment.
            self._guard = _close_with_loop(self._session)
            await self._guard.__anext__()
        return self._session

    async def aclose(self) -> None:
        """Close the session (idempotent)."""
        session, self._session = self._session, None
        guard, self._guard = self._guard, None
        if session is not None and not session.closed:
            await session.close()
        if guard is not None:
            await guard.aclose()


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """The body, or ``APIConnectionError`` as soon as it is known to exceed ``cap`` bytes (nothing more is read)."""
    length = resp.content_length
    if length is not None and length <= cap:
        return await resp.read()  # the common case: aiohttp reads exactly Content-Length bytes
    chunks: list[bytes] = []
    size = length or 0
    if size <= cap:
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > cap:
                break
            chunks.append(chunk)
    if size > cap:
        resp.close()  # the rest is never read: drop the connection rather than drain it
        raise APIConnectionError(f"HTTP {resp.status} response larger than {cap:,} bytes; not read")
    return b"".join(chunks)


async def _close_with_loop(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Close ``session`` if the client is never closed: a safety net, not the normal path.

    The loop finalises async generators when it shuts down (``asyncio.run`` and the sync client's loop
    thread call ``shutdown_asyncgens()``) and when one is garbage-collected while the loop runs (a client
    dropped without ``aclose()``). Either way this ``finally`` closes the session on its own loop, so an
    unclosed client does not end in "Unclosed client session" warnings.
    """
    try:
        yield
    finally:
        if not session.closed:
            await session.close()
