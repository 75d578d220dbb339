"""A server that stops answering: the client's ``timeout`` bounds every attempt, and a push still completes.

Regression: the transport passed ``timeout=None`` to aiohttp for every request without a retry deadline,
which aiohttp reads as "no timeout", so a hung server hung the call forever whatever ``timeout=`` said.
"""

from __future__ import annotations

import asyncio

from moengage_segments import APITimeoutError, Cohort, RetryPolicy
from moengage_segments.testing import Emulator, Fault
from tests.reliability._support import assert_accounted, async_client, cohort_members

COHORT = Cohort(id="hung", name="Hung server", partner="reliability")


async def test_a_hung_request_times_out_after_the_client_timeout() -> None:
    async with Emulator(rate_limits=False) as emu, async_client(emu, timeout=0.2, retry=RetryPolicy.none()) as client:
        # The answer would come after 0.6 s: getting APITimeoutError instead shows the 0.2 s timeout applied.
        emu.faults.script(Fault.slow(0.6), target="filter")
        try:
            await asyncio.wait_for(client.segments.list(), 3.0)  # the guard only: the client must give up first
        except APITimeoutError as exc:
            assert exc.attempts == 1
        else:
            raise AssertionError("a 0.6 s answer did not time out with timeout=0.2")


async def test_push_survives_answers_slower_than_the_timeout() -> None:
    uids = [f"h-{i:05d}" for i in range(20_000)]
    async with Emulator(accept_any_uid=True, rate_limits=False, seed=5) as emu:
        # 10% of requests answer after the client gave up: applied by the service, re-sent by the client.
        emu.faults.set_random(Fault.slow(0.3), 0.1, target="cohort")
        async with async_client(emu, timeout=0.1) as client:
            report = await client.cohorts.add_members(COHORT, uids, max_request_bytes=4_000)
        assert report.ok and report.accepted == len(uids) and report.retries > 0
        assert_accounted(report)
        assert cohort_members(emu, COHORT) == frozenset(uids)
