"""The portal: one private event-loop thread that a blocking caller runs coroutines on.

The sync :class:`~moengage_segments.Client` is a thin generated wrapper over the async core. Every blocking
call is handed to a :class:`Portal`, which owns one daemon thread running one event loop for the whole
lifetime of the client. Because the loop lives as long as the client, the async client's pooled
``aiohttp`` session, rate limiters and retry state are shared by every call and every calling thread.
It is the SDK's one "event loop on a thread": ``CallbackServer.in_thread`` and ``Emulator.in_thread`` run
on it too.

Example::

    async def add(a: int, b: int) -> int:
        return a + b

    with Portal() as portal:
        assert portal.call(add, 1, 2) == 3
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import os
import threading
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, Final, ParamSpec, TypeVar, cast

from moengage_segments.errors import ClientStateError

__all__ = ["Portal"]

_log = logging.getLogger("moengage_segments.runtime")

P = ParamSpec("P")
T = TypeVar("T")

_counter = itertools.count(1)

# Every live portal state, so that a fork() hook can fix up the child (locks held by other parent threads
# at fork time would otherwise stay locked forever in the child).
_live_states: weakref.WeakSet[_PortalState] = weakref.WeakSet()

# Loops inherited by a forked child: they belong to a thread that does not exist there, so they can be
# neither used nor closed. Keeping them referenced stops their __del__ from warning mid-run.
_orphaned_loops: list[asyncio.AbstractEventLoop] = []


class _PortalState:
    """Everything the loop thread and the finalizer need, without a reference back to the Portal.

    The thread target and the ``weakref.finalize`` callback hold this object, never the Portal itself, so a
    Portal that the user drops without ``close()`` can still be garbage-collected and cleaned up.
    """

    def __init__(
        self,
        name: str,
        owner: str,
        cleanup: Callable[[], Awaitable[object]] | None,
        close_timeout: float,
    ) -> None:
        self.name = name
        self.owner = owner
        self.cleanup = cleanup
        self.close_timeout = close_timeout
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.thread_ident: int | None = None
        self.closed = False
        self.stopped = threading.Event()

    # -- checks -------------------------------------------------------------------------------------

    def check_usable(self) -> None:
        """Raise :class:`ClientStateError` when a blocking call cannot work right now."""
        # Checked before taking the lock: after fork() the lock may be unusable.
        if self.pid != os.getpid():
            raise ClientStateError(
                f"{self.owner} was started in process {self.pid} and cannot be used in forked child "
                f"process {os.getpid()}; create a new one in the child ({self.name})"
            )
        if self.closed:
            raise ClientStateError(f"{self.owner} is closed ({self.name})")
        if self.thread_ident is not None and threading.get_ident() == self.thread_ident:
            raise ClientStateError(
                f"a blocking call was made from {self.owner}'s own event-loop thread, which would deadlock; "
                f"inside async code await the async API instead ({self.name})"
            )

    # -- lifecycle ----------------------------------------------------------------------------------

    def ensure_started(self) -> asyncio.AbstractEventLoop:
        """Start the loop thread on first use; the caller holds ``self.lock``."""
        if self.loop is not None:
            return self.loop
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        thread = threading.Thread(target=_run_loop, args=(self, loop, ready), name=f"{self.name}-loop", daemon=True)
        thread.start()
        ready.wait()
        self.loop = loop
        self.thread = thread
        return loop

    def shutdown(self, *, from_finalizer: bool) -> None:
        """Close once: run the cleanup callback on the loop, then stop and join the loop thread."""
        if self.pid != os.getpid():
            # A forked child: the loop thread only exists in the parent. Do not touch the parent's loop.
            self.closed = True
            if self.loop is not None:
                _orphaned_loops.append(self.loop)
            return
        on_loop_thread = self.thread_ident is not None and threading.get_ident() == self.thread_ident
        if on_loop_thread and not from_finalizer:
            raise ClientStateError(f"{self.owner} cannot be closed from its own event-loop thread ({self.name})")
        with self.lock:
            first = not self.closed
            self.closed = True
            loop = self.loop
        if loop is None or self.stopped.is_set():
            return
        if not first:
            if not on_loop_thread:
                self.stopped.wait(self.close_timeout)
            return
        if on_loop_thread:
            # Garbage collection ran the finalizer on the loop thread itself: nobody can wait here, so
            # schedule the cleanup and let the loop stop itself afterwards.
            loop.create_task(_cleanup_then_stop(self.cleanup, loop))
            return
        error: BaseException | None = None
        if self.cleanup is not None:
            cf = _submit(loop, self.cleanup)
            try:
                cf.result(self.close_timeout)
            except concurrent.futures.TimeoutError:
                _log.warning("%s: cleanup did not finish within %.1f s", self.name, self.close_timeout)
            except BaseException as exc:
                error = exc
        loop.call_soon_threadsafe(loop.stop)
        assert self.thread is not None
        self.thread.join(self.close_timeout)
        if error is not None:
            if from_finalizer:
                _log.warning("%s: cleanup failed at exit: %r", self.name, error)
            else:
                raise error


def _run_loop(state: _PortalState, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    """Body of the loop thread: run until stopped, then cancel leftovers and close the loop."""
    asyncio.set_event_loop(loop)
    state.thread_ident = threading.get_ident()
    loop.call_soon(ready.set)
    try:
        loop.run_forever()
    except BaseException:
        # Something (SystemExit in user code) escaped the loop; mark the portal closed so that callers
        # get ClientStateError instead of waiting forever.
        state.closed = True
        _log.exception("%s: event loop stopped unexpectedly", state.name)
    finally:
        try:
            _cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            # RuntimeError at interpreter shutdown: no new threads can be started then.
            with contextlib.suppress(RuntimeError):
                loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
            state.stopped.set()


def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


async def _cleanup_then_stop(cleanup: Callable[[], Awaitable[object]] | None, loop: asyncio.AbstractEventLoop) -> None:
    try:
        if cleanup is not None:
            await cleanup()
    except Exception:
        _log.exception("cleanup failed")
    finally:
        loop.stop()


class _Submission:
    """A coroutine function scheduled on the loop, with a handle to cancel it from another thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.task: asyncio.Task[Any] | None = None
        # Set once the coroutine has finished (or was never started): Ctrl-C waits on it so that the
        # coroutine's own cleanup (finally blocks, released connections) runs before control returns.
        self.finished = threading.Event()

    def cancel(self) -> None:
        """Cancel from any thread; safe if the loop is already gone."""
        if self.future.cancel():  # not started yet: it never will be
            self.finished.set()
            return
        try:
            self.loop.call_soon_threadsafe(self._cancel_task)
        except RuntimeError:  # loop closed meanwhile
            self.finished.set()

    def _cancel_task(self) -> None:
        if self.task is not None:
            self.task.cancel()


def _submit(
    loop: asyncio.AbstractEventLoop,
    fn: Callable[..., Awaitable[Any]],
    *args: Any,
    **kwargs: Any,
) -> concurrent.futures.Future[Any]:
    return _schedule(loop, fn, args, kwargs).future


def _schedule(
    loop: asyncio.AbstractEventLoop,
    fn: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> _Submission:
    sub = _Submission(loop)

    async def run() -> Any:
        # fn is called here, on the loop thread, so that whatever it does synchronously before its first
        # await (creating locks, sessions, tasks) happens on the loop that will await it.
        return await fn(*args, **kwargs)

    def start() -> None:
        if not sub.future.set_running_or_notify_cancel():
            sub.finished.set()
            return
        sub.task = loop.create_task(run())
        sub.task.add_done_callback(done)

    def done(task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            sub.future.set_exception(asyncio.CancelledError())
        elif (exc := task.exception()) is not None:
            sub.future.set_exception(exc)
        else:
            sub.future.set_result(task.result())
        sub.finished.set()

    loop.call_soon_threadsafe(start)
    return sub


class Portal:
    """Runs coroutines on one private event-loop thread, for blocking callers.

    The thread starts on the first :meth:`call` and lives until :meth:`close` (or, as a safety net,
    until the portal is garbage-collected or the interpreter exits). Any number of threads may call
    one portal at once. Because the work runs on the portal's own thread, blocking calls also work
    from a thread that already runs an event loop (a Jupyter cell, a handler of an async framework).

    ``cleanup`` is an async callable run on the loop by :meth:`close` before the thread stops, typically
    the async client's ``aclose``. ``close_timeout`` bounds how long closing waits for it. ``owner`` names
    what the portal runs in error messages (``"the client"``, ``"the emulator"``).

    Raises :class:`~moengage_segments.errors.ClientStateError` (instead of deadlocking or hanging) when
    used after :meth:`close`, from its own loop thread, or in a child process after ``fork()`` once the
    parent has started it.

    Example::

        async def fetch(n: int) -> int:
            await asyncio.sleep(0.01)
            return n * 2

        with Portal(cleanup=async_client.aclose) as portal:
            assert portal.call(fetch, 21) == 42
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        owner: str = "the client",
        cleanup: Callable[[], Awaitable[object]] | None = None,
        close_timeout: float = 30.0,
        cancel_timeout: float = 5.0,
    ) -> None:
        name = name or f"moengage-segments-portal-{next(_counter)}"
        self._state = _PortalState(name, owner, cleanup, close_timeout)
        self._cancel_timeout = cancel_timeout
        _live_states.add(self._state)
        # The safety net: runs shutdown() when the portal is collected or at interpreter exit, whichever
        # comes first. It holds the state, not the portal, so it does not keep the portal alive.
        self._finalizer = weakref.finalize(self, self._state.shutdown, from_finalizer=True)

    @property
    def name(self) -> str:
        """The portal's name; its loop thread is called ``<name>-loop``.

        Example::

            assert Portal(name="reports").name == "reports"
        """
        return self._state.name

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called.

        Example::

            portal.close()
            assert portal.closed
        """
        return self._state.closed

    @property
    def started(self) -> bool:
        """True once the loop thread has been started (by the first call).

        Example::

            assert not Portal().started
        """
        return self._state.loop is not None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop of the portal's thread, for code that schedules on it directly.

        Raises :class:`~moengage_segments.errors.ClientStateError` before the first call and after
        :meth:`close`.

        Example::

            asyncio.run_coroutine_threadsafe(coro, portal.loop).result()
        """
        state = self._state
        if state.loop is None or state.closed:
            raise ClientStateError(f"{state.owner} is not running ({state.name})")
        return state.loop

    def run_sync(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run the plain function ``fn`` on the loop thread (where state it touches lives) and return its result.

        Called on the loop thread itself, ``fn`` simply runs: a plain function cannot deadlock there.

        Example::

            members = portal.run_sync(lambda: list(state.members))
        """
        if self._state.thread_ident == threading.get_ident():
            return fn(*args, **kwargs)

        async def run() -> T:
            return fn(*args, **kwargs)

        return self.call(run)

    def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the loop thread and block until it returns or raises.

        Exceptions of the coroutine propagate unchanged. A ``KeyboardInterrupt`` while waiting (Ctrl-C)
        cancels the coroutine, waits briefly for it to unwind, and is re-raised.

        Example::

            summaries = portal.call(async_client.segments.list, name="vip")
        """
        sub = self._schedule(fn, args, kwargs)
        try:
            result: T = sub.future.result()
        except KeyboardInterrupt:
            sub.cancel()
            sub.finished.wait(self._cancel_timeout)
            raise
        except asyncio.CancelledError:
            if self._state.closed:
                raise ClientStateError(
                    f"{self._state.owner} was closed while the call was running ({self._state.name})"
                ) from None
            raise
        return result

    def iterate(self, iterable: AsyncIterable[T]) -> Generator[T, None, None]:
        """Iterate an async iterable from blocking code, one ``__anext__`` per step on the loop thread.

        When the caller stops early (``break``, an exception, or the returned generator's ``close()``),
        the async iterator's ``aclose()`` is run on the loop, so its ``finally`` blocks and held resources
        are released.

        Example::

            async def numbers() -> AsyncIterator[int]:
                for n in range(100):
                    yield n

            for n in portal.iterate(numbers()):
                if n == 3:
                    break  # the async generator is closed here, on the loop
        """
        self._state.check_usable()
        return self._iterate(iterable)

    def _iterate(self, iterable: AsyncIterable[T]) -> Generator[T, None, None]:
        iterator: AsyncIterator[T] | None = None
        try:
            iterator = self.call(_aiter, iterable)
            while True:
                item = self.call(_anext, iterator)
                if item is _EXHAUSTED:
                    return
                yield cast(T, item)
        finally:
            if iterator is not None:
                self._aclose_quietly(iterator)

    def _aclose_quietly(self, iterator: AsyncIterator[Any]) -> None:
        aclose = getattr(iterator, "aclose", None)
        if aclose is None:
            return
        state = self._state
        if state.closed or state.pid != os.getpid() or state.loop is None:
            return  # the loop's own teardown (shutdown_asyncgens) has closed it, or cannot
        if threading.get_ident() == state.thread_ident:
            # The generator was collected on the loop thread: schedule rather than block.
            state.loop.create_task(aclose())
            return
        # ClientStateError: closed concurrently; the loop's teardown finalises async generators then.
        with contextlib.suppress(ClientStateError):
            self.call(aclose)

    def _schedule(
        self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _Submission:
        state = self._state
        state.check_usable()
        # Under the lock so that close() cannot stop the loop between our check and our submission
        # (a submission to a stopped loop would never complete).
        with state.lock:
            state.check_usable()
            loop = state.ensure_started()
            return _schedule(loop, fn, args, kwargs)

    def close(self) -> None:
        """Run the cleanup callback on the loop, then stop and join the loop thread. Idempotent.

        Calls still running in other threads are cancelled and raise
        :class:`~moengage_segments.errors.ClientStateError`. In a forked child this only marks the portal
        closed: the loop thread belongs to the parent.

        Example::

            portal.close()
            portal.close()  # no-op
        """
        self._state.shutdown(from_finalizer=False)
        self._finalizer.detach()

    def __enter__(self) -> Portal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        status = "closed" if self.closed else "running" if self.started else "idle"
        return f"<Portal {self._state.name!r} {status}>"


async def _aiter(iterable: AsyncIterable[T]) -> AsyncIterator[T]:
    return iterable.__aiter__()


_EXHAUSTED: Final = object()


async def _anext(iterator: AsyncIterator[T]) -> object:
    # StopAsyncIteration becomes a sentinel: raising it through a coroutine and a future is fragile.
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return _EXHAUSTED


def _after_fork_in_child() -> None:
    for state in list(_live_states):
        state.lock = threading.Lock()
        state.stopped = threading.Event()
        if state.loop is None:
            # Never started in the parent: nothing is bound to the parent's thread, so the child may
            # start its own loop lazily (the module-level client created before a pre-fork server forks).
            state.pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
