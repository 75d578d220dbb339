"""Test doubles shared by the core tests: a controllable clock and helpers over aioresponses or MockRoutes."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aioresponses import aioresponses

from tests.core._mock import MockRoutes

WORKSPACE = "WS_TEST_42"
API_KEY = "sk-TOPSECRET-4f9a"
BASIC = "Basic " + base64.b64encode(f"{WORKSPACE}:{API_KEY}".encode()).decode()
BASE = "https://api-01.moengage.com"
DB_NAME = "test_db"
SEG_ID = "6388a97a02adb9071ca84ce9"
SEG_ID2 = "63a017e8d2460ae81a05bf5e"


class FakeClock:
    """Virtual time: ``sleep`` records the wait and advances ``now`` instead of sleeping."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        #: Optional coroutine run on each sleep (to block, cancel or close at that moment).
        self.hook: Callable[[float], Awaitable[None]] | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.hook is not None:  # runs before time moves on: the wait is still "in progress"
            await self.hook(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def calls(mocked: aioresponses | MockRoutes) -> list[tuple[str, str, dict[str, Any]]]:
    """Every request seen: (method, url, kwargs), grouped by URL in first-seen order (aioresponses' shape)."""
    if isinstance(mocked, MockRoutes):
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in mocked.requests:
            grouped.setdefault((r.method, r.url), []).append({"data": r.content, "headers": dict(r.headers)})
        return [(m, u, kw) for (m, u), items in grouped.items() for kw in items]
    out = []
    for (method, url), items in mocked.requests.items():
        for item in items:
            out.append((method, str(url), item.kwargs))
    return out


def only_call(mocked: aioresponses | MockRoutes) -> tuple[str, str, dict[str, Any]]:
    seen = calls(mocked)
    assert len(seen) == 1, f"expected exactly one request, got {[(m, u) for m, u, _ in seen]}"
    return seen[0]


def body_of(kwargs: dict[str, Any]) -> Any:
    data = kwargs.get("data")
    assert isinstance(data, bytes), f"body must be sent as bytes, got {type(data).__name__}"
    return json.loads(data)


def sent_bodies(mocked: aioresponses | MockRoutes) -> list[Any]:
    return [body_of(kw) for _, _, kw in calls(mocked) if kw.get("data") is not None]
