"""A server smaller than expected: the client packs 128 KB bodies, the service takes only 64 KB (or less).

Every over-size batch is answered 413 and split in two until the parts fit; nothing is lost, nothing is
counted twice, and the parts that reach the service all fit under its cap.
"""

from __future__ import annotations

import time

import pytest

from moengage_segments import Cohort, CohortSyncReport
from moengage_segments.config import DEFAULT_MAX_REQUEST_BYTES
from moengage_segments.testing import Emulator
from tests.reliability._support import (
    assert_accounted,
    async_client,
    cohort_members,
    figures_line,
    install_fault_mix,
)

COHORT = Cohort(id="small", name="Small server", partner="reliability")


def check_split(emu: Emulator, report: CohortSyncReport, sent: list[str], cap: int) -> None:
    assert report.ok, report.to_json()
    assert report.accepted == len(set(sent)) and report.failed == 0
    assert_accounted(report)
    assert cohort_members(emu, COHORT) == frozenset(sent)
    # Every 413 is reported, the run learns the cap (no more than one 413 per split, and usually far fewer),
    # and every body the service accepted fits under its cap.
    splits = sum(b.parts - 1 for b in report.batches)
    assert 0 < emu.counters.statuses[413] == sum(b.rejected for b in report.batches) <= splits
    accepted_sizes = [r.body_size for r in emu.requests if r.endpoint == "cohort_sync" and r.status == 200]
    assert accepted_sizes and max(accepted_sizes) <= cap
    assert all(b.status == "accepted" for b in report.batches)


async def test_64kb_server_128kb_client_splits_without_loss() -> None:
    sent = [f"small-{i:07d}" for i in range(200_000)]
    cap = 64 * 1024
    async with (
        Emulator(accept_any_uid=True, rate_limits=False, max_cohort_body_bytes=cap, request_log_size=100_000) as emu,
        async_client(emu) as client,
    ):
        started = time.perf_counter()
        report = await client.cohorts.add_members(COHORT, sent)  # default budget: 128,000 bytes
        elapsed = time.perf_counter() - started
        check_split(emu, report, sent, cap)
        assert all(b.parts == 2 for b in report.batches[:-1])  # 128 KB -> two halves of ~64 KB
        # Mostly the batches already in flight (8) when the first 413 came back are rejected; later ones
        # split up front (a body a few bytes under the smallest rejected one may still be tried once).
        assert emu.counters.statuses[413] <= 2 * 8 < sum(b.parts - 1 for b in report.batches)
    figures_line(
        "64 KB server, 128 KB client",
        uids=len(sent),
        batches=len(report.batches),
        requests=report.requests,
        status_413=emu.counters.statuses[413],
        seconds=elapsed,
        client_budget=DEFAULT_MAX_REQUEST_BYTES,
    )


@pytest.mark.parametrize("cap", [20_000, 9_000])
async def test_much_smaller_server_splits_recursively_with_unicode_uids(cap: int) -> None:
    # Multi-byte uids and JSON escapes: the halves are cut by member count, their sizes differ.
    sent = [f'ü-{i}-"q"-日本-{"é" * (i % 40)}' for i in range(30_000)]
    async with (
        Emulator(accept_any_uid=True, rate_limits=False, max_cohort_body_bytes=cap, request_log_size=100_000) as emu,
        async_client(emu) as client,
    ):
        report = await client.cohorts.add_members(COHORT, sent)
        check_split(emu, report, sent, cap)
        assert max(b.parts for b in report.batches) >= 8  # split at least three levels deep


async def test_cap_lowered_mid_run_under_faults() -> None:
    """The service shrinks its cap while the push runs, while 5xx/429/resets keep coming."""
    sent = [f"mid-{i:07d}" for i in range(150_000)]
    async with Emulator(accept_any_uid=True, rate_limits=False, seed=3, request_log_size=100_000) as emu:
        install_fault_mix(emu)
        shrunk = False

        def on_progress(progress: object) -> None:
            nonlocal shrunk
            if not shrunk:
                emu.config.max_cohort_body_bytes = 64 * 1024
                shrunk = True

        async with async_client(emu) as client:
            report = await client.cohorts.add_members(COHORT, sent, on_progress=on_progress)
        assert shrunk
        assert report.ok and report.accepted == len(sent)
        assert_accounted(report)
        assert cohort_members(emu, COHORT) == frozenset(sent)
        assert sum(b.rejected for b in report.batches) == emu.counters.statuses[413] > 0


async def test_a_single_uid_too_large_for_the_server_fails_alone() -> None:
    """A body that cannot be split further (one member) fails with the 413, and only that member."""
    huge = "h" * 50_000
    sent = ["a", huge, "b"]
    async with (
        Emulator(accept_any_uid=True, rate_limits=False, max_cohort_body_bytes=20_000) as emu,
        async_client(emu) as client,
    ):
        report = await client.cohorts.add_members(COHORT, sent)
        assert (report.accepted, report.failed, report.not_sent) == (2, 1, 0)
        assert_accounted(report)
        assert cohort_members(emu, COHORT) == frozenset({"a", "b"})
        [batch] = report.batches
        assert batch.status == "partial" and "413" in (batch.error or "")
