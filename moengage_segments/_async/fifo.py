"""A first-come, first-served lock for tasks of any event loop and any thread.

Clients of one workspace in one process share a quota, and the sync ``Client`` runs each client on its own
loop thread, so ``asyncio.Lock`` (bound to one loop) cannot order their waiters. This lock can: a waiter
awaits a future of its own loop, and the releaser resolves it with ``call_soon_threadsafe``. A thread lock
guards only the bookkeeping, never an ``await``, so no loop is ever blocked.
"""

from __future__ import annotations

import asyncio
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

    async def acquire(self) -> None:
        """Wait for the lock; a cancelled waiter leaves the queue (or passes the lock on) and re-raises."""
        loop = asyncio.get_running_loop()
        with self._mutex:
            if not self._held:
                self._held = True
                return
            waiter: _Waiter = (loop, loop.create_future())
            self._waiters.append(waiter)
        future = waiter[1]
        try:
            await future
        except asyncio.CancelledError:
            with self._mutex:
                queued = waiter in self._waiters
                if queued:
                    self._waiters.remove(waiter)
            # Already chosen by release(): if the grant landed, the lock is ours to pass on; if the future
            # was cancelled first, _grant sees that and passes it on itself.
            if not queued and future.done() and not future.cancelled():
                self.release()
            raise

    def release(self) -> None:
        """Hand the lock to the earliest waiter whose loop is still open, or free it."""
        with self._mutex:
            while self._waiters:
                loop, future = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(self._grant, future)
                except RuntimeError:  # that loop is closed: its waiter can never run
                    continue
                return
            self._held = False

    def _grant(self, future: asyncio.Future[None]) -> None:
        if future.cancelled():
            self.release()
        else:
            future.set_result(None)


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
