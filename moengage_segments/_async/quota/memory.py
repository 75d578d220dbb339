"""The in-process quota store: the default, shared by every client of a workspace in one process.

Its state is guarded by a thread lock held for a few microseconds and never across an ``await``, so async
clients on one loop and sync clients on their own loop threads share it without blocking any loop.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence

from moengage_segments._async.quota.base import longest_limit
from moengage_segments.config import Window

__all__ = ["PROCESS_QUOTA", "InProcessQuotaStore"]

_STORES: weakref.WeakSet[InProcessQuotaStore] = weakref.WeakSet()


class InProcessQuotaStore:
    """Sliding-window logs in this process's memory, keyed by (API host, workspace, family).

    Every client that is not given another store uses one process-wide instance, so two clients (async or
    sync) of the same workspace share its quota. Create your own instance to keep clients apart.

    Example::

        private = InProcessQuotaStore()
        async with AsyncClient(quota=private) as client:
            ...
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._logs: dict[str, deque[float]] = {}
        self._paused: dict[str, float] = {}
        _STORES.add(self)

    def __repr__(self) -> str:
        return f"<InProcessQuotaStore keys={len(self._logs)}>"

    async def acquire(self, key: str, windows: Sequence[Window], margin: float) -> float:
        """Take a slot and return 0.0, or return the seconds until one may be free.

        Example::

            wait = await store.acquire("host/WS/cohort", (Window(300, 60.0),), 0.25)
        """
        return self.take(key, windows, margin)

    def take(self, key: str, windows: Sequence[Window], margin: float, *, record: bool = True) -> float:
        """:meth:`acquire` without the coroutine; ``record=False`` only looks (the wait, nothing taken).

        Example::

            store.take("host/WS/cohort", (Window(300, 60.0),), 0.25, record=False)  # seconds to wait
        """
        with self._lock:
            now = self._clock()  # read under the lock: the log stays in the order slots were taken
            wait = self._paused.get(key, 0.0) - now
            size = longest_limit(windows)
            log = self._log(key, size)
            for window in windows:
                if len(log) >= window.limit:
                    wait = max(wait, log[-window.limit] + window.period + margin - now)
            if wait > 0:
                return wait
            if record and size:
                log.append(now)
            return 0.0

    def record(self, key: str, windows: Sequence[Window]) -> None:
        """Count a request that took its slot elsewhere (in Redis), so local pacing knows of it.

        Example::

            store.record("host/WS/cohort", (Window(300, 60.0),))
        """
        with self._lock:
            self._log(key, longest_limit(windows)).append(self._clock())

    async def pause(self, key: str, seconds: float) -> None:
        """Hold ``key`` for ``seconds`` from now.

        Example::

            await store.pause("host/WS/cohort", 10.0)
        """
        until = self._clock() + seconds
        with self._lock:
            self._paused[key] = max(self._paused.get(key, 0.0), until)

    def _log(self, key: str, size: int) -> deque[float]:
        log = self._logs.get(key)
        if log is None or (log.maxlen or 0) < size:
            log = self._logs[key] = deque(log or (), maxlen=size)
        return log

    def forget(self, prefix: str = "") -> None:
        """Drop the state of every key starting with ``prefix`` (all keys by default).

        A new emulator on a port an old one used starts with empty windows: it forgets that host.

        Example::

            PROCESS_QUOTA.forget("127.0.0.1:8080/")
        """
        with self._lock:
            for table in (self._logs, self._paused):
                for key in [k for k in table if k.startswith(prefix)]:
                    del table[key]

    async def aclose(self) -> None:
        """Nothing to release (memory is freed with the store).

        Example::

            await store.aclose()
        """

    def _after_fork(self) -> None:
        # A thread of the parent may have held the lock at fork(): the child must not inherit it held.
        self._lock = threading.Lock()


def _reinit_after_fork() -> None:
    for store in list(_STORES):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_after_fork)

#: The store every client uses when given no other (its keys name the API host and the workspace).
PROCESS_QUOTA = InProcessQuotaStore()
