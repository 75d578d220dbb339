"""A first-come, first-served lock for tasks of any event loop and any thread.

Clients of one workspace in one process share a quota, and the sync ``Client`` runs each client on its own
loop thread, so ``asyncio.Lock`` (bound to one loop) cannot order their waiters. This lock can: a waiter
awaits a future of its own loop, and the releaser resolves it with ``call_soon_threadsafe``. A thread lock
guards only the bookkeeping, never an ``await``, so no loop is ever blocked. A waiter whose loop is closed
(before or while the lock is handed to it) is skipped, so it never keeps the lock from the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import weakref
from collections import deque
from collections.abc import Hashable
from types import TracebackType

__all__ = ["FifoLock", "shared_lock"]

_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class FifoLock:
    """``async with lock:`` admits one holder at a time, in the order the waiters arrived."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[_Waiter] = deque()

    @property
    def waiting(self) -> int:
        """How many tasks wait for the lock."""
        return len(self._waiters)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    async def acquire(self, timeout: float | None = None) -> None:
        """Wait for the lock; a cancelled waiter leaves the queue (or passes the lock on) and re-raises.

        With ``timeout``, a waiter still queued after that many seconds leaves the queue the same way and
        raises :class:`asyncio.TimeoutError`.
        """
        loop = asyncio.get_running_loop()
        with self._mutex:
            if not self._held:
                self._held = True
                return
            waiter: _Waiter = (loop, loop.create_future())
            self._waiters.append(waiter)
        future = waiter[1]
        try:
            if timeout is None:
                await future
            else:
                await asyncio.wait_for(future, timeout)
        except BaseException as exc:
            with self._mutex:
                queued = waiter in self._waiters
                if queued:
                    self._waiters.remove(waiter)
            # Already chosen by release(): if the grant landed, the lock is ours to pass on; if the future
            # was cancelled first, the grant sees that and passes it on itself.
            if not queued and future.done() and not future.cancelled():
                if isinstance(exc, GeneratorExit):
                    # This task was destroyed unresumed (its loop closed): maybe inside a garbage collection
                    # that interrupted our own bookkeeping, so never wait for the mutex here.
                    self._release_from_finalizer()
                else:
                    self.release()
            raise

    def release(self) -> None:
        """Hand the lock to the earliest waiter whose loop is still open, or free it."""
        with self._mutex:
            self._pass_on()

    def _pass_on(self) -> None:
        # Under self._mutex.
        while self._waiters:
            loop, future = self._waiters.popleft()
            grant = _Grant(self, future)
            try:
                loop.call_soon_threadsafe(grant)
            except RuntimeError:  # that loop is closed: its waiter can never run
                grant.ran = True  # nothing to pass on when this grant is dropped
                continue
            return
        self._held = False

    def _release_from_finalizer(self) -> None:
        """:meth:`release` for a finalizer, which may run while this very thread holds the mutex."""
        if self._mutex.acquire(blocking=False):
            try:
                self._pass_on()
            finally:
                self._mutex.release()
            return
        # Held, perhaps by this thread in the middle of its bookkeeping: pass the lock on from another thread
        # once the mutex is free. (A rare path: a loop closed with a hand-over to it still pending.)
        with contextlib.suppress(RuntimeError):  # interpreter shutdown: nobody is left to wait for the lock
            threading.Thread(target=self.release, name="moengage-fifo-release", daemon=True).start()


class _Grant:
    """The hand-over of the lock to one waiter, run on the waiter's loop.

    If its loop is closed before running it (``close()`` drops the loop's pending callbacks), the waiter
    never learns it holds the lock: the dropped grant passes the lock on, so the waiters of other loops
    do not wait for ever.
    """

    __slots__ = ("future", "lock", "ran")

    def __init__(self, lock: FifoLock, future: asyncio.Future[None]) -> None:
        self.lock = lock
        self.future = future
        self.ran = False

    def __call__(self) -> None:
        self.ran = True
        if self.future.cancelled():
            self.lock.release()
        else:
            self.future.set_result(None)

    def __del__(self) -> None:
        if not self.ran:
            with contextlib.suppress(Exception):  # at interpreter shutdown, modules may be gone already
                self.lock._release_from_finalizer()


_LOCKS: weakref.WeakValueDictionary[Hashable, FifoLock] = weakref.WeakValueDictionary()
_LOCKS_MUTEX = threading.Lock()


def _forget_after_fork() -> None:
    # Holders in the parent do not exist in a child: new clients there must not queue behind them.
    global _LOCKS_MUTEX
    _LOCKS_MUTEX = threading.Lock()
    _LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def shared_lock(key: Hashable) -> FifoLock:
    """The process-wide lock for ``key``, alive while anyone holds a reference to it."""
    with _LOCKS_MUTEX:
        lock = _LOCKS.get(key)
        if lock is None:
            lock = _LOCKS[key] = FifoLock()
        return lock
