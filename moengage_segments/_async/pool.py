"""``SessionPool``: one concurrency-limited set of connections shared by many clients.

A process that pushes for many workspaces (one client each) would otherwise open a pool per client. Each
client keeps its own credentials, limits and quota; only the sockets are shared.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from moengage_segments._async.http import AiohttpTransport, HTTPRequest, HTTPResponse
from moengage_segments.errors import ClientStateError, ConfigurationError

__all__ = ["SessionPool"]


class SessionPool(AiohttpTransport):
    """At most ``max_connections`` connections, shared by every client given ``pool=`` this pool.

    Like a client's own pool, its aiohttp session is created by the first request, inside the running
    event loop; the pool then belongs to that loop (clients on another loop, such as sync clients, need
    pools of their own). A request waiting for a connection holds nothing else. Clients never close a
    pool they were given: close it yourself, after them (``async with`` or ``aclose()``).

    Example::

        async with SessionPool(max_connections=16) as pool:
            clients = [AsyncClient(ws, key, data_center="01", pool=pool) for ws, key in accounts]
            await asyncio.gather(*(c.cohorts.add_members(cohort, uids[c]) for c in clients))
            for client in clients:
                await client.aclose()
    """

    def __init__(self, *, max_connections: int = 64) -> None:
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise ConfigurationError(f"max_connections must be a whole number of at least 1, got {max_connections!r}")
        super().__init__(max_connections=max_connections)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<SessionPool max_connections={self.max_connections}>"

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` ran.

        Example::

            assert not pool.closed
        """
        return self._closed

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Send one request on a pooled connection (waiting for one when all are busy).

        Example::

            response = await pool.send(request)  # clients do this for you
        """
        loop = asyncio.get_running_loop()
        if self._closed:
            raise ClientStateError("this SessionPool is closed; create a new one")
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise ClientStateError(
                "this SessionPool belongs to another event loop (it was first used there); give clients on "
                "this loop a pool of their own"
            )
        return await super().send(request)

    async def aclose(self) -> None:
        """Close every connection; idempotent. Close the clients first: their requests fail afterwards.

        Example::

            await pool.aclose()
        """
        self._closed = True
        await super().aclose()

    async def __aenter__(self) -> SessionPool:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
