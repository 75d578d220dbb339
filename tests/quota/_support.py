"""Shared by the quota tests: scaled limits, uids that make many small requests, and quota measurements."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from moengage_segments import Cohort, RateLimits
from moengage_segments.testing import RequestRecord

#: A "minute" lasts 60 / SCALE real seconds, at the emulator and in the clients.
SCALE = 60.0
#: Real seconds added to each scaled window: scaling shrinks the default margin to 4 ms, but the latency
#: between taking a slot and reaching the server (a busy 2-core machine, several processes) does not shrink.
MARGIN = 0.05
LIMIT = 300  # the documented cohort-sync window: 300 requests a minute
PERIOD = 60.0 / SCALE
COHORT = Cohort(id="shared-quota", name="Shared quota", partner="tests")
#: ~20 uids a request: many requests from few uids, cheap for client and emulator alike.
SMALL_BODY = 700


def scaled_limits(margin: float = MARGIN) -> RateLimits:
    """The documented limits with time scaled like the emulator's, and a margin in real seconds."""
    return attrs.evolve(RateLimits().scaled(1 / SCALE), margin=margin)


def uids_for(tag: str, n: int) -> list[str]:
    """``n`` distinct uids, unique to ``tag``."""
    return [f"{tag}-{i:08d}" for i in range(n)]


def quota_share(records: Sequence[RequestRecord], limit: int = LIMIT, period: float = PERIOD) -> float:
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
