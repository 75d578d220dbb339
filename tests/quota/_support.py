"""Shared by the quota tests: scaled limits, uids that make many small requests, and quota measurements."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from moengage_segments import Cohort, RateLimits, Window
from moengage_segments._async.packing import CohortEnvelope, wire_form
from moengage_segments.testing import RequestRecord

#: A "minute" lasts 60 / SCALE real seconds, at the emulator and in the clients.
SCALE = 60.0
#: Real seconds added to each scaled window: scaling shrinks the default margin to 4 ms, but the latency
#: between taking a slot and reaching the server (a busy 2-core machine, several processes, the suite's two
#: workers) does not shrink. 50 ms drew the odd 429 there; 150 ms is 15% of the scaled minute.
MARGIN = 0.15
LIMIT = 300  # the documented cohort-sync window: 300 requests a minute
PERIOD = 60.0 / SCALE
COHORT = Cohort(id="shared-quota", name="Shared quota", partner="tests")
#: ~27 uids a request: many requests from few uids, cheap for client and emulator alike.
SMALL_BODY = 700

# The multi-process tests: a cohort window of 100 a minute, a minute lasting 2 s. At that pace four pushers
# and the emulator stay far from what 2 busy cores can do, so the share measured is the pacing's, not the
# machine's; and the margin (80 ms, for the latency jitter of a loaded machine) is 4% of the window.
MP_SCALE = 20.0
MP_LIMIT = 30
MP_MARGIN = 0.08
MP_PERIOD = 60.0 / MP_SCALE
#: Requests (one uid each) of each of four pushers: two windows' worth in all.
MP_REQUESTS_EACH = MP_LIMIT // 2
#: A body with room for one uid of ``uids_for`` (up to 16 characters) and never two: one uid, one request.
ONE_UID_BODY = len(CohortEnvelope(COHORT, "add_members").body([wire_form("x" * 16)]))


def scaled_limits(scale: float = SCALE, margin: float = MARGIN, cohort: int = LIMIT) -> RateLimits:
    """The documented limits (cohort: ``cohort`` a minute) with time scaled like the emulator's.

    The margin stays in real seconds.
    """
    limits = RateLimits(cohort=(Window(cohort, 60.0),))
    return attrs.evolve(limits.scaled(1 / scale), margin=margin)


def uids_for(tag: str, n: int) -> list[str]:
    """``n`` distinct uids, unique to ``tag``."""
    return [f"{tag}-{i:08d}" for i in range(n)]


def requests_per_client(records: Sequence[RequestRecord]) -> list[int]:
    """How many cohort requests each client (``User-Agent``) got through, most first."""
    seen = collections.Counter(r.client for r in records if r.endpoint == "cohort_sync" and r.status == 200)
    return sorted(seen.values(), reverse=True)


def quota_share(records: Sequence[RequestRecord], limit: int = MP_LIMIT, period: float = MP_PERIOD) -> float:
    """The share of the quota the cohort requests used, the way a sliding window is used.

    Request ``i`` may arrive once request ``i - limit`` is a full period old, so when pushers use all of
    the quota, ``arrival[i] - arrival[i - limit]`` is one period; the share is the period over the mean of
    those gaps (1.0 = all of it). Needs more than ``limit`` requests.
    """
    times = sorted(r.time for r in records if r.endpoint == "cohort_sync" and r.status == 200)
    gaps = [times[i] - times[i - limit] for i in range(limit, len(times))]
    if not gaps:
        raise AssertionError(f"{len(times)} requests: too few to measure a {limit}-request window")
    return period / (sum(gaps) / len(gaps))


REPO = Path(__file__).resolve().parents[2]


def run_pushers(
    base_url: str,
    quotas: Sequence[str | None],
    uids_each: int,
    *,
    offsets: Sequence[float] = (),
    no_retry: bool = False,
    timeout: float = 120.0,
) -> list[dict[str, Any]]:
    """Start one pusher process per entry of ``quotas`` (its quota URL), let them push at once, collect results.

    ``offsets[i]`` skews process i's clocks by that many seconds.
    """
    procs = []
    try:
        for i, quota in enumerate(quotas):
            command = [sys.executable, "-m", "tests.quota._pusher", base_url, f"p{i}", str(uids_each)]
            if quota is not None:
                command += ["--quota", quota]
            if i < len(offsets) and offsets[i]:
                command += ["--clock-offset", str(offsets[i])]
            if no_retry:
                command.append("--no-retry")
            procs.append(
                subprocess.Popen(
                    command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
            )
        for proc in procs:  # every pusher imported and built its client: start them together
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", f"pusher failed to start: {line!r}"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, f"pusher failed ({proc.returncode}): {err[-2000:]}"
            results.append({**json.loads(out.strip().splitlines()[-1]), "stderr": err})
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
