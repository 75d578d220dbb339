"""Client-side pacing policy: which windows apply, the margin, pauses after a 429, following ``x-ratelimit-*``.

The *state* (start times of recent requests, pauses) lives in a quota store (``_async/quota``): in-process by
default, shared by every client of the workspace in the process; a SQLite file or Redis to share it with
other processes and hosts. Connection limits are not rate limits: a request waits here for a slot *before*
it takes a connection, so a queue of paced requests never holds sockets. Within a process, waiters of one
workspace and family are served in arrival order, whatever client, thread or event loop they come from.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from moengage_segments._async.fifo import shared_lock
from moengage_segments._async.quota.base import QuotaStore, horizon
from moengage_segments._async.quota.memory import InProcessQuotaStore
from moengage_segments._async.retry import reset_wait, service_time
from moengage_segments.config import DEFAULT_RATE_LIMITS, RateLimits, Window

__all__ = ["FamilyLimiter", "RateLimiter", "SlotTooFar"]

logger = logging.getLogger("moengage_segments")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class SlotTooFar(Exception):
    """The next slot is further away than the caller is willing to wait (``wait`` seconds)."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        super().__init__(f"next slot in {wait:.1f}s")


class FamilyLimiter:
    """The policy of one endpoint family over a shared sliding-window log (e.g. 50/min, 200/hour, 1000/day).

    A request may start when, in every window, fewer than ``limit`` requests started within the last
    ``period + margin`` seconds; the store decides that atomically for everyone sharing ``key``. Without a
    store the limiter keeps a private in-process one on ``clock``.
    """

    def __init__(
        self,
        windows: tuple[Window, ...],
        margin: float,
        clock: Clock,
        sleep: Sleep,
        *,
        store: QuotaStore | None = None,
        key: str = "",
        follow_raises: bool = False,
    ) -> None:
        self._configured = windows
        self._windows = windows
        self._margin = margin
        self._clock = clock
        self._sleep = sleep
        self._store: QuotaStore = store if store is not None else InProcessQuotaStore(clock=clock)
        self._key = key
        self._follow_raises = follow_raises
        self._gate = shared_lock((id(self._store), key))
        self._paused_until = 0.0  # this limiter's own view; the store holds the shared one
        self._next_slot = 0.0  # when the store last said a slot may be free (clock reading)

    @property
    def windows(self) -> tuple[Window, ...]:
        """The windows this limiter enforces (the configured ones, or what the service reported)."""
        return self._windows

    @property
    def key(self) -> str:
        """The quota key: API host, workspace id and family."""
        return self._key

    def delay(self, now: float | None = None) -> float:
        """Seconds until the next request may start (0 when it may start now).

        Exact for an in-process store; for a shared store, the wait it last reported (other processes may
        take or free slots in the meantime).
        """
        now = self._clock() if now is None else now
        wait = max(self._paused_until, self._next_slot) - now
        if self._windows and isinstance(self._store, InProcessQuotaStore):
            wait = max(wait, self._store.take(self._key, self._windows, self._margin, record=False))
        return max(wait, 0.0)

    async def acquire(self, max_wait: float | None = None, turn_within: float | None = None) -> float:
        """Wait for a slot and take it; returns the seconds spent waiting.

        Raises :class:`SlotTooFar` instead of sleeping when the next slot is more than ``max_wait``
        seconds away (an hourly window, say), so a caller is never silently parked for an hour; and when
        the callers queued ahead keep this one from its turn for more than ``turn_within`` seconds (a call's
        deadline), with the time waited counted against ``max_wait``.
        """
        if not self._windows:
            return await self._wait_out_pause(max_wait)
        waited = 0.0
        if turn_within is None:
            await self._gate.acquire()  # FIFO in this process: the earliest caller gets the next slot
        else:
            queued = self._clock()
            try:
                await self._gate.acquire(timeout=turn_within)
            except asyncio.TimeoutError:  # not the builtin one before Python 3.11
                raise SlotTooFar(max(self.delay(), turn_within)) from None
            if max_wait is not None:
                max_wait = max(max_wait - (self._clock() - queued), 0.0)
        try:
            while True:
                wait = await self._store.acquire(self._key, self._windows, self._margin)
                if wait <= 0:
                    return waited
                if max_wait is not None and wait > max_wait:
                    raise SlotTooFar(wait)
                self._next_slot = self._clock() + wait
                waited += wait
                await self._sleep(wait)  # until the computed slot: no polling in between
        finally:
            self._gate.release()

    async def _wait_out_pause(self, max_wait: float | None) -> float:
        # A family without client-side windows is only ever held by a pause after a 429.
        wait = self._paused_until - self._clock()
        if wait <= 0:
            return 0.0
        if max_wait is not None and wait > max_wait:
            raise SlotTooFar(wait)
        await self._sleep(wait)
        return wait

    async def pause(self, seconds: float) -> None:
        """Hold every caller of this family, in every process sharing the store, for ``seconds``."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        if self._windows:
            await self._store.pause(self._key, seconds)

    async def observe(self, headers: Mapping[str, str]) -> None:
        """Follow the service's ``x-ratelimit-limit``/``-remaining``/``-reset`` headers of one response.

        ``remaining: 0`` pauses every sharer until ``reset`` (at most the longest window). The limit is
        followed for a family with a single window (the header does not say which of several it counts):
        down always, up only from the documented default, so a limit you chose yourself is kept.
        """
        if not self._windows:
            return
        limit = _int(headers.get("x-ratelimit-limit"))
        if limit is not None and limit > 0 and len(self._configured) == 1:
            self._follow_limit(limit)
        if _int(headers.get("x-ratelimit-remaining")) == 0:
            wait = reset_wait(headers, service_time(headers))
            if wait:
                await self.pause(min(wait, horizon(self._windows, self._margin)))

    def _follow_limit(self, limit: int) -> None:
        configured = self._configured[0]
        wanted = limit if self._follow_raises else min(limit, configured.limit)
        if wanted != self._windows[0].limit:
            logger.info(
                "the service reports a limit of %d per %gs for %s (configured: %d); following it",
                limit,
                configured.period,
                self._key,
                configured.limit,
            )
            self._windows = (Window(wanted, configured.period),)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class RateLimiter:
    """The limiters of one client, by family name. ``RateLimiter(None)`` never waits.

    ``store`` holds the state (a private in-process store when omitted) under keys ``scope/family``;
    clients of one workspace pass the same store and scope to share a quota.

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
        store: QuotaStore | None = None,
        scope: str = "",
    ) -> None:
        self.limits = limits
        self.store: QuotaStore = store if store is not None else InProcessQuotaStore(clock=clock)
        margin = limits.margin if limits else 0.0
        self._families = {
            family: FamilyLimiter(
                limits.for_family(family) if limits else (),
                margin,
                clock,
                sleep,
                store=self.store,
                key=f"{scope}/{family}",
                follow_raises=limits is not None
                and limits.for_family(family) == DEFAULT_RATE_LIMITS.for_family(family),
            )
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

    async def acquire(self, family: str, max_wait: float | None = None, turn_within: float | None = None) -> float:
        """Wait for a slot in ``family``; returns the seconds waited (see :meth:`FamilyLimiter.acquire`)."""
        return await self._families[family].acquire(max_wait, turn_within)

    async def pause(self, family: str, seconds: float) -> None:
        """Pause ``family`` for ``seconds`` after the service pushed back."""
        await self._families[family].pause(seconds)

    async def observe(self, family: str, headers: Mapping[str, str]) -> None:
        """Let ``family`` follow the ``x-ratelimit-*`` headers of a response (see :meth:`FamilyLimiter.observe`)."""
        await self._families[family].observe(headers)
