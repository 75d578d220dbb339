"""Canned responses by method and URL, served through the SDK's ``MockTransport`` (no aiohttp involved).

The registration mirrors aioresponses (``routes.get(url, status=..., payload=..., repeat=True)``), so a
test reads the same whichever layer it exercises; tests of the real aiohttp path keep aioresponses.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from moengage_segments import HTTPRequest, HTTPResponse
from moengage_segments.testing import MockTransport

Reply = Callable[[HTTPRequest], Awaitable[HTTPResponse]]


class MockRoutes:
    """Queues of replies per ``(method, url)``; a request nobody expected fails the test."""

    def __init__(self) -> None:
        self._queues: dict[tuple[str, str], deque[tuple[Reply, bool]]] = defaultdict(deque)
        self.transport = MockTransport(self._handle)

    @property
    def requests(self) -> list[HTTPRequest]:
        """Every request sent, in order."""
        return self.transport.requests

    def add(
        self,
        url: str,
        method: str = "GET",
        *,
        status: int = 200,
        payload: Any = None,
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        exception: BaseException | None = None,
        callback: Reply | None = None,
        repeat: bool = False,
    ) -> None:
        if content_type is not None:
            headers = {**(headers or {}), "Content-Type": content_type}

        async def reply(request: HTTPRequest) -> HTTPResponse:
            if exception is not None:
                raise exception
            if callback is not None:
                return await callback(request)
            if body is not None:
                content = body.encode() if isinstance(body, str) else body
                return HTTPResponse(status, headers=headers, content=content)
            if payload is not None:  # encoded as aioresponses does, so byte counts match
                content = json.dumps(payload).encode()
                return HTTPResponse(
                    status, headers={"Content-Type": "application/json", **(headers or {})}, content=content
                )
            return HTTPResponse(status, headers=headers)

        self._queues[(method, url)].append((reply, repeat))

    def get(self, url: str, **kwargs: Any) -> None:
        self.add(url, "GET", **kwargs)

    def post(self, url: str, **kwargs: Any) -> None:
        self.add(url, "POST", **kwargs)

    def put(self, url: str, **kwargs: Any) -> None:
        self.add(url, "PUT", **kwargs)

    def patch(self, url: str, **kwargs: Any) -> None:
        self.add(url, "PATCH", **kwargs)

    async def _handle(self, request: HTTPRequest) -> HTTPResponse:
        queue = self._queues.get((request.method, request.url))
        if not queue:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        reply, repeat = queue[0]
        if not repeat:
            queue.popleft()
        return await reply(request)
