"""Client-side pacing on a virtual clock: exact windows, several windows at once, 429 pauses, no-limit mode."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from moengage_segments import AsyncClient, RateLimitError, RateLimits, RetryPolicy, Window
from moengage_segments._async.ratelimit import FamilyLimiter, RateLimiter
from tests.core._mock import MockRoutes
from tests.core._support import BASE, SEG_ID, FakeClock, calls

LIST = BASE + "/v3/custom-segments"


def limiter(clock: FakeClock, *windows: Window, margin: float = 0.0) -> FamilyLimiter:
    return FamilyLimiter(tuple(windows), margin, clock, clock.sleep)


async def test_window_allows_n_then_waits_exactly_for_the_oldest_to_expire() -> None:
    clock = FakeClock()
    family = limiter(clock, Window(3, 60))
    for _ in range(3):
        assert await family.acquire() == 0.0
    assert clock.sleeps == []
    clock.advance(10)
    assert await family.acquire() == 50.0  # the first request leaves the window 60 s after it started
    assert clock.sleeps == [50.0]
    assert family.delay() == 0.0  # t=60: the two other t=0 requests have left the window too


async def test_sliding_window_counts_each_request_start() -> None:
    clock = FakeClock()
    family = limiter(clock, Window(2, 60))
    await family.acquire()  # t=0
    clock.advance(30)
    await family.acquire()  # t=30
    assert family.delay() == 30.0
    await family.acquire()  # waits until t=60, when the t=0 request leaves the window
    assert clock.sleeps == [30.0]
    assert family.delay() == 30.0  # the next one waits for the t=30 request: until t=90


async def test_margin_is_added_to_each_wait() -> None:
    clock = FakeClock()
    family = limiter(clock, Window(1, 60), margin=0.25)
    await family.acquire()
    await family.acquire()
    assert clock.sleeps == [60.25]


async def test_several_windows_are_enforced_together() -> None:
    clock = FakeClock()
    family = limiter(clock, Window(2, 60), Window(3, 3600))
    for _ in range(4):
        await family.acquire()
    # 2 at t=0; the 3rd waits for the minute window; the 4th for the hour window (t=0 + 3600).
    assert clock.sleeps == [60.0, 3540.0]


async def test_documented_default_windows() -> None:
    limits = RateLimits()
    assert limits.for_family("cohort") == (Window(300, 60),)
    assert (
        limits.for_family("list")
        == limits.for_family("create")
        == (Window(50, 60), Window(200, 3600), Window(1000, 86400))
    )
    assert limits.for_family("get") == (Window(100, 60), Window(1000, 3600), Window(4000, 86400))
    assert limits.for_family("file_ops") == (Window(10, 3600), Window(100, 86400))
    assert limits.for_family("update") == limits.for_family("manage") == ()
    assert set(RateLimits.families()) == {"cohort", "list", "create", "get", "file_ops", "update", "manage"}
    fast = limits.scaled(1 / 60)
    assert fast.cohort == (Window(300, 1.0),) and fast.margin == pytest.approx(0.25 / 60)


async def test_default_cohort_limit_paces_the_301st_request() -> None:
    clock = FakeClock()
    rl = RateLimiter(RateLimits(margin=0.0), clock=clock, sleep=clock.sleep)
    for _ in range(300):
        await rl.acquire("cohort")
    assert clock.sleeps == []
    await rl.acquire("cohort")
    assert clock.sleeps == [60.0]


async def test_no_limits_never_waits() -> None:
    clock = FakeClock()
    rl = RateLimiter(None, clock=clock, sleep=clock.sleep)
    for family in RateLimits.families():
        for _ in range(5_000 if family == "cohort" else 200):
            assert await rl.acquire(family) == 0.0
    assert clock.sleeps == []


async def test_unlimited_family_never_waits() -> None:
    clock = FakeClock()
    rl = RateLimiter(RateLimits(), clock=clock, sleep=clock.sleep)
    for _ in range(1_000):
        await rl.acquire("update")
        await rl.acquire("manage")
    assert clock.sleeps == []


async def test_pause_holds_every_caller_of_the_family_only() -> None:
    clock = FakeClock()
    rl = RateLimiter(RateLimits(), clock=clock, sleep=clock.sleep)
    await rl.pause("list", 12.0)
    assert await rl.acquire("get") == 0.0
    results = await asyncio.gather(rl.acquire("list"), rl.acquire("list"))
    assert results[0] == 12.0 and results[1] == 0.0  # the second was queued behind the first, same instant
    assert clock.sleeps == [12.0]


async def test_client_paces_requests(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    routes.get(LIST, payload={"data": []}, repeat=True)
    client = make_client(rate_limits=RateLimits(list=(Window(2, 60),), margin=0.0))
    for _ in range(5):
        await client.segments.list()
    assert len(calls(routes)) == 5
    assert clock.sleeps == [60.0, 60.0]  # requests at t=0, 0, 60, 60, 120


async def test_client_without_limits_never_waits(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    routes.get(LIST, payload={"data": []}, repeat=True)
    client = make_client(rate_limits=None)
    await asyncio.gather(*(client.segments.list() for _ in range(120)))
    assert clock.sleeps == [] and len(calls(routes)) == 120


async def test_a_429_pauses_the_family_for_concurrent_tasks(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    routes.get(LIST, status=429, headers={"Retry-After": "10"})
    routes.get(LIST, payload={"data": [{"id": SEG_ID, "name": "b"}]}, repeat=True)
    client = make_client(rate_limits=RateLimits(margin=0.0))
    other: list[asyncio.Task[object]] = []

    async def during_first_wait(seconds: float) -> None:
        if not other:  # task A is waiting out its 429: task B starts now, on the same family
            other.append(asyncio.create_task(client.segments.list()))
            await other[0]

    clock.hook = during_first_wait
    await client.segments.list()
    assert clock.sleeps == [10.0, 10.0]  # A's retry wait, and B held by the limiter for the same pause
    assert len(calls(routes)) == 3


async def test_waiting_for_a_slot_holds_no_connection(
    make_client: Callable[..., AsyncClient], clock: FakeClock
) -> None:
    """With one connection, a call queued by the limiter must not stop another family's call."""

    async def list_handler(request: web.Request) -> web.Response:
        return web.json_response({"data": []})

    async def get_handler(request: web.Request) -> web.Response:
        return web.json_response({"data": {"id": SEG_ID, "name": "s"}})

    app = web.Application()
    app.router.add_get("/v3/custom-segments", list_handler)
    app.router.add_get("/v3/custom-segments/{id}", get_handler)
    waiting, release = asyncio.Event(), asyncio.Event()

    async def hold(seconds: float) -> None:
        waiting.set()
        await release.wait()

    async with TestServer(app, host="127.0.0.1") as server:
        client = make_client(
            base_url=str(server.make_url("")).rstrip("/"),
            max_connections=1,
            rate_limits=RateLimits(get=(Window(1, 60),), list=(), margin=0.0),
        )
        await client.segments.get(SEG_ID)
        clock.hook = hold
        queued = asyncio.create_task(client.segments.get(SEG_ID))
        await asyncio.wait_for(waiting.wait(), 2)
        assert await asyncio.wait_for(client.segments.list(), 2) == []
        assert not queued.done()
        release.set()
        assert (await asyncio.wait_for(queued, 2)).id == SEG_ID


async def test_replace_counts_in_the_file_ops_limit(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    """Assumption: replace is counted with create/add/remove (the docs name only those three)."""
    for path in ("file-segment", "file-segment/add-users", "file-segment/remove-users", "file-segment/replace"):
        routes.add(
            f"{BASE}/v2/custom-segments/{path}",
            "POST" if path == "file-segment" else "PUT",
            status=202,
            payload={"cs_id": SEG_ID},
            repeat=True,
        )
    routes.patch(f"{BASE}/v2/custom-segments/archive", payload={"success": True})
    client = make_client(rate_limits=RateLimits(file_ops=(Window(3, 3600),), margin=0.0))
    url = "https://h.example/f.csv"
    await client.file_segments.create("s", file_url=url, expiry_days=1)
    await client.file_segments.add_users("s", file_url=url)
    await client.file_segments.remove_users("s", file_url=url)
    assert clock.sleeps == []
    with pytest.raises(RateLimitError) as caught:  # the 4th operation in the hour: no slot within a minute
        await client.file_segments.replace_users("s", file_url=url)
    assert caught.value.retry_after == 3600.0 and caught.value.attempts == 0
    assert clock.sleeps == [] and len(calls(routes)) == 3  # nothing was sent, nobody was parked
    await client.segments.archive("s")  # another family: not held
    assert clock.sleeps == []


async def test_limiter_waits_at_most_rate_limit_cap_or_the_deadline(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    """A minute window is waited out (that is pacing); an hourly one, or a wait past the deadline, is not."""
    routes.get(LIST, payload={"data": []}, repeat=True)
    client = make_client(rate_limits=RateLimits(list=(Window(1, 60),), margin=0.0))
    await client.segments.list()
    await client.segments.list()  # waits the minute
    assert clock.sleeps == [60.0]
    strict = make_client(rate_limits=RateLimits(list=(Window(1, 60),), margin=0.0), retry=RetryPolicy(deadline=5.0))
    await strict.segments.list()
    with pytest.raises(RateLimitError) as caught:
        await strict.segments.list()
    assert caught.value.retry_after == 60.0 and caught.value.details["client_side"] is True
    assert "nothing was sent" in str(caught.value) and clock.sleeps == [60.0]
