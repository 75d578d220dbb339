"""Fault soak: a million uids through ``add_members`` while ~22% of requests fail or crawl.

The emulator injects 429s (with and without ``Retry-After``), 500/502/503 (JSON envelopes and a gateway's
HTML page), connection resets (before and after the batch was applied) and slow responses. The run must
end with the emulator's membership equal to the input, every uid accounted for in the report, the
client's request and retry counts equal to what the server saw, and duplicates limited to the batches
whose success the client provably never heard about.
"""

from __future__ import annotations

import time

import pytest

from moengage_segments import Cohort, CohortSyncReport
from moengage_segments.testing import Emulator
from tests.reliability._support import (
    FaultTally,
    assert_accounted,
    async_client,
    cohort_members,
    figures_line,
    install_fault_mix,
    sync_client,
)

N = 1_000_000
#: Smaller bodies than the 128 KB default: ~1,400 batches, so the fault mix hits hundreds of requests.
BODY = 16_000
COHORT = Cohort(id="soak", name="Fault soak", partner="reliability")


def uids(n: int, prefix: str) -> list[str]:
    return [f"{prefix}-{i:07d}" for i in range(n)]


def check_soak(
    emu: Emulator, tally: FaultTally, report: CohortSyncReport, sent: list[str], elapsed: float, title: str
) -> None:
    assert report.ok, report.to_json()
    assert (report.submitted, report.accepted, report.invalid, report.duplicates) == (len(sent), len(sent), 0, 0)
    assert_accounted(report)
    assert cohort_members(emu, COHORT) == frozenset(sent)

    served = emu.counters.requests_by_endpoint["cohort_sync"]
    statuses = emu.counters.statuses
    assert report.requests == served  # every attempt reached the emulator and was counted by the client
    assert report.bytes == emu.counters.bytes_received
    assert statuses[200] == len(report.batches)  # each batch answered 200 exactly once
    assert report.retries == served - statuses[200] == tally.failures  # every failure retried, nothing else
    assert all(b.status == "accepted" and b.parts == 1 for b in report.batches)
    # The fault mix really was hostile: at least 15% of the requests failed (slow ones not counted).
    assert tally.failures / served >= 0.15, tally.counts
    assert tally.counts["delay"] > 0 and tally.applied_then_failed > 0
    # Duplicates delivered to the service are exactly the batches applied whose answer was lost.
    duplicates = tally.applied_then_failed
    figures_line(
        title,
        uids=len(sent),
        batches=len(report.batches),
        requests=report.requests,
        retries=report.retries,
        fault_rate=f"{tally.total / served:.1%}",
        failure_rate=f"{tally.failures / served:.1%}",
        duplicates_resent=duplicates,
        seconds=elapsed,
        uids_per_s=int(len(sent) / elapsed),
        faults=dict(sorted(tally.counts.items())),
    )


@pytest.mark.slow
async def test_async_soak_one_million_uids_under_faults() -> None:
    sent = uids(N, "async")
    async with Emulator(accept_any_uid=True, rate_limits=False, seed=8, request_log_size=100) as emu:
        tally = install_fault_mix(emu)
        async with async_client(emu) as client:
            started = time.perf_counter()
            report = await client.cohorts.add_members(COHORT, sent, max_request_bytes=BODY)
            elapsed = time.perf_counter() - started
        check_soak(emu, tally, report, sent, elapsed, "async soak")


@pytest.mark.slow
def test_sync_soak_one_million_uids_under_faults() -> None:
    sent = uids(N, "sync")
    with Emulator.in_thread(accept_any_uid=True, rate_limits=False, seed=9, request_log_size=100) as emu:
        tally = install_fault_mix(emu)
        with sync_client(emu) as client:
            started = time.perf_counter()
            report = client.cohorts.add_members(COHORT, iter(sent), max_request_bytes=BODY)  # a generator
            elapsed = time.perf_counter() - started
        check_soak(emu, tally, report, sent, elapsed, "sync soak")
