"""cohorts.sync end to end: the delta only, the ledger after each run, drift policy, limits, locks, errors."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from moengage_segments import (
    AsyncClient,
    Client,
    CohortDeltaProgress,
    CohortDeltaReport,
    CohortSyncError,
    LedgerLockedError,
    RateLimits,
    SQLiteLedger,
    ValidationError,
    read_uids,
)
from moengage_segments._async import cohort_delta
from moengage_segments._async.streaming import DEFAULT_LINGER
from moengage_segments.testing import Emulator
from tests.cohort._sink import Sink
from tests.ledger._support import COHORT, FAST_RETRY, client_for, emulator_client, emulator_members, ledger_members


def check_accounts(report: CohortDeltaReport) -> None:
    assert report.submitted == report.desired + report.invalid + report.duplicates
    assert report.desired == report.to_add + report.unchanged
    assert report.to_add + report.to_remove == report.added + report.removed + report.failed + report.not_sent


async def test_sync_change_sync_against_the_emulator(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "cohorts.db")
    first = [f"user-{i:04d}" for i in range(0, 3_000)]
    second = [f"user-{i:04d}" for i in range(1_000, 4_000)] + ["ghost-1", "ghost-2"]  # ghosts are not users
    async with Emulator(rate_limits=False) as emu, emulator_client(emu) as client:
        emu.add_users(f"user-{i:04d}" for i in range(5_000))
        report = await client.cohorts.sync(COHORT, first, ledger=ledger, max_request_bytes=8_000)
        assert report.ok and report.added == 3_000 and report.refresh_reason == "first"
        assert emulator_members(emu, COHORT.id) == set(first)

        emu.reset_counters()
        report = await client.cohorts.sync(COHORT, second, ledger=ledger, max_request_bytes=8_000)
        check_accounts(report)
        assert (report.to_add, report.to_remove, report.unchanged) == (1_002, 1_000, 2_000)
        assert report.ok and not report.full_refresh and report.refresh_reason is None
        assert (report.ledger_before, report.ledger_after) == (3_000, 3_002)
        # Only the delta went out: 2,002 uids in ~14-byte members, far fewer requests than a full re-push.
        assert emu.counters.requests_by_endpoint["cohort_sync"] == report.requests < 10
        # The service has the seeded part of the list; the ledger has the list (a ghost's add was accepted).
        assert emulator_members(emu, COHORT.id) == set(second) - {"ghost-1", "ghost-2"}
        assert await ledger_members(ledger, emu.workspace_id, COHORT.id) == (set(second), set())

        emu.reset_counters()
        report = await client.cohorts.sync(COHORT, second, ledger=ledger)
        assert report.requests == 0 and report.unchanged == 3_002 and emu.counters.requests == 0


async def test_exactly_the_changes_are_sent_each_once(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "cohorts.db")
    old = {f"u{i:05d}" for i in range(5_000)}
    new = (old - {f"u{i:05d}" for i in range(0, 5_000, 7)}) | {f"n{i:05d}" for i in range(900)}
    async with Sink() as sink, client_for(sink.url) as client:
        await client.cohorts.sync(COHORT, sorted(old), ledger=ledger)
        sink.accepted_bodies.clear()
        report = await client.cohorts.sync(COHORT, sorted(new), ledger=ledger, max_request_bytes=4_000)
    sent = [uid for body in sink.accepted_bodies for uid in body]
    assert sorted(sent) == sorted((old - new) | (new - old))  # each change once, nothing else
    assert sink.members[COHORT.id] == new
    assert report.removed == len(old - new) and report.added == len(new - old)
    assert report.requests == len(sink.accepted_bodies)


async def test_invalid_and_duplicate_uids_are_reported_as_add_members_reports_them(tmp_path: Path) -> None:
    uids: list[Any] = ["a", "b", "", "  ", "a", 7, "c\x00", "b", "ok\ud800", "d" * 200_000, "e"]
    async with Sink() as sink, client_for(sink.url) as client:
        reference = await client.cohorts.add_members(COHORT, uids, dedupe=True)
        report = await client.cohorts.sync(COHORT, uids, ledger=SQLiteLedger(tmp_path / "l.db"))
    check_accounts(report)
    assert (report.invalid, report.duplicates, report.desired) == (reference.invalid, reference.duplicates, 3)
    assert report.invalid_reasons == reference.invalid_reasons
    assert report.added == 3


async def test_a_uid_too_large_for_a_removal_request_is_reported_too_large(tmp_path: Path) -> None:
    # In 300-byte requests a member may take 169 bytes in an add but 166 in a removal: a uid in between could
    # be added but never removed, so the sync refuses it, for the reason add_members gives a uid too large.
    between, fits, huge = "x" * 168, "y" * 166, "z" * 400
    async with Sink() as sink, client_for(sink.url) as client:
        reference = await client.cohorts.add_members(COHORT, [between, fits, huge], max_request_bytes=300)
        report = await client.cohorts.sync(
            COHORT, [between, fits], ledger=SQLiteLedger(tmp_path / "l.db"), max_request_bytes=300
        )
    assert reference.invalid == 1 and reference.accepted == 2
    assert report.invalid == 1 and report.added == 1 and report.invalid_reasons == reference.invalid_reasons


async def test_files_and_async_iterables_are_desired_lists(tmp_path: Path) -> None:
    path = tmp_path / "today.txt"
    path.write_text("u1\nu2\nu3\n")

    async def stream() -> Any:
        for uid in ("u2", "u3", "u4"):
            yield uid

    ledger = SQLiteLedger(tmp_path / "l.db")
    async with Sink() as sink, client_for(sink.url) as client:
        assert (await client.cohorts.sync(COHORT, read_uids(path), ledger=ledger)).added == 3
        report = await client.cohorts.sync(COHORT, stream(), ledger=ledger)
    assert (report.added, report.removed, sink.members[COHORT.id]) == (1, 1, {"u2", "u3", "u4"})


async def test_a_dry_run_plans_and_changes_nothing(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "l.db")
    async with Sink() as sink:
        async with client_for(sink.url) as client:
            await client.cohorts.sync(COHORT, [f"u{i}" for i in range(100)], ledger=ledger)
        before = await ledger.entry("ws", COHORT.id)
        requests = sink.requests
        # With the default limits (300/min).
        async with AsyncClient("ws", "key", base_url=sink.url, rate_limits=RateLimits(), retry=FAST_RETRY) as client:
            plan = await client.cohorts.sync(
                COHORT, [f"u{i}" for i in range(50, 800)], ledger=ledger, dry_run=True, max_request_bytes=160
            )
    assert plan.dry_run and plan.ok and (plan.to_add, plan.to_remove, plan.unchanged) == (700, 50, 50)
    # Two members a request: 375 requests, so the last starts one 60 s window (+ margin) after the first.
    assert plan.requests == 375 and plan.eta is not None and 60 <= plan.eta < 61
    assert (plan.added, plan.removed, plan.ledger_after) == (0, 0, 100)
    assert sink.requests == requests and await ledger.entry("ws", COHORT.id) == before


async def test_failed_changes_stay_pending_and_the_next_sync_retries_only_them(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "l.db")
    failing = {"on": True}

    def fault(number: int, body: dict[str, Any]) -> tuple[int, dict[str, str]] | None:
        members = [m["uid"] for m in body["parameters"]["members"]]
        return (400, {}) if failing["on"] and "u0007" in members else None

    async with Sink(fault=fault) as sink, client_for(sink.url) as client:
        uids = [f"u{i:04d}" for i in range(40)]
        report = await client.cohorts.sync(COHORT, uids, ledger=ledger, max_request_bytes=200)
        check_accounts(report)
        assert report.failed > 0 and not report.ok and report.failures
        assert report.ledger_after == 40 - report.failed
        missing = set(uids) - sink.members[COHORT.id]
        assert len(missing) == report.failed
        failing["on"] = False
        sink.accepted_bodies.clear()
        again = await client.cohorts.sync(COHORT, uids, ledger=ledger, max_request_bytes=200)
    assert again.ok and again.to_add == report.failed and again.refresh_reason == "resumed"
    assert sorted(u for body in sink.accepted_bodies for u in body) == sorted(missing)  # only the failed ones
    entry = await ledger.entry("ws", COHORT.id)
    assert entry is not None and (entry.members, entry.in_doubt) == (40, 0)


async def test_full_refresh_resends_everything_and_refresh_after_triggers_it(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "l.db")
    uids = [f"u{i}" for i in range(30)]
    async with Sink() as sink, client_for(sink.url) as client:
        assert (await client.cohorts.sync(COHORT, uids, ledger=ledger)).refresh_reason == "first"
        quiet = await client.cohorts.sync(COHORT, uids, ledger=ledger)
        assert quiet.requests == 0 and not quiet.full_refresh
        full = await client.cohorts.sync(COHORT, uids[:20], ledger=ledger, full_refresh=True)
        assert full.full_refresh and full.refresh_reason == "requested"
        assert (full.to_add, full.to_remove, full.unchanged, full.added) == (20, 10, 0, 20)
        due = await client.cohorts.sync(COHORT, uids[:20], ledger=ledger, refresh_after=timedelta(microseconds=1))
        assert due.refresh_reason == "refresh_after" and due.added == 20
        never = await client.cohorts.sync(COHORT, uids[:20], ledger=ledger, refresh_after=None)
        assert never.requests == 0
    assert sink.members[COHORT.id] == set(uids[:20])
    entry = await ledger.entry("ws", COHORT.id)
    assert entry is not None and entry.epoch == 3 and entry.last_full_refresh is not None


async def test_a_cohort_idle_past_the_auto_archive_gets_the_whole_list_and_loses_its_leavers(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    ledger = SQLiteLedger(path)
    async with Sink() as sink, client_for(sink.url) as client:
        await client.cohorts.sync(COHORT, ["a", "b", "c"], ledger=ledger)
        with sqlite3.connect(path) as db:
            db.execute("UPDATE moengage_ledger_cohorts SET last_push = ?", (time.time() - 61 * 86_400,))
        db.close()
        report = await client.cohorts.sync(COHORT, ["b", "c", "d"], ledger=ledger)
    # Archived, the segment is new and empty: everything is added again. Not archived after all (the service
    # saw a later request than the last confirmed one, or counts activity otherwise): "a" must still go.
    assert report.refresh_reason == "inactive" and report.full_refresh and report.ledger_before == 3
    assert (report.to_add, report.to_remove, report.added, report.removed) == (3, 1, 3, 1)
    assert sink.members[COHORT.id] == {"b", "c", "d"}
    assert await ledger_members(ledger, "ws", COHORT.id) == ({"b", "c", "d"}, set())


async def test_size_limits_warn_and_refuse_before_sending(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = SQLiteLedger(tmp_path / "l.db")
    monkeypatch.setattr(cohort_delta, "WARN_COHORT_MEMBERS", 2)
    async with Sink() as sink, client_for(sink.url) as client:
        with pytest.raises(ValidationError, match="max_members") as info:
            await client.cohorts.sync(COHORT, ["a", "b", "c", "d"], ledger=ledger, max_members=3)
        assert info.value.field == "desired" and sink.requests == 0
        report = await client.cohorts.sync(COHORT, ["a", "b", "c"], ledger=ledger, max_members=3)
    assert report.ok and report.warnings and "3 desired members" in report.warnings[0]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"ledger": "cohorts.db"}, "ledger"),
        ({"refresh_after": 3600}, "refresh_after"),
        ({"max_members": 0}, "max_members"),
        ({"lock_timeout": -1}, "lock_timeout"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"on_report": "print"}, "on_report"),
        ({"on_progress": 1}, "on_progress"),
    ],
)
async def test_bad_options_are_refused_naming_the_field(tmp_path: Path, options: dict[str, Any], field: str) -> None:
    kwargs: dict[str, Any] = {"ledger": SQLiteLedger(tmp_path / "l.db"), **options}
    async with client_for("http://127.0.0.1:9") as client:
        with pytest.raises(ValidationError) as info:
            await client.cohorts.sync(COHORT, ["a"], **kwargs)
    assert info.value.field == field


async def test_two_syncs_of_one_cohort_never_overlap(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "l.db")
    async with Sink(delay=0.1) as sink, client_for(sink.url) as client:
        first = asyncio.ensure_future(client.cohorts.sync(COHORT, ["a", "b"], ledger=ledger))
        while sink.requests == 0:  # noqa: ASYNC110  # polling a counter of the test sink
            await asyncio.sleep(0.01)
        with pytest.raises(LedgerLockedError, match=r"pid \d+"):
            await client.cohorts.sync(COHORT, ["c"], ledger=SQLiteLedger(tmp_path / "l.db"))
        waited = await client.cohorts.sync(COHORT, ["c"], ledger=ledger, lock_timeout=10)
        assert (await first).ok and waited.ok
    assert sink.members[COHORT.id] == {"c"}


async def test_on_error_raise_stops_with_the_delta_report(tmp_path: Path) -> None:
    async with Sink(fault=lambda n, body: (400, {})) as sink, client_for(sink.url) as client:
        with pytest.raises(CohortSyncError) as info:
            await client.cohorts.sync(COHORT, ["a", "b"], ledger=SQLiteLedger(tmp_path / "l.db"), on_error="raise")
    report = info.value.report
    assert isinstance(report, CohortDeltaReport) and report.failed == 2 and not report.ok
    assert sink.requests == 1


async def test_progress_goes_through_the_phases_and_ends_finished(tmp_path: Path) -> None:
    seen: list[CohortDeltaProgress] = []
    reports: list[CohortDeltaReport] = []
    async with Sink() as sink, client_for(sink.url) as client:
        ledger = SQLiteLedger(tmp_path / "l.db")
        await client.cohorts.sync(COHORT, ["a", "b"], ledger=ledger)
        await client.cohorts.sync(COHORT, ["b", "c"], ledger=ledger, on_progress=seen.append, on_report=reports.append)
    assert seen[-1].finished and seen[-1].done == seen[-1].total == 2
    assert {p.phase for p in seen} <= {"diff", "remove", "add"} and seen[-1].phase == "add"
    assert reports[0].added == 1 and reports[0].removed == 1


async def test_a_cancelled_sync_leaves_a_ledger_the_next_sync_converges_from(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "l.db")
    uids = [f"u{i:04d}" for i in range(2_000)]
    reports: list[CohortDeltaReport] = []
    async with Sink(delay=0.02) as sink, client_for(sink.url) as client:
        task = asyncio.ensure_future(
            client.cohorts.sync(COHORT, uids, ledger=ledger, max_request_bytes=1_000, on_report=reports.append)
        )
        while sink.requests < 5:  # noqa: ASYNC110  # polling a counter of the test sink
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert reports and reports[0].cancelled and reports[0].not_sent > 0
        settled, _ = await ledger_members(ledger, "ws", COHORT.id)
        assert settled <= sink.members.get(COHORT.id, set())  # the settled rows are what the service confirmed
        report = await client.cohorts.sync(COHORT, uids[:1_500], ledger=ledger, max_request_bytes=1_000)
    assert report.ok and sink.members[COHORT.id] == set(uids[:1_500])
    assert await ledger_members(ledger, "ws", COHORT.id) == (set(uids[:1_500]), set())


def test_the_blocking_client_has_the_twin(tmp_path: Path) -> None:
    with Emulator.in_thread(accept_any_uid=True, rate_limits=False) as emu:
        with Client(emu.workspace_id, emu.api_key, base_url=emu.base_url, rate_limits=None) as client:
            report = client.cohorts.sync(COHORT, ["a", "b"], ledger=SQLiteLedger(tmp_path / "l.db"))
        assert report.ok and emulator_members(emu, COHORT.id) == {"a", "b"}


async def test_a_slow_ledger_page_does_not_cut_a_request_short(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from moengage_segments._async.ledger.sqlite import _SQLiteRun

    pages = _SQLiteRun.chunks

    async def slow(self: Any, side: Any, size: int) -> Any:
        first = True
        async for page in pages(self, side, size):
            yield page
            if first:  # the next page comes later than the engine's linger for trickling input
                await asyncio.sleep(DEFAULT_LINGER + 0.05)
                first = False

    monkeypatch.setattr(_SQLiteRun, "chunks", slow)
    uids = [f"u{i:05d}" for i in range(19 * 522)]  # two pages, exactly 19 full requests of 9,000 bytes
    async with Sink() as sink, client_for(sink.url) as client:
        report = await client.cohorts.sync(
            COHORT, uids, ledger=SQLiteLedger(tmp_path / "l.db"), max_request_bytes=9_000
        )
        plan = await client.cohorts.plan(COHORT, uids, max_request_bytes=9_000)
    assert plan.requests == 19
    assert report.ok and report.requests == 19 == len(sink.accepted_bodies)
