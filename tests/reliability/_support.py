"""Shared pieces of the reliability tests: the fault mix, a fault tally, clients on the emulator, figures."""

from __future__ import annotations

import os
import platform
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from moengage_segments import AsyncClient, Client, Cohort, CohortSyncReport, RetryPolicy
from moengage_segments.testing import Emulator, Fault

ROOT = Path(__file__).resolve().parents[2]
#: Small waits so that a soak with thousands of retries still runs in seconds; many attempts so that a run
#: of bad luck (several faults in a row on one batch) never loses a batch.
FAST_RETRY = RetryPolicy(base=0.001, cap=0.01, rate_limit_cap=0.05, max_attempts=25)
#: Short enough for the soak, long enough that a slow fault (``Fault.slow``) is not mistaken for a timeout.
CLIENT_TIMEOUT = 10.0
SLOW = 0.02

#: (fault, probability). Failures alone are ~21% of requests, slow responses another ~2.5%.
FAULT_MIX: tuple[tuple[Fault, float], ...] = (
    (Fault.rate_limited(), 0.05),  # 429, no Retry-After: back off
    (Fault.rate_limited(retry_after=0.01), 0.03),  # 429 with Retry-After: honour it
    (Fault.server_error(500), 0.02),  # 5xx in the cohort envelope
    (Fault.server_error(502, html=True), 0.02),  # a gateway's HTML page
    (Fault.server_error(503, html=True), 0.02),
    (Fault.server_error(503, after=True), 0.01),  # applied, but the client sees a 503: re-sent
    (Fault.connection_reset(), 0.04),  # dropped before handling
    (Fault.connection_reset(after=True), 0.02),  # applied, then dropped: re-sent
    (Fault.slow(SLOW), 0.03),  # slow but successful
)


def fault_label(fault: Fault) -> str:
    if fault.kind == "status":
        label = f"{fault.status}" + (" html" if fault.html else "")
        if fault.status == 429:
            label += " retry-after" if fault.retry_after is not None else " no-hint"
    else:
        label = fault.kind
    return label + (" (after handling)" if fault.after else "")


class FaultTally:
    """Counts the faults the emulator injects, by kind, including whether they were applied *after* handling.

    A fault applied after handling means the service processed the batch but the client never heard so:
    the batch is re-sent. Their number is exactly the number of duplicate deliveries of a run.
    """

    def __init__(self, emu: Emulator) -> None:
        self.counts: Counter[str] = Counter()
        self.applied_then_failed = 0
        injector = emu.faults
        original = injector.next_for

        def next_for(family: str, endpoint: str) -> Fault | None:
            fault = original(family, endpoint)
            if fault is not None:
                self.counts[fault_label(fault)] += 1
                if fault.after:
                    self.applied_then_failed += 1
            return fault

        injector.next_for = next_for  # type: ignore[method-assign]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def failures(self) -> int:
        return self.total - self.counts["delay"]


def install_fault_mix(emu: Emulator, target: str = "cohort") -> FaultTally:
    tally = FaultTally(emu)
    for fault, probability in FAULT_MIX:
        emu.faults.set_random(fault, probability, target=target)
    return tally


def async_client(emu: Emulator, **options: Any) -> AsyncClient:
    kwargs: dict[str, Any] = {
        "base_url": emu.base_url,
        "db_name": emu.db_name,
        "rate_limits": None,
        "retry": FAST_RETRY,
        "timeout": CLIENT_TIMEOUT,
        **options,
    }
    return AsyncClient(emu.workspace_id, emu.api_key, **kwargs)


def sync_client(emu: Emulator, **options: Any) -> Client:
    kwargs: dict[str, Any] = {
        "base_url": emu.base_url,
        "db_name": emu.db_name,
        "rate_limits": None,
        "retry": FAST_RETRY,
        "timeout": CLIENT_TIMEOUT,
        **options,
    }
    return Client(emu.workspace_id, emu.api_key, **kwargs)


def cohort_members(emu: Emulator, cohort: Cohort) -> frozenset[str]:
    segment = emu.cohort_segment(cohort.id)
    return frozenset() if segment is None else emu.members(segment.id)


def assert_accounted(report: CohortSyncReport, *, finished: bool = True) -> None:
    """The report's identity, and the per-batch records agreeing with the totals.

    ``finished``: the run was not interrupted, so every request it started also ended and was counted
    (each part of a batch is sent until it is answered, plus one request per 413 it received, plus retries).
    """
    assert report.submitted == report.accounted, report.to_json()
    assert report.accepted == sum(b.accepted for b in report.batches)
    assert report.failed == sum(b.failed for b in report.batches)
    assert report.skipped == sum(b.members for b in report.batches if b.status == "skipped")
    assert report.not_sent >= sum(b.members - b.accepted - b.failed for b in report.batches if b.status != "skipped")
    for b in report.batches:
        assert b.accepted + b.failed <= b.members
    if finished:
        assert report.requests == sum(b.attempts for b in report.batches)
        sends = sum(b.parts + b.rejected for b in report.batches if b.status != "skipped")
        assert report.requests - report.retries == sends, (report.requests, report.retries, sends)


def figures_line(title: str, **figures: Any) -> str:
    """One line of figures, printed by the tests (``pytest -s`` shows them) and copied into the docs."""
    parts = [
        f"{k}={v:,}" if isinstance(v, int) else f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
        for k, v in figures.items()
    ]
    line = f"[reliability] {title}: " + " ".join(parts)
    print(f"\n{line}", file=sys.stderr if os.environ.get("RELIABILITY_FIGURES_STDERR") else sys.stdout)
    return line


def machine() -> str:
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
