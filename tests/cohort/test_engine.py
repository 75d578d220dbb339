"""add_members / remove_members end to end: accounting, retries, 413 splits, failures, progress, cancel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from moengage_segments import (
    AsyncClient,
    Cohort,
    CohortSyncError,
    CohortSyncProgress,
    CohortSyncReport,
    RateLimits,
    RetryPolicy,
    ValidationError,
    Window,
    read_uids,
)
from moengage_segments.testing import Emulator, Fault
from tests.cohort._sink import Sink

COHORT = Cohort(id="churn", name="Churn risk", partner="warehouse")
FAST_RETRY = RetryPolicy(max_attempts=5, base=0.001, cap=0.01, jitter=False)


def client_for(
    url: str,
    *,
    retry: RetryPolicy = FAST_RETRY,
    limits: RateLimits | None = None,
    workspace: str = "ws",
    key: str = "key",
) -> AsyncClient:
    return AsyncClient(workspace, key, base_url=url, rate_limits=limits, retry=retry)


def emu_client(emu: Emulator, **kw: Any) -> AsyncClient:
    return client_for(emu.base_url, workspace=emu.workspace_id, key=emu.api_key, **kw)


def emu_members(emu: Emulator, cohort_id: str = COHORT.id) -> frozenset[str]:
    info = emu.cohort_segment(cohort_id)
    return frozenset() if info is None else emu.members(info.id)


def check_accounting(report: CohortSyncReport) -> None:
    assert (
        report.submitted
        == report.accepted + report.skipped + report.failed + report.invalid + report.duplicates + report.not_sent
    )
    assert report.accepted == sum(b.accepted for b in report.batches)
    assert report.failed == sum(b.failed for b in report.batches)
    json.loads(report.to_json())  # serialisable


async def test_every_uid_accounted_and_membership_equals_valid_input() -> None:
    valid = [f"user-{i:06d}" for i in range(20_000)] + ["é-ü", 'quo"te', "back\\slash"]
    items: list[Any] = [*valid, "", None, "x" * 200_000, "user-019999", "é-ü"]  # dups in the same window
    async with Emulator(accept_any_uid=True, rate_limits=False) as emu, emu_client(emu) as client:
        report = await client.cohorts.add_members(COHORT, items, max_request_bytes=50_000, max_in_flight=3)
        assert emu_members(emu) == set(valid)
    check_accounting(report)
    assert (report.submitted, report.accepted, report.invalid, report.duplicates) == (len(items), len(valid), 3, 2)
    assert report.ok and report.failed == 0 and report.not_sent == 0
    assert report.invalid_reasons == {
        "empty uid": 1,
        "uid must be a string, got NoneType": 1,
        "uid too large to fit in one request": 1,
    }
    assert all(b.status == "accepted" and b.bytes <= 50_000 for b in report.batches)
    assert all(b.bytes >= 0.99 * 50_000 for b in report.batches[:-1])
    assert report.requests == len(report.batches) and report.retries == 0
    assert report.bytes == sum(b.bytes for b in report.batches)


async def test_remove_members_and_input_kinds() -> None:
    uids = [f"u{i}" for i in range(3_000)]

    def generator() -> Iterator[str]:
        yield from uids

    async def agen() -> AsyncIterator[str]:
        for uid in uids:
            yield uid

    async with Emulator(accept_any_uid=True, rate_limits=False) as emu, emu_client(emu) as client:
        await client.cohorts.add_members(COHORT, generator(), max_request_bytes=8_000)
        assert emu_members(emu) == set(uids)
        report = await client.cohorts.remove_members(COHORT, agen(), max_request_bytes=8_000)
        assert report.accepted == 1_500 * 2 and emu_members(emu) == set()
        await client.cohorts.add_members(COHORT, set(uids[:10]))
        await client.cohorts.add_members(COHORT, tuple(uids[10:20]))
        assert emu_members(emu) == set(uids[:20])
        with pytest.raises(ValidationError, match="not a single string"):
            await client.cohorts.add_members(COHORT, "u1")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="on_error"):
            await client.cohorts.add_members(COHORT, uids, on_error="ignore")  # type: ignore[arg-type]


async def test_retries_after_429_and_503_lose_nothing() -> None:
    uids = [f"member-{i}" for i in range(10_000)]
    async with Emulator(accept_any_uid=True, rate_limits=False) as emu, emu_client(emu) as client:
        emu.faults.script(
            Fault.rate_limited(retry_after=0),
            Fault.server_error(503),
            Fault.server_error(503),
            Fault.connection_reset(after=True),
            target="cohort",
        )
        report = await client.cohorts.add_members(COHORT, uids, max_request_bytes=20_000, max_in_flight=4)
        assert emu_members(emu) == set(uids)
    check_accounting(report)
    assert report.ok and report.accepted == len(uids)
    assert report.retries == 4
    assert report.requests == len(report.batches) + 4
    assert sum(b.attempts for b in report.batches) == report.requests


async def test_413_splits_the_batch_and_resends_the_halves() -> None:
    uids = [f"split-{i:05d}" for i in range(6_000)]
    async with (
        Emulator(accept_any_uid=True, rate_limits=False, max_cohort_body_bytes=20_000) as emu,
        emu_client(emu) as client,
    ):
        report = await client.cohorts.add_members(COHORT, uids, max_request_bytes=70_000, max_in_flight=2)
        assert emu_members(emu) == set(uids)
    check_accounting(report)
    assert report.ok
    # 70 KB batches over a 20 KB cap: split into 4 parts of ~17.5 KB, each one split costing a 413.
    assert all(b.parts == 4 and b.status == "accepted" for b in report.batches[:-1])
    assert report.failed == 0 and report.retries == 0


async def test_a_single_uid_too_large_for_the_server_fails_with_reason(tmp_path: Path) -> None:
    big = "b" * 300
    async with (
        Emulator(accept_any_uid=True, rate_limits=False, max_cohort_body_bytes=250) as emu,
        emu_client(emu) as client,
    ):
        report = await client.cohorts.add_members(COHORT, ["a", big], failed_uids_path=tmp_path / "failed.txt")
        assert emu_members(emu) == {"a"}
    check_accounting(report)
    assert (report.accepted, report.failed) == (1, 1)
    assert report.batches[0].status == "partial" and "PayloadTooLargeError" in (report.batches[0].error or "")
    assert list(read_uids(tmp_path / "failed.txt", column="uid")) == [big]


def poison(uid: str) -> Any:
    def fault(number: int, body: dict[str, Any]) -> tuple[int, dict[str, str]] | None:
        return (400, {}) if any(m["uid"] == uid for m in body["parameters"]["members"]) else None

    return fault


async def test_collect_finishes_the_run_and_writes_failed_uids(tmp_path: Path) -> None:
    uids = [f"c{i:05d}" for i in range(5_000)]
    failed_path = tmp_path / "failed.txt"
    async with Sink(fault=poison("c02500")) as sink, client_for(sink.url) as client:
        report = await client.cohorts.add_members(COHORT, uids, max_request_bytes=10_000, failed_uids_path=failed_path)
        delivered = sink.members[COHORT.id]
    check_accounting(report)
    failed = [b for b in report.batches if b.status == "failed"]
    assert len(failed) == 1 and failed[0].error and "BadRequestError" in failed[0].error
    assert failed[0].request_id is not None and failed[0].attempts == 1  # 400 is never retried
    written = list(read_uids(failed_path, column="uid"))
    assert "c02500" in written and len(written) == report.failed == failed[0].members
    assert delivered == set(uids) - set(written)
    assert not report.ok and report.not_sent == 0


async def test_raise_stops_at_first_failed_batch_with_report() -> None:
    uids = [f"r{i:05d}" for i in range(20_000)]
    seen: list[CohortSyncReport] = []
    async with Sink(fault=poison("r01000"), delay=0.01) as sink, client_for(sink.url) as client:
        with pytest.raises(CohortSyncError) as info:
            await client.cohorts.add_members(
                COHORT, uids, max_request_bytes=5_000, max_in_flight=2, on_error="raise", on_report=seen.append
            )
        delivered = len(sink.members.get(COHORT.id, ()))
    report = info.value.report
    assert seen == [report]
    check_accounting(report)
    assert report.failed > 0 and report.not_sent > 0 and report.accepted == delivered
    assert report.submitted < len(uids)  # it stopped reading the input
    assert report.stopped_by and "BadRequestError" in report.stopped_by


async def test_progress_reports_counts_rate_and_eta() -> None:
    uids = [f"p{i}" for i in range(4_000)]
    snapshots: list[CohortSyncProgress] = []
    async with Sink(delay=0.01) as sink, client_for(sink.url) as client:
        cohorts = client.cohorts
        from moengage_segments._async.cohort_sync import CohortSync

        sync = CohortSync(
            cohorts._transport,
            COHORT,
            "add_members",
            max_request_bytes=2_000,
            max_in_flight=2,
            on_progress=snapshots.append,
            progress_interval=0.0,
        )
        report = await sync.run(uids)
    assert snapshots[-1].done and snapshots[-1].accepted == report.accepted == len(uids)
    assert snapshots[-1].eta == 0.0 and snapshots[-1].total == len(uids)
    accepted = [s.accepted for s in snapshots]
    assert accepted == sorted(accepted) and len(snapshots) > 5
    assert any(s.eta is not None and s.eta > 0 for s in snapshots[:-1])
    assert all(s.rate >= 0 and s.in_flight <= 2 for s in snapshots)


async def test_in_flight_bounded_by_max_in_flight() -> None:
    async with Sink(delay=0.02) as sink, client_for(sink.url) as client:
        await client.cohorts.add_members(
            COHORT, [f"f{i}" for i in range(3_000)], max_request_bytes=1_000, max_in_flight=3
        )
    assert sink.max_in_flight == 3


async def test_cancellation_stops_and_reports_what_was_sent() -> None:
    reports: list[CohortSyncReport] = []
    uids = [f"k{i:06d}" for i in range(50_000)]
    async with Sink(delay=0.05) as sink, client_for(sink.url) as client:
        task = asyncio.ensure_future(
            client.cohorts.add_members(COHORT, uids, max_request_bytes=4_000, max_in_flight=2, on_report=reports.append)
        )
        while sink.received < 500:  # noqa: ASYNC110  # polling a counter of the test sink
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        delivered = set(sink.members[COHORT.id])
    (report,) = reports
    check_accounting(report)
    assert report.cancelled and report.not_sent > 0
    assert report.accepted <= len(delivered)  # in-flight requests may land after we stopped listening
    assert report.submitted < len(uids)
    assert any(b.status == "not_sent" for b in report.batches)


async def test_plan_matches_the_push_and_estimates_time() -> None:
    uids = [f"plan-{i:07d}" for i in range(30_000)] + ["", "plan-0029999"]
    async with Sink() as sink, client_for(sink.url, limits=RateLimits(cohort=(Window(10, 60),))) as client:
        plan = await client.cohorts.plan(COHORT, uids, max_request_bytes=20_000)
        assert sink.requests == 0
    async with Sink() as sink, client_for(sink.url) as client:
        report = await client.cohorts.add_members(COHORT, uids, max_request_bytes=20_000)
        no_limits = await client.cohorts.plan(COHORT, uids, max_request_bytes=20_000)
    assert (plan.requests, plan.bytes) == (report.requests, report.bytes)
    assert (plan.members, plan.invalid, plan.duplicates) == (report.accepted, 1, 1)
    assert plan.requests > 10 and 0.99 < plan.fill <= 1.0
    assert plan.eta == pytest.approx(((plan.requests - 1) // 10) * 60.25)
    assert no_limits.eta == 0.0


async def test_run_wide_dedupe() -> None:
    uids = [f"d{i % 1000}" for i in range(10_000)]
    async with Sink() as sink, client_for(sink.url) as client:
        plain = await client.cohorts.add_members(COHORT, uids, max_request_bytes=3_000)
        sent_plain = sum(len(b) for b in sink.accepted_bodies)
    async with Sink() as sink, client_for(sink.url) as client:
        deduped = await client.cohorts.add_members(COHORT, uids, max_request_bytes=3_000, dedupe=True)
        sent_deduped = sum(len(b) for b in sink.accepted_bodies)
    assert (deduped.accepted, deduped.duplicates, sent_deduped) == (1000, 9000, 1000)
    assert plain.accepted == sent_plain > 1000
    check_accounting(plain)
    check_accounting(deduped)


async def test_paced_by_the_clients_cohort_limiter() -> None:
    # 20 requests per 0.25 s window: 45 requests cannot all start before two more windows have passed
    # (a lower bound the limiter guarantees, not a performance figure).
    from moengage_segments._async.packing import CohortEnvelope

    limits = RateLimits(cohort=(Window(20, 0.25),), margin=0.0)
    budget = CohortEnvelope(COHORT, "add_members").overhead + 40 * len('{"uid":"l0000"},') - 1
    async with Sink() as sink, client_for(sink.url, limits=limits) as client:
        report = await client.cohorts.add_members(
            COHORT, [f"l{i:04d}" for i in range(45 * 40)], max_request_bytes=budget, max_in_flight=8
        )
    assert len(report.batches) == 45 and all(b.members == 40 for b in report.batches)
    assert report.elapsed >= 0.5
    assert 429 not in sink.statuses and report.retries == 0


async def test_bad_credentials_stop_a_collect_run_instead_of_failing_every_batch() -> None:
    """A 401 would be the answer to every later batch too: the run stops, the rest is reported not sent."""
    uids = [f"user-{i:06d}" for i in range(300_000)]
    async with (
        Emulator(accept_any_uid=True, rate_limits=False) as emu,
        client_for(emu.base_url, workspace=emu.workspace_id, key="wrong-key") as client,
    ):
        report = await client.cohorts.add_members(COHORT, uids, max_in_flight=4)  # on_error="collect"
        requests_seen = emu.counters.requests
    check_accounting(report)
    assert not report.ok and report.accepted == 0
    assert report.stopped_by is not None and report.stopped_by.startswith("AuthenticationError")
    assert report.failed > 0 and report.not_sent > 0
    assert requests_seen <= 4  # only the batches already in flight, not one per batch (~55)


async def test_plan_warns_that_it_consumes_a_one_shot_iterator(caplog: pytest.LogCaptureFixture) -> None:
    async with client_for("http://127.0.0.1:9") as client:  # plan sends nothing
        with caplog.at_level("WARNING", logger="moengage_segments"):
            plan = await client.cohorts.plan(COHORT, (f"u{i}" for i in range(10)))
            assert plan.members == 10 and "one-shot iterator" in caplog.text
            caplog.clear()
            await client.cohorts.plan(COHORT, [f"u{i}" for i in range(10)])
            assert caplog.text == ""


async def test_a_slot_refused_by_the_client_limiter_never_makes_retries_negative() -> None:
    """The limiter refuses a slot further away than rate_limit_cap with attempts=0: nothing sent or retried."""
    limits = RateLimits(cohort=(Window(1, 3600),))
    retry = RetryPolicy(max_attempts=3, base=0.001, cap=0.01, rate_limit_cap=0.01, jitter=False)
    uids = [f"q{i:05d}" for i in range(1_000)]
    async with Sink() as sink, client_for(sink.url, limits=limits, retry=retry) as client:
        report = await client.cohorts.add_members(COHORT, uids, max_request_bytes=2_000, max_in_flight=1)
        assert sink.requests == 1
    refused = [b for b in report.batches if b.status == "failed"]
    assert len(refused) == len(report.batches) - 1 and all(b.attempts == 0 for b in refused)
    assert refused[0].error is not None and "RateLimitError" in refused[0].error
    assert (report.requests, report.retries) == (1, 0)
    check_accounting(report)
