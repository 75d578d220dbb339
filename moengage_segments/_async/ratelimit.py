"""Client-side pacing: one sliding-window limiter per endpoint family, shared by all users of a client.

Connection limits are not rate limits: a request waits here for a slot *before* it takes a connection,
so a queue of paced requests never holds sockets. A 429 from the service pauses the family for the wait
the retry policy chose, so concurrent senders slow down together instead of each tripping the limit.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from moengage_segments.config import RateLimits, Window

__all__ = ["FamilyLimiter", "RateLimiter", "SlotTooFar"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class SlotTooFar(Exception):
    """The next slot is further away than the caller is willing to wait (``wait`` seconds)."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        super().__init__(f"next slot in {wait:.1f}s")


class FamilyLimiter:
    """A sliding-window log over one or more windows (e.g. 50/min and 200/hour and 1000/day).

    Each window keeps the start times of its last ``limit`` requests; a new request may start when, in
    every window, fewer than ``limit`` requests started within the last ``period + margin`` seconds.
    Memory is bounded by the largest limit.
    """

    def __init__(self, windows: tuple[Window, ...], margin: float, clock: Clock, sleep: Sleep) -> None:
        self._windows = windows
        self._logs: list[deque[float]] = [deque(maxlen=w.limit) for w in windows]
        self._margin = margin
        self._clock = clock
        self._sleep = sleep
        self._paused_until = 0.0
        self._lock: asyncio.Lock | None = None

    @property
    def windows(self) -> tuple[Window, ...]:
        """The windows this limiter enforces."""
        return self._windows

    def delay(self, now: float | None = None) -> float:
        """Seconds until the next request may start (0 when it may start now)."""
        now = self._clock() if now is None else now
        wait = self._paused_until - now
        for window, log in zip(self._windows, self._logs, strict=False):
            if len(log) >= window.limit:
                wait = max(wait, log[0] + window.period + self._margin - now)
        return max(wait, 0.0)

    async def acquire(self, max_wait: float | None = None) -> float:
        """Wait for a slot and take it; returns the seconds spent waiting.

        Raises :class:`SlotTooFar` instead of sleeping when the next slot is more than ``max_wait``
        seconds away (an hourly window, say), so a caller is never silently parked for an hour.
        """
        if not self._windows and self._paused_until <= 0:
            return 0.0
        if self._lock is None:
            self._lock = asyncio.Lock()
        waited = 0.0
        async with self._lock:  # FIFO: the earliest caller gets the next slot
            while True:
                now = self._clock()
                wait = self.delay(now)
                if wait <= 0:
                    for log in self._logs:
                        log.append(now)
                    return waited
                if max_wait is not None and wait > max_wait:
                    raise SlotTooFar(wait)
                waited += wait
                await self._sleep(wait)

    def pause(self, seconds: float) -> None:
        """Hold every caller of this family for ``seconds`` (used after a 429)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)


class RateLimiter:
    """The limiters of one client, by family name. ``RateLimiter(None)`` never waits.

    Example::

        limiter = RateLimiter(RateLimits())
        await limiter.acquire("cohort")
    """

    def __init__(
        self,
        limits: RateLimits | None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.limits = limits
        margin = limits.margin if limits else 0.0
        self._families = {
            family: FamilyLimiter(limits.for_family(family) if limits else (), margin, clock, sleep)
            for family in RateLimits.families()
        }

    def family(self, name: str) -> FamilyLimiter:
        """The limiter of one family (``"cohort"``, ``"list"``, ``"create"``, ...)."""
        return self._families[name]

    def next_slot(self, family: str) -> float:
        """Seconds until ``family`` has a free slot (0 when one is free now); read by progress reports.

        Example::

            print(f"next cohort slot in {limiter.next_slot('cohort'):.0f}s")
        """
        return self._families[family].delay()

    async def acquire(self, family: str, max_wait: float | None = None) -> float:
        """Wait for a slot in ``family``; returns the seconds waited (see :meth:`FamilyLimiter.acquire`)."""
        return await self._families[family].acquire(max_wait)

    def pause(self, family: str, seconds: float) -> None:
        """Pause ``family`` for ``seconds`` after the service pushed back."""
        self._families[family].pause(seconds)
