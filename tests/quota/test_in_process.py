"""The default quota store: every client of a workspace in one process shares one quota.

Two ``AsyncClient``s and a sync ``Client`` push to one workspace at once against the emulator's documented
cohort window (time-scaled): together they get no 429, while the same clients each pacing alone do.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from moengage_segments import AsyncClient, Client, CohortSyncReport, RetryPolicy, Window
from moengage_segments._async.quota import PROCESS_QUOTA, InProcessQuotaStore
from moengage_segments.testing import Emulator
from tests.quota._support import COHORT, SCALE, SMALL_BODY, scaled_limits, uids_for

#: Three clients of ~130 requests each: more than one window's 300, so the window is hit.
PER_CLIENT = 3_500


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator.in_thread(time_scale=SCALE, accept_any_uid=True) as emulator:
        yield emulator


#: Enough attempts that the control's 429s never exhaust a batch (the default 5 sometimes did: a flaky test).
RETRY = RetryPolicy(max_attempts=25)


def make_async(emu: Emulator, **options: object) -> AsyncClient:
    return AsyncClient(
        emu.workspace_id,
        emu.api_key,
        base_url=emu.base_url,
        db_name=emu.db_name,
        rate_limits=scaled_limits(),
        retry=RETRY,
        **options,  # type: ignore[arg-type]
    )


async def push_three(emu: Emulator, quotas: list[InProcessQuotaStore | None]) -> list[CohortSyncReport]:
    """Two async clients and a sync one push at once; ``quotas[i]`` is client i's store (None: default)."""
    a = make_async(emu, quota=quotas[0])
    b = make_async(emu, quota=quotas[1])
    c = Client(
        emu.workspace_id,
        emu.api_key,
        base_url=emu.base_url,
        db_name=emu.db_name,
        rate_limits=scaled_limits(),
        retry=RETRY,
        quota=quotas[2],
    )
    try:
        return list(
            await asyncio.gather(
                a.cohorts.add_members(COHORT, uids_for("a", PER_CLIENT), max_request_bytes=SMALL_BODY),
                b.cohorts.add_members(COHORT, uids_for("b", PER_CLIENT), max_request_bytes=SMALL_BODY),
                asyncio.to_thread(
                    c.cohorts.add_members, COHORT, uids_for("c", PER_CLIENT), max_request_bytes=SMALL_BODY
                ),
            )
        )
    finally:
        await a.aclose()
        await b.aclose()
        await asyncio.to_thread(c.close)


@pytest.mark.slow
async def test_two_async_clients_and_a_sync_client_share_the_quota(emu: Emulator) -> None:
    reports = await push_three(emu, [None, None, None])
    assert sum(r.requests for r in reports) > 300  # more than one window: the limit was reached
    assert [r.accepted for r in reports] == [PER_CLIENT] * 3
    assert emu.counters.rate_limited == 0
    assert [r.retries for r in reports] == [0, 0, 0]


@pytest.mark.slow
async def test_clients_pacing_alone_draw_429s(emu: Emulator) -> None:
    """The control: the same push with a private store per client overruns the window."""
    reports = await push_three(emu, [InProcessQuotaStore(), InProcessQuotaStore(), InProcessQuotaStore()])
    assert [r.accepted for r in reports] == [PER_CLIENT] * 3  # retried, so nothing is lost...
    assert emu.counters.rate_limited > 0  # ...but the quota was overrun


def test_clients_of_one_workspace_share_the_process_store() -> None:
    one = AsyncClient("WS", "key", base_url="https://api-01.moengage.com")
    two = AsyncClient("WS", "other-key", data_center="01")
    other_ws = AsyncClient("WS2", "key", data_center="01")
    other_host = AsyncClient("WS", "key", data_center="02")
    limiters = [c._transport.limiter for c in (one, two, other_ws, other_host)]
    assert all(limiter.store is PROCESS_QUOTA for limiter in limiters)
    keys = [limiter.family("cohort").key for limiter in limiters]
    assert keys[0] == keys[1] == "api-01.moengage.com/WS/cohort"
    assert keys[2] == "api-01.moengage.com/WS2/cohort" and keys[3] == "api-02.moengage.com/WS/cohort"
    # The same host spelt otherwise (capitals, the scheme's default port) is the same quota.
    spelt = AsyncClient("WS", "key", base_url="https://API-01.moengage.com:443")
    assert spelt._transport.limiter.family("cohort").key == keys[0]
    emulator = AsyncClient("WS", "key", base_url="http://127.0.0.1:8080")
    assert emulator._transport.limiter.family("cohort").key == "127.0.0.1:8080/WS/cohort"


def test_slots_are_logged_in_the_order_they_were_taken() -> None:
    """A thread preempted between reading the clock and taking its slot must not log an older time after a
    newer one: the windows read the log as sorted."""
    read, other_took = threading.Event(), threading.Event()

    def clock() -> float:
        if threading.current_thread().name != "preempted":
            return now
        read.set()
        other_took.wait(0.1)  # preempted here (after the fix: inside the lock, so the other thread waits)
        return 100.0

    now = 100.5
    store, pair = InProcessQuotaStore(clock=clock), (Window(2, 10),)
    preempted = threading.Thread(target=store.take, args=("k", pair, 0.0), name="preempted")
    preempted.start()
    read.wait(1)
    store.take("k", pair, 0.0)
    other_took.set()
    preempted.join(1)
    now = 110.2  # only the request of t=100.5 is still in the window
    assert store.take("k", pair, 0.0) == 0.0


def test_all_windows_are_checked_before_a_slot_is_taken() -> None:
    clock = [0.0]
    store, windows = InProcessQuotaStore(clock=lambda: clock[0]), (Window(5, 60), Window(2, 3600))
    assert [store.take("k", windows, 0.0) for _ in range(2)] == [0.0, 0.0]
    assert store.take("k", windows, 0.0) == 3600.0  # the hour is full...
    clock[0] = 61.0
    assert store.take("k", (Window(5, 60),), 0.0) == 0.0  # ...and the refused call took no minute slot
    assert len(store._logs["k"]) == 3
