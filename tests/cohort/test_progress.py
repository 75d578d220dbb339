"""Progress while a push waits: snapshots keep coming, say what they wait for, count only requests on the wire,
and give an ETA that accounts for the rate limit."""

from __future__ import annotations

import itertools
from pathlib import Path

from moengage_segments import AsyncClient, Cohort, CohortSyncProgress, RateLimits, RetryPolicy, Window, read_uids
from moengage_segments._async.cohort_sync import CohortSync, pacing_time
from tests.cohort._sink import Sink

COHORT = Cohort(id="churn", name="Churn risk", partner="warehouse")
#: Two requests per 0.2 s: a push of six batches waits twice for the limiter.
LIMITS = RateLimits(cohort=(Window(2, 0.2),), margin=0.0)
UIDS = [f"user-{i:05d}" for i in range(240)]  # about 42 fit in 1,000 bytes: six batches


def _sync(client: AsyncClient, snapshots: list[CohortSyncProgress], **kw: object) -> CohortSync:
    options: dict[str, object] = {"max_request_bytes": 1_000, "max_in_flight": 4, "progress_interval": 0.05}
    options.update(kw)
    return CohortSync(
        client.cohorts._transport,
        COHORT,
        "add_members",
        on_progress=snapshots.append,
        **options,  # type: ignore[arg-type]
    )


async def test_progress_continues_while_the_rate_limit_holds_the_push() -> None:
    snapshots: list[CohortSyncProgress] = []
    async with Sink() as sink, AsyncClient("ws", "key", base_url=sink.url, rate_limits=LIMITS) as client:
        report = await _sync(client, snapshots).run(UIDS)
    assert report.ok and sink.requests == len(report.batches) == 6
    waiting = [s for s in snapshots if s.waiting_for == "rate_limit"]
    assert waiting, snapshots
    assert all(0 < s.next_slot <= 0.2 and s.queued > 0 and not s.done for s in waiting)
    # Emitted while nothing resolved: consecutive snapshots with the same counts.
    assert any(a.accepted == b.accepted and b.elapsed > a.elapsed for a, b in itertools.pairwise(waiting))
    assert snapshots[-1].done and snapshots[-1].waiting_for is None and snapshots[-1].queued == 0
    # in_flight counts requests on the wire only: four senders, but the limiter lets two out per window.
    assert max(s.in_flight for s in snapshots) <= 2
    assert max(s.queued for s in snapshots) >= 2


async def test_eta_is_the_slower_of_throughput_and_the_rate_limit() -> None:
    uids = UIDS
    snapshots: list[CohortSyncProgress] = []
    async with Sink() as sink, AsyncClient("ws", "key", base_url=sink.url, rate_limits=LIMITS) as client:
        report = await _sync(client, snapshots).run(uids)
    assert report.ok
    biggest = max(b.members for b in report.batches)
    running = [s for s in snapshots if s.accepted and not s.done and s.accepted < len(uids)]
    assert running
    for snap in running:
        left_requests = -(-(len(uids) - snap.accepted) // biggest)
        assert snap.eta is not None and snap.eta >= snap.next_slot + pacing_time(LIMITS, left_requests)
    # The first two batches go at once, so throughput alone promises far less than the limit allows.
    assert any(s.eta is not None and s.eta > 2 * (len(uids) - s.accepted) / s.rate for s in running)
    assert snapshots[-1].eta == 0.0


async def test_eta_without_limits_follows_throughput_and_appears_once_a_generator_ends() -> None:
    snapshots: list[CohortSyncProgress] = []

    def generator() -> object:
        yield from (f"g{i}" for i in range(1_000))

    async with (
        Sink(delay=0.01) as sink,
        AsyncClient("ws", "key", base_url=sink.url, rate_limits=None, retry=RetryPolicy.none()) as client,
    ):
        await _sync(client, snapshots, max_in_flight=1, progress_interval=0.0).run(generator())
    assert snapshots[0].total is None and snapshots[0].eta is None  # length unknown while reading
    assert snapshots[-1].total == 1_000 and snapshots[-1].eta == 0.0
    known = [s for s in snapshots if s.total is not None and s.rate > 0 and s.accepted < 1_000]
    assert known and all(s.eta is not None and s.eta > 0 for s in known)


async def test_a_file_gets_a_total_counted_on_the_side_or_up_front(tmp_path: Path) -> None:
    path = tmp_path / "uids.txt"
    path.write_text("".join(f"f{i}\n" for i in range(1_000)))
    for counted in (False, True):
        uids = read_uids(path)
        if counted:
            assert uids.count() == 1_000 and uids.counted == 1_000
        snapshots: list[CohortSyncProgress] = []
        async with Sink(delay=0.01) as sink, AsyncClient("ws", "key", base_url=sink.url, rate_limits=None) as client:
            await _sync(client, snapshots, max_in_flight=1, max_request_bytes=2_000, progress_interval=0.0).run(uids)
        running = [s for s in snapshots if not s.done]
        assert any(s.total == 1_000 and s.eta is not None for s in running)
        if counted:
            assert all(s.total == 1_000 for s in snapshots)
        assert uids.counted == 1_000
