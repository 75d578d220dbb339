"""The one protocol every quota store implements, and what stores share.

A store keeps the start times of requests per key (API host, workspace, endpoint family) and answers one
question atomically: "may a request start now under these windows?". The policy (which windows, the safety
margin, pausing after a 429, following ``x-ratelimit-*``) belongs to the limiter, not to the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlencode, urlsplit

from moengage_segments.config import Window

__all__ = ["QuotaStore", "horizon", "longest_limit", "safe_url"]


@runtime_checkable
class QuotaStore(Protocol):
    """Where a client's rate-limit state lives (the docs page *Running several pushers* compares the stores).

    Every method is a coroutine and must be safe to call from any task. A store measures time with its own
    clock (the process's, the host's, or the Redis server's) and only ever hands out durations, so callers
    on other hosts with other clocks agree.

    Example::

        store = InProcessQuotaStore()
        wait = await store.acquire("api-01.moengage.com/WS/cohort", (Window(300, 60.0),), 0.25)
        if wait == 0.0:
            ...  # the slot was taken: send now
    """

    async def acquire(self, key: str, windows: Sequence[Window], margin: float) -> float:
        """Take a slot for ``key`` and return ``0.0``, or take nothing and return the seconds to wait.

        A slot is free when no pause holds ``key`` and, in every window, fewer than ``limit`` requests
        started within the last ``period + margin`` seconds. Check and record are one atomic step over all
        windows, so a caller never holds the minute slot while the hour is full.

        Example::

            wait = await store.acquire("api-01.moengage.com/WS/list", RateLimits().list, 0.25)
        """
        ...

    async def pause(self, key: str, seconds: float) -> None:
        """Hold every acquire of ``key`` for ``seconds`` from now (the later of this and a current pause).

        Example::

            await store.pause("api-01.moengage.com/WS/cohort", 10.0)  # after a 429 with Retry-After: 10
        """
        ...

    async def aclose(self) -> None:
        """Release connections or files; idempotent.

        Example::

            await store.aclose()
        """
        ...


def longest_limit(windows: Sequence[Window]) -> int:
    """How many start times the windows need to remember (the largest ``limit``)."""
    return max((w.limit for w in windows), default=0)


def horizon(windows: Sequence[Window], margin: float) -> float:
    """How long a start time matters: the longest period plus the margin."""
    return max((w.period for w in windows), default=0.0) + margin


def safe_url(url: str) -> str:
    """``url`` with any password (in the user-info or a ``password=`` query parameter) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "(an unreadable URL)"
    if password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k.lower() == "password" for k, _ in query):  # redis-py reads a password from the query too
        hidden = [(k, "***" if k.lower() == "password" else v) for k, v in query]
        parts = parts._replace(query=urlencode(hidden, safe="*:"))
    return parts.geturl()
