"""Receive the callbacks MoEngage POSTs when a file segment has been processed.

File-segment operations (create, add, remove, replace) answer ``202`` at once and report the outcome
later, by POSTing a small JSON document to the ``callback_url`` of the request (see
:class:`~moengage_segments.FileSegmentCallback`). This module gives two ways to receive it:

* :class:`CallbackReceiver`: an aiohttp handler to mount in your own ``aiohttp.web`` application, next
  to your other routes, behind your own HTTPS endpoint;
* :class:`CallbackServer`: the same receiver with its own small server, for scripts, tests and the demo;
  ``CallbackServer.in_thread(...)`` runs it on a background thread for synchronous code (a
  :class:`ThreadedCallbackServer`, whose ``wait_for`` blocks).

Both let you ``await receiver.wait_for(segment_name, timeout=...)``. The callback carries no segment id,
only the segment's name, so that is what you wait on.

Production notes (the service documents no signing, retries or timeouts for callbacks):

* Serve the endpoint over HTTPS only; terminate TLS at your proxy or load balancer.
* Pass ``token=`` and put the token in the callback URL you give MoEngage (``receiver.url_for(base)``);
  requests without it are refused with 403, so a guessed URL cannot inject fake results.
* The handler answers 200 quickly (the service requires 200), ignores repeated deliveries of the same
  ``request_id``, and refuses bodies that are not a callback with 400 (a non-integer ``status``, JSON
  nested more than 32 levels). What it keeps is bounded: ``max_pending`` callbacks per name and
  ``max_pending_names`` names nobody waits for yet (the oldest name is dropped first).
* ``CallbackServer`` closes a connection that has not sent a whole request (headers and body) within
  ``read_timeout`` seconds, so idle or half-open connections cannot pile up and exhaust file descriptors.

Example::

    receiver = CallbackReceiver(token=os.environ["CALLBACK_TOKEN"])
    app.router.add_post("/hooks/moengage", receiver.handler)
    ...
    ack = await client.file_segments.create(
        "vip", file_url=csv_url, expiry_days=30,
        callback_url=receiver.url_for("https://hooks.example.com/hooks/moengage"))
    result = await receiver.wait_for("vip", timeout=3600)
    print(result.user_count if result.succeeded else result.error_message)
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from moengage_segments._runtime import Portal
from moengage_segments.errors import ClientStateError, ValidationError, one_line
from moengage_segments.models import FileSegmentCallback

__all__ = ["DEFAULT_PATH", "CallbackReceiver", "CallbackServer", "ThreadedCallbackServer"]

logger = logging.getLogger("moengage_segments.callbacks")

DEFAULT_PATH = "/moengage/file-segment-callback"
"""The path :class:`CallbackServer` serves, and the default of :meth:`CallbackReceiver.mount`.

Example::

    receiver.mount(app)  # POST /moengage/file-segment-callback
"""

OnCallback = Callable[[FileSegmentCallback], Awaitable[None] | None]


class CallbackReceiver:
    """Collects file-segment callbacks and hands each one to whoever waits for its segment name.

    Callbacks that arrive before anyone waits are kept (up to ``max_pending`` per name, oldest dropped
    first, and up to ``max_pending_names`` names, the name that arrived first dropped first), so
    ``wait_for`` may be called after the request that triggers the callback. Each callback is delivered
    to one ``wait_for`` call, in arrival order. Use the receiver from the event loop that runs the aiohttp
    application. A body that does not arrive within ``read_timeout`` seconds gets 408.

    ``token``: when set, a request must carry ``?token=<token>`` or it is refused with 403.
    ``on_callback``: called (sync or async) for every new callback before it is acknowledged; if it
    raises, the handler answers 500 and the callback is not recorded, so a redelivery can succeed.

    Example::

        receiver = CallbackReceiver()
        receiver.mount(app)                      # POST /moengage/file-segment-callback
        result = await receiver.wait_for("vip", timeout=600)
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        on_callback: OnCallback | None = None,
        max_body_bytes: int = 64 * 1024,
        max_pending: int = 100,
        max_pending_names: int = 1000,
        read_timeout: float = 15.0,
    ) -> None:
        if token is not None and not token:
            raise ValidationError("token", "must be a non-empty string or None")
        for field, value in (("max_pending", max_pending), ("max_pending_names", max_pending_names)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(field, f"must be a whole number of at least 1, got {value!r}")
        if isinstance(read_timeout, bool) or not isinstance(read_timeout, (int, float)) or not 0 < read_timeout < 1e9:
            raise ValidationError("read_timeout", f"must be a positive number of seconds, got {read_timeout!r}")
        self._token = token
        self._on_callback = on_callback
        self._max_body_bytes = max_body_bytes
        self._max_pending = max_pending
        self._max_pending_names = max_pending_names
        self._read_timeout = float(read_timeout)
        self._pending: dict[str, collections.deque[FileSegmentCallback]] = {}
        self._waiters: dict[str, collections.deque[asyncio.Future[FileSegmentCallback]]] = {}
        # Redeliveries of one callback share its request_id; remember a bounded number of them.
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        #: Every accepted callback, most recent last (bounded to the last 1000).
        self.received: collections.deque[FileSegmentCallback] = collections.deque(maxlen=1000)

    def mount(self, app: web.Application, path: str = DEFAULT_PATH) -> None:
        """Add the handler to ``app`` as ``POST path``.

        Example::

            app = web.Application()
            receiver.mount(app, "/hooks/moengage")
        """
        app.router.add_post(path, self.handler)

    def url_for(self, base_url: str) -> str:
        """The callback URL to give MoEngage: ``base_url`` plus the token, when there is one.

        Example::

            receiver.url_for("https://hooks.example.com/hooks/moengage")
            # -> "https://hooks.example.com/hooks/moengage?token=..."
        """
        if self._token is None:
            return base_url
        parts = urlsplit(base_url)
        query = "&".join(q for q in (parts.query, urlencode({"token": self._token})) if q)
        return urlunsplit(parts._replace(query=query))

    async def handler(self, request: web.Request) -> web.Response:
        """The aiohttp handler: 200 for a callback (new or repeated), 400 for anything else.

        Example::

            app.router.add_post("/hooks/moengage", receiver.handler)
        """
        if self._token is not None and not hmac.compare_digest(
            request.query.get("token", "").encode(), self._token.encode()
        ):
            return web.json_response({"status": "fail", "error": "forbidden"}, status=403)
        if request.content_length is not None and request.content_length > self._max_body_bytes:
            return web.json_response({"status": "fail", "error": "body too large"}, status=413)
        try:
            body = await asyncio.wait_for(request.read(), self._read_timeout)
        except asyncio.TimeoutError:
            return web.json_response({"status": "fail", "error": "request body timed out"}, status=408)
        if len(body) > self._max_body_bytes:
            return web.json_response({"status": "fail", "error": "body too large"}, status=413)
        try:
            callback = FileSegmentCallback.from_json(body)
        except ValidationError as exc:
            logger.warning("rejected a file-segment callback: %s", one_line(exc))
            return web.json_response({"status": "fail", "error": one_line(exc)}, status=400)
        if callback.request_id is not None and callback.request_id in self._seen:
            return web.json_response({"status": "ok", "duplicate": True})
        if self._on_callback is not None:
            try:
                outcome = self._on_callback(callback)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                logger.exception("on_callback failed for segment %r", callback.segment_name)
                return web.json_response({"status": "fail", "error": "callback handler failed"}, status=500)
        self.deliver(callback)
        return web.json_response({"status": "ok"})

    def deliver(self, callback: FileSegmentCallback) -> None:
        """Record a callback and wake the oldest waiter for its segment (the handler calls this).

        Useful to feed callbacks that reach you another way (a queue, a serverless function).

        Example::

            receiver.deliver(FileSegmentCallback.from_json(message.body))
        """
        if callback.request_id is not None:
            self._seen[callback.request_id] = None
            while len(self._seen) > 10_000:
                self._seen.popitem(last=False)
        self.received.append(callback)
        name = callback.segment_name
        if name is None:
            logger.warning("file-segment callback without segment_name (request_id %r)", callback.request_id)
            return
        waiters = self._waiters.get(name)
        while waiters:
            future = waiters.popleft()
            if not future.done():
                future.set_result(callback)
                return
        queue = self._pending.get(name)
        if queue is None:
            while len(self._pending) >= self._max_pending_names:
                dropped = next(iter(self._pending))  # the name that has waited longest for a wait_for
                del self._pending[dropped]
                logger.warning(
                    "dropped unclaimed file-segment callbacks for %r: more than %d names pending",
                    dropped,
                    self._max_pending_names,
                )
            queue = self._pending[name] = collections.deque(maxlen=self._max_pending)
        queue.append(callback)

    async def wait_for(self, segment_name: str, *, timeout: float | None = None) -> FileSegmentCallback:
        """Wait for the next callback about ``segment_name`` and return it.

        A callback that arrived earlier and was not yet claimed is returned at once. Raises
        ``TimeoutError`` after ``timeout`` seconds (``None`` waits for ever; the service documents no
        processing deadline, so pick one that suits your files).

        Example::

            result = await receiver.wait_for("vip", timeout=600)
            if not result.succeeded:
                raise RuntimeError(result.error_message)
        """
        queue = self._pending.get(segment_name)
        if queue:
            callback = queue.popleft()
            if not queue:
                del self._pending[segment_name]
            return callback
        future: asyncio.Future[FileSegmentCallback] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(segment_name, collections.deque()).append(future)
        try:
            # asyncio.wait does not cancel the future on timeout, so a result that lands at the
            # same moment is still seen below instead of being lost.
            await asyncio.wait({future}, timeout=timeout)
        finally:
            if not future.done():
                future.cancel()
            waiters = self._waiters.get(segment_name)
            if waiters is not None:
                if future in waiters:
                    waiters.remove(future)
                if not waiters:
                    del self._waiters[segment_name]
        if future.cancelled():
            raise TimeoutError(f"no file-segment callback for {segment_name!r} within {timeout} s")
        return future.result()


class CallbackServer(CallbackReceiver):
    """A :class:`CallbackReceiver` with its own aiohttp server, started by ``async with``.

    ``port=0`` picks a free port. ``url`` is the URL to pass as ``callback_url``: ``public_url`` when
    given (your HTTPS endpoint that forwards to this server), else ``http://host:port/path``; either way
    with the token appended when there is one.

    Example::

        async with CallbackServer(port=0) as receiver:
            await client.file_segments.create("vip", file_url=url, expiry_days=30, callback_url=receiver.url)
            result = await receiver.wait_for("vip", timeout=600)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        path: str = DEFAULT_PATH,
        public_url: str | None = None,
        token: str | None = None,
        on_callback: OnCallback | None = None,
        max_body_bytes: int = 64 * 1024,
        max_pending: int = 100,
        max_pending_names: int = 1000,
        read_timeout: float = 15.0,
    ) -> None:
        super().__init__(
            token=token,
            on_callback=on_callback,
            max_body_bytes=max_body_bytes,
            max_pending=max_pending,
            max_pending_names=max_pending_names,
            read_timeout=read_timeout,
        )
        self._host = host
        self._port = port
        self._path = path
        self._public_url = public_url
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.base_events.Server | None = None
        self._bound_port: int | None = None
        # Connections (by protocol id) whose first request header has not arrived and whose read_timeout has
        # not passed; see _accept. Only _accept adds, and its timer always removes: nothing stays behind.
        self._awaiting_header: set[int] = set()

    @property
    def url(self) -> str:
        """The ``callback_url`` to send with file-segment requests (available once started).

        Example::

            await client.file_segments.add_users("vip", file_url=url, callback_url=receiver.url)
        """
        if self._public_url is not None:
            return self.url_for(self._public_url)
        if self._bound_port is None:
            raise RuntimeError("CallbackServer is not started; use 'async with CallbackServer(...)'")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return self.url_for(f"http://{host}:{self._bound_port}{self._path}")

    async def start(self) -> str:
        """Start serving and return :attr:`url`. Prefer ``async with``.

        Example::

            server = CallbackServer()
            url = await server.start()
        """
        if self._runner is None:
            app = web.Application(client_max_size=self._max_body_bytes + 1024, middlewares=[self._mark_answered])
            self.mount(app, self._path)
            # keepalive_timeout closes a connection idle after a response (_accept covers the first request);
            # lingering_time bounds how long the unread rest of a refused body is waited for.
            runner = web.AppRunner(
                app, access_log=None, keepalive_timeout=self._read_timeout, lingering_time=self._read_timeout
            )
            await runner.setup()
            server = runner.server
            assert server is not None  # set by setup()
            try:
                listener = await asyncio.get_running_loop().create_server(
                    lambda: self._accept(server), self._host, self._port
                )
            except BaseException:
                await runner.cleanup()
                raise
            self._runner, self._listener = runner, listener
            self._bound_port = int(listener.sockets[0].getsockname()[1])
        return self.url

    def _accept(self, server: web.Server) -> asyncio.Protocol:
        """A connection's protocol, closed unless it sends a whole request header within ``read_timeout``.

        aiohttp (before 3.10) never times out a connection that has not sent a request: a client that
        connects and stalls, or trickles a header, would hold a file descriptor for ever.
        """
        protocol = server()
        key = id(protocol)  # the timer below holds the protocol, so the id is not reused before it fires
        self._awaiting_header.add(key)

        def expire() -> None:
            if key in self._awaiting_header:
                self._awaiting_header.discard(key)
                if protocol.transport is not None:
                    protocol.transport.close()

        asyncio.get_running_loop().call_later(self._read_timeout, expire)
        return protocol

    @web.middleware
    async def _mark_answered(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # The headers are in: the handler bounds the body read. (Marking answered connections instead left an
        # id behind for every request after the timer, growing without end, and a later connection given a
        # freed id escaped the timeout.)
        self._awaiting_header.discard(id(request.protocol))
        return await handler(request)

    async def aclose(self) -> None:
        """Stop the server. Idempotent.

        Example::

            await server.aclose()
        """
        runner, self._runner = self._runner, None
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if runner is not None:
            await runner.cleanup()
        if listener is not None:
            await listener.wait_closed()

    async def __aenter__(self) -> CallbackServer:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.aclose()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, *args: Any, **kwargs: Any) -> Iterator[ThreadedCallbackServer]:
        """Run a server on a background thread with its own event loop, for synchronous code.

        Takes the same arguments as :class:`CallbackServer`. The object it yields has the same ``url``,
        and a *blocking* ``wait_for(segment_name, timeout=...)``. The server stops when the block ends.

        Example::

            with CallbackServer.in_thread(port=0) as receiver, Client() as client:
                client.file_segments.create("vip", file_url=url, expiry_days=30, callback_url=receiver.url)
                result = receiver.wait_for("vip", timeout=600)  # FileSegmentCallback
        """
        threaded = ThreadedCallbackServer(cls(*args, **kwargs))
        threaded.start()
        try:
            yield threaded
        finally:
            threaded.close()


class ThreadedCallbackServer:
    """A :class:`CallbackServer` running on its own thread; made by :meth:`CallbackServer.in_thread`.

    Every method may be called from any thread except the server's own. ``on_callback`` (when given to
    the server) runs on the server's thread. The thread is a :class:`~moengage_segments._runtime.Portal`,
    the same event-loop thread the blocking client runs on. Blocking calls raise
    :class:`~moengage_segments.errors.ClientStateError` when the server is not running or when made from
    its own thread.

    Example::

        with CallbackServer.in_thread() as receiver:
            print(receiver.url)
            result = receiver.wait_for("vip", timeout=600)
            print(result.user_count if result.succeeded else result.error_message)
    """

    def __init__(self, server: CallbackServer) -> None:
        #: The underlying server; its coroutines must run on :attr:`loop`.
        self.server = server
        self._portal = Portal(name="moengage-callback-server", owner="the callback server", cleanup=server.aclose)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop of the server's thread (for ``asyncio.run_coroutine_threadsafe``).

        Example::

            asyncio.run_coroutine_threadsafe(coro, receiver.loop).result()
        """
        self._check_running()
        return self._portal.loop

    @property
    def url(self) -> str:
        """The ``callback_url`` to send with file-segment requests.

        Example::

            client.file_segments.add_users("vip", file_url=url, callback_url=receiver.url)
        """
        return self.server.url

    def start(self) -> str:
        """Start the thread and the server; return :attr:`url`. Prefer ``CallbackServer.in_thread``.

        A server that fails to start (its port is taken) raises that error and leaves no thread behind.
        Raises :class:`~moengage_segments.errors.ClientStateError` once closed.

        Example::

            url = ThreadedCallbackServer(CallbackServer()).start()
        """
        if self._portal.started and not self._portal.closed:
            return self.url
        try:
            return self._portal.call(self.server.start)
        except ClientStateError:
            raise
        except BaseException:
            self._portal.close()
            raise

    def close(self) -> None:
        """Stop the server and its thread. Idempotent.

        Example::

            receiver.close()
        """
        self._portal.close()

    def _check_running(self) -> None:
        if not self._portal.started or self._portal.closed:
            raise ClientStateError("the callback server is not running; use 'with CallbackServer.in_thread()'")

    def wait_for(self, segment_name: str, *, timeout: float | None = None) -> FileSegmentCallback:
        """Block until the next callback about ``segment_name`` arrives and return it.

        Same rules as :meth:`CallbackReceiver.wait_for`: an unclaimed earlier callback is returned at once,
        and ``TimeoutError`` is raised after ``timeout`` seconds (``None`` waits for ever).

        Example::

            result = receiver.wait_for("vip", timeout=600)
        """
        self._check_running()
        return self._portal.call(self.server.wait_for, segment_name, timeout=timeout)

    def deliver(self, callback: FileSegmentCallback) -> None:
        """Feed a callback that reached you another way (see :meth:`CallbackReceiver.deliver`).

        Example::

            receiver.deliver(FileSegmentCallback.from_json(body))
        """
        self._check_running()
        self._portal.run_sync(self.server.deliver, callback)

    @property
    def received(self) -> list[FileSegmentCallback]:
        """A copy of every accepted callback so far, most recent last.

        Example::

            assert receiver.received[-1].segment_name == "vip"
        """
        self._check_running()
        return self._portal.run_sync(lambda: list(self.server.received))

    def __enter__(self) -> ThreadedCallbackServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
