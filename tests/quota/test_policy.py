"""The limiter's policy over a shared store, on a virtual clock: shared pauses, following x-ratelimit-*.

Clients "share" a store here by being given the same ``InProcessQuotaStore``; the same holds for SQLite
and Redis, whose own tests check that the state really crosses processes.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable

import pytest
from aioresponses import aioresponses

from moengage_segments import AsyncClient, Cohort, RateLimitError, RateLimits, RetryPolicy, Window
from moengage_segments._async.quota import InProcessQuotaStore, open_quota
from moengage_segments._async.ratelimit import RateLimiter, SlotTooFar
from moengage_segments.errors import ConfigurationError
from tests.core._support import BASE, FakeClock, calls

LIST = BASE + "/v3/custom-segments"
COHORT_URL = BASE + "/v1/integrations/cohortsync"


def sharing(clock: FakeClock, limits: RateLimits | None = None, n: int = 2) -> list[RateLimiter]:
    """``n`` limiters of one workspace on one store (as ``n`` clients would be)."""
    store = InProcessQuotaStore(clock=clock)
    return [
        RateLimiter(limits or RateLimits(margin=0.0), clock=clock, sleep=clock.sleep, store=store, scope="h/WS")
        for _ in range(n)
    ]


async def test_limiters_sharing_a_store_share_the_window() -> None:
    clock = FakeClock()
    one, two = sharing(clock, RateLimits(cohort=(Window(3, 60),), margin=0.0))
    for limiter in (one, two, one):
        assert await limiter.acquire("cohort") == 0.0
    assert await two.acquire("cohort") == 60.0  # the 4th request of the workspace waits for the window
    assert one.family("cohort").delay() == 0.0  # t=60: the t=0 requests have all left the window


async def test_a_pause_is_shared_by_every_sharer() -> None:
    clock = FakeClock()
    one, two = sharing(clock)
    await one.pause("list", 12.0)
    assert await two.acquire("list") == 12.0
    assert await two.acquire("get") == 0.0  # other families are not held


async def test_remaining_zero_pauses_every_sharer_until_reset() -> None:
    clock = FakeClock()
    one, two = sharing(clock)
    reset = time.time() + 7
    await one.observe(
        "cohort", {"x-ratelimit-limit": "300", "x-ratelimit-remaining": "0", "x-ratelimit-reset": f"{reset}"}
    )
    assert await two.acquire("cohort") == pytest.approx(7.0, abs=0.5)
    await one.observe(
        "cohort", {"x-ratelimit-limit": "300", "x-ratelimit-remaining": "5", "x-ratelimit-reset": f"{reset}"}
    )
    assert await two.acquire("cohort") == 0.0  # remaining > 0: no pause


async def test_reset_is_read_on_the_services_clock_when_ours_is_off_by_an_hour() -> None:
    clock = FakeClock()
    (limiter,) = sharing(clock, n=1)
    service_now = time.time() + 3600  # this host's clock is an hour behind the service's
    headers = {
        "Date": email.utils.formatdate(service_now, usegmt=True),
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": f"{int(service_now) + 5}",
    }
    await limiter.observe("cohort", headers)
    assert await limiter.acquire("cohort") == pytest.approx(5.0, abs=1.0)  # not an hour (nor capped at 60 s)


async def test_a_pause_from_headers_is_at_most_the_longest_window() -> None:
    clock = FakeClock()
    (limiter,) = sharing(clock, n=1)
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": f"{time.time() + 7200}"}
    await limiter.observe("cohort", headers)
    assert await limiter.acquire("cohort", max_wait=61) == pytest.approx(60.0)


async def test_a_raised_limit_is_followed_from_the_documented_default() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(), clock=clock, sleep=clock.sleep)
    await limiter.observe("cohort", {"x-ratelimit-limit": "600", "x-ratelimit-remaining": "599"})
    assert limiter.family("cohort").windows == (Window(600, 60.0),)
    for _ in range(600):
        await limiter.acquire("cohort")
    assert clock.sleeps == []  # the raised quota is used


async def test_a_limit_you_chose_is_kept_unless_the_service_allows_less() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(cohort=(Window(150, 60),)), clock=clock, sleep=clock.sleep)
    await limiter.observe("cohort", {"x-ratelimit-limit": "300"})
    assert limiter.family("cohort").windows == (Window(150, 60.0),)
    await limiter.observe("cohort", {"x-ratelimit-limit": "100"})
    assert limiter.family("cohort").windows == (Window(100, 60.0),)


async def test_the_limit_of_a_family_with_several_windows_is_not_guessed() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(), clock=clock, sleep=clock.sleep)
    await limiter.observe("list", {"x-ratelimit-limit": "200", "x-ratelimit-remaining": "150"})
    assert limiter.family("list").windows == RateLimits().list


async def test_headers_are_ignored_without_client_side_limits() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    await limiter.observe("cohort", {"x-ratelimit-remaining": "0", "x-ratelimit-reset": f"{time.time() + 30}"})
    assert await limiter.acquire("cohort") == 0.0


async def test_garbage_headers_are_ignored() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(), clock=clock, sleep=clock.sleep)
    await limiter.observe(
        "cohort", {"x-ratelimit-limit": "lots", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "soon"}
    )
    assert limiter.family("cohort").windows == RateLimits().cohort
    assert await limiter.acquire("cohort") == 0.0


async def test_a_429_seen_by_one_client_holds_the_other(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, clock: FakeClock
) -> None:
    store = InProcessQuotaStore(clock=clock)
    mocked.get(LIST, status=429, headers={"Retry-After": "10"})
    mocked.get(LIST, payload={"data": []}, repeat=True)
    first = make_client(rate_limits=RateLimits(margin=0.0), quota=store)
    second = make_client(rate_limits=RateLimits(margin=0.0), quota=store)
    await first.segments.list()  # 429, waits 10 s, retried
    assert clock.sleeps == [10.0]
    clock.now -= 5  # the other client asks 5 s into that pause
    await second.segments.list()
    assert clock.sleeps == [10.0, 5.0] and len(calls(mocked)) == 3


async def test_a_response_with_remaining_zero_holds_the_next_request(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, clock: FakeClock
) -> None:
    headers = {"x-ratelimit-limit": "300", "x-ratelimit-remaining": "0", "x-ratelimit-reset": f"{time.time() + 20}"}
    mocked.post(COHORT_URL, payload={"status": "success"}, headers=headers)
    mocked.post(COHORT_URL, payload={"status": "success"})
    client = make_client(rate_limits=RateLimits(margin=0.0))
    cohort = Cohort(id="c", name="C", partner="p")
    await client.cohorts.send_batch(cohort, "add_members", ["u1"])
    await client.cohorts.send_batch(cohort, "add_members", ["u1"])
    assert len(clock.sleeps) == 1 and clock.sleeps[0] == pytest.approx(20.0, abs=1.0)


def test_quota_setting_is_checked() -> None:
    assert open_quota(None, {}) == open_quota("memory://", {}) == (None, False)  # the process-wide store
    store = InProcessQuotaStore()
    assert open_quota(store, {}) == (store, False)
    with pytest.raises(ConfigurationError, match="quota must be a quota store or a URL"):
        open_quota(42, {})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"^quota: unsupported quota store URL \(scheme 'ftp'\)"):
        open_quota("ftp://x", {})
    with pytest.raises(ConfigurationError, match=r"^MOENGAGE_QUOTA_URL: unsupported"):
        open_quota(None, {"MOENGAGE_QUOTA_URL": "nope"})


def test_a_password_in_a_quota_url_is_never_echoed() -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_quota("bogus://user:s3cret-pw@host:1/0", {})
    assert "s3cret-pw" not in str(caught.value) and "scheme 'bogus'" in str(caught.value)


@pytest.mark.parametrize("misplaced", ["sk-live-0123456789", "redis://127.0.0.1:sk-live-0123456789/0"])
def test_a_key_put_in_the_quota_setting_is_never_echoed(misplaced: str) -> None:
    """The API key in MOENGAGE_QUOTA_URL, or where a Redis URL's port goes, is not repeated."""
    with pytest.raises(ConfigurationError, match=r"unsupported quota store URL|unusable Redis URL") as caught:
        open_quota(None, {"MOENGAGE_QUOTA_URL": misplaced})
    assert "sk-live" not in str(caught.value) and "a str of" in str(caught.value)


async def test_cancelled_waiters_take_no_slot_and_free_the_queue() -> None:
    """One waiter sleeps for its slot (holding the turn), one queues behind it; both are cancelled."""
    clock, blocked = FakeClock(), asyncio.Event()

    async def hold(seconds: float) -> None:
        await blocked.wait()  # the sleep is "in progress" until cancelled

    clock.hook = hold
    first, sleeper, queued = (
        limiter.family("cohort") for limiter in sharing(clock, RateLimits(cohort=(Window(1, 60),), margin=0.0), n=3)
    )
    assert await first.acquire() == 0.0  # the window's only slot
    sleeping = asyncio.create_task(sleeper.acquire())
    waiting = asyncio.create_task(queued.acquire())
    for _ in range(3):
        await asyncio.sleep(0)
    assert clock.sleeps == [60.0] and first._gate.waiting == 1
    for task in (waiting, sleeping):
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    clock.hook = None
    with pytest.raises(SlotTooFar):  # the turn is free: the next caller is answered at once
        await asyncio.wait_for(queued.acquire(max_wait=1.0), 1)
    clock.advance(60)
    assert await asyncio.wait_for(sleeper.acquire(), 1) == 0.0  # the slot the cancelled ones did not take


async def test_a_call_with_a_deadline_does_not_queue_past_it_behind_another_clients_wait(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, clock: FakeClock
) -> None:
    """Waiters of one quota queue first-come, first-served across clients; ``deadline`` bounds that queue too."""
    mocked.get(LIST, payload={"data": []}, repeat=True)
    store, limits = InProcessQuotaStore(clock=clock), RateLimits(list=(Window(1, 60),), margin=0.0)
    patient = make_client(rate_limits=limits, quota=store)
    hurried = make_client(rate_limits=limits, quota=store, retry=RetryPolicy(deadline=0.1, jitter=False))
    await patient.segments.list()  # the window's only slot
    blocked = asyncio.Event()

    async def hold(seconds: float) -> None:
        await blocked.wait()  # the patient call's 60 s wait is in progress

    clock.hook = hold
    waiting = asyncio.create_task(patient.segments.list())
    await asyncio.sleep(0)
    with pytest.raises(RateLimitError) as caught:  # at its deadline, not when the patient call is served
        await asyncio.wait_for(hurried.segments.list(), 2)
    assert caught.value.details["client_side"] is True and len(calls(mocked)) == 1
    waiting.cancel()
