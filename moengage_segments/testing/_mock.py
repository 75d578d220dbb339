"""``MockTransport``: answer the client's requests with a function, in-process, for unit tests."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from moengage_segments._async.http import HTTPRequest, HTTPResponse

__all__ = ["Handler", "MockTransport"]

#: A handler receives each request and returns the response, directly or from a coroutine.
Handler = Callable[[HTTPRequest], "HTTPResponse | Awaitable[HTTPResponse]"]


class MockTransport:
    """A transport whose responses come from ``handler``: no network, no patching of the HTTP library.

    Pass it as ``AsyncClient(transport=...)`` (or ``Client(transport=...)``). The client still paces,
    retries and maps errors as it would against the service, so a handler that answers 503 once sees the
    request twice; pass ``rate_limits=None`` unless the test is about pacing (the client-side quota is shared
    by every client of the workspace in the process, test after test). To simulate a network failure, raise
    ``ConnectionResetError`` (or ``ConnectionRefusedError``, ``TimeoutError``) from the handler. Every
    request is kept in :attr:`requests`, in order.

    Example::

        from moengage_segments import AsyncClient, HTTPRequest, HTTPResponse
        from moengage_segments.testing import MockTransport

        def handler(request: HTTPRequest) -> HTTPResponse:
            return HTTPResponse(200, json={"data": [{"id": "6388a97a02adb9071ca84ce9", "name": "vip"}]})

        mock = MockTransport(handler)
        async with AsyncClient("WS", "KEY", "01", transport=mock, rate_limits=None) as client:
            assert (await client.segments.find("vip")) is not None
        assert mock.requests[0].params == {"name": "vip"}
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        #: Every request sent through this transport, oldest first.
        self.requests: list[HTTPRequest] = []

    def __repr__(self) -> str:
        return f"<MockTransport handler={getattr(self.handler, '__name__', self.handler)!r}>"

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Record ``request`` and return the handler's response (awaited when the handler is async).

        Example::

            response = await MockTransport(lambda request: HTTPResponse(204)).send(request)
        """
        self.requests.append(request)
        response = self.handler(request)
        if inspect.isawaitable(response):
            response = await response
        if not isinstance(response, HTTPResponse):
            raise TypeError(f"a MockTransport handler must return an HTTPResponse, got {type(response).__name__}")
        return response
