"""The ledger contract: the same tests for SQLiteLedger and PostgresLedger (see conftest.Backend)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from moengage_segments import LedgerError, LedgerLockedError
from moengage_segments._async.ledger import LedgerRun
from moengage_segments._async.ledger._base import Holder
from tests.ledger.conftest import Backend

WS = "ws-1"


async def collect(run: LedgerRun, side: str, size: int = 3) -> list[str]:
    return [uid async for chunk in run.chunks(side, size) for uid in chunk]  # type: ignore[arg-type]


async def settle(run: LedgerRun, side: str, uids: list[str], gen: int = 0) -> None:
    """What the engine does for one accepted request: mark in doubt, send, settle."""
    if uids:
        await run.intend(side, uids, gen)  # type: ignore[arg-type]
        await run.confirm(side, uids, gen)  # type: ignore[arg-type]


async def sync_once(backend: Backend, desired: list[str], *, cohort: str = "c1", gen: int = 0) -> tuple[Any, ...]:
    """One delta run that confirms everything: returns (counts, to_add, to_remove)."""
    async with backend.ledger.run(WS, cohort) as run:
        await run.stage(desired)
        counts = await run.diff(fresh_from=0)
        to_add, to_remove = await collect(run, "add"), await collect(run, "remove")
        await settle(run, "remove", to_remove, gen)
        await settle(run, "add", to_add, gen)
        await run.resolve_doubts()
    return counts, to_add, to_remove


async def test_an_empty_ledger_knows_nothing(backend: Backend) -> None:
    assert await backend.ledger.entries() == []
    assert await backend.ledger.entry(WS, "c1") is None
    assert await backend.ledger.forget(WS, "c1") is False


async def test_diff_both_ways_and_confirmations_move_the_record(backend: Backend) -> None:
    counts, to_add, to_remove = await sync_once(backend, ["b", "a", "c", "a", "d"])
    assert (counts.desired, counts.to_add, counts.to_remove) == (4, 4, 0)
    assert to_add == ["a", "b", "c", "d"] and to_remove == []  # deduplicated, in a fixed (uid) order
    entry = await backend.ledger.entry(WS, "c1")
    assert entry is not None and entry.members == 4 and entry.last_push is not None and entry.holder is None

    counts, to_add, to_remove = await sync_once(backend, ["c", "d", "e", "f", "e"])
    assert (counts.desired, counts.to_add, counts.to_remove) == (4, 2, 2)
    assert to_add == ["e", "f"] and to_remove == ["a", "b"]
    entry = await backend.ledger.entry(WS, "c1")
    assert entry is not None and entry.members == 4

    counts, to_add, to_remove = await sync_once(backend, ["c", "d", "e", "f"])
    assert (counts.to_add, counts.to_remove) == (0, 0)  # nothing changed: nothing to send


async def test_only_confirmed_uids_enter_and_only_confirmed_removals_leave(backend: Backend) -> None:
    async with backend.ledger.run(WS, "c1") as run:
        await run.stage(["a", "b", "c"])
        await run.diff(fresh_from=0)
        await settle(run, "add", ["a"])  # b and c failed before being sent: not recorded
    counts, to_add, to_remove = await sync_once(backend, ["a", "b", "c"])
    assert to_add == ["b", "c"] and to_remove == []  # still pending: tried again
    async with backend.ledger.run(WS, "c1") as run:
        await run.stage(["c"])
        counts = await run.diff(fresh_from=0)
        assert counts.to_remove == 2
        await settle(run, "remove", ["a"])  # the removal of b failed before being sent
    entry = await backend.ledger.entry(WS, "c1")
    assert entry is not None and entry.members == 2
    _, to_add, to_remove = await sync_once(backend, ["c"])
    assert to_remove == ["b"] and to_add == []


async def test_a_request_without_an_answer_leaves_its_uids_in_doubt_both_ways(backend: Backend) -> None:
    await sync_once(backend, ["a", "b"])
    async with backend.ledger.run(WS, "c1") as run:
        await run.stage(["b", "c"])
        await run.diff(fresh_from=0)
        await run.intend("remove", ["a"], 0)  # sent; then the run died before the answer
        await run.intend("add", ["c"], 0)
        entry = await run.reload()
        assert (entry.members, entry.in_doubt) == (2, 2)
    # The next list wants a back and c gone: both are re-sent the way the list says, whatever happened.
    async with backend.ledger.run(WS, "c1") as run:
        await run.stage(["a", "b"])
        counts = await run.diff(fresh_from=0)
        assert await collect(run, "add") == ["a"] and await collect(run, "remove") == ["c"]
        assert (counts.to_add, counts.to_remove) == (1, 1)
        await settle(run, "add", ["a"])
        await settle(run, "remove", ["c"])
        await run.resolve_doubts()  # every change of this run settled: the old doubts are resolved
        entry = await run.reload()
    assert (entry.members, entry.in_doubt) == (2, 0)
    _, to_add, to_remove = await sync_once(backend, ["a", "b"])
    assert to_add == [] and to_remove == []


async def test_doubts_stay_until_a_run_settles_all_its_changes(backend: Backend) -> None:
    await sync_once(backend, ["a", "b"])
    async with backend.ledger.run(WS, "c1") as run:
        await run.stage(["a", "b", "x"])
        await run.diff(fresh_from=0)
        await run.intend("add", ["x"], 0)  # no answer
    async with backend.ledger.run(WS, "c1") as run:
        await run.stage(["a", "b", "x", "y"])
        await run.diff(fresh_from=0)
        assert await collect(run, "add") == ["x", "y"]
        await settle(run, "add", ["y"])  # x failed again: this run does not resolve the old doubt
    async with backend.ledger.run(WS, "c1") as run:
        await run.stage(["a", "b", "y"])
        counts = await run.diff(fresh_from=0)
        assert await collect(run, "remove") == ["x"] and counts.to_add == 0
        assert (await run.reload()).in_doubt == 1


async def test_a_split_batch_is_settled_part_by_part(backend: Backend) -> None:
    async with backend.ledger.run(WS, "c1") as run:
        await run.stage(["a", "b", "c", "d"])
        await run.diff(fresh_from=0)
        await run.intend("add", ["a", "b", "c", "d"], 0)
        await run.confirm("add", ["a", "b"], 0)  # the first half of a 413 split
        assert ((await run.reload()).members, run.entry.in_doubt) == (2, 2)
        await run.confirm("add", ["c", "d"], 0)
        assert ((await run.reload()).members, run.entry.in_doubt) == (4, 0)


async def test_an_empty_desired_list_removes_everyone(backend: Backend) -> None:
    await sync_once(backend, ["a", "b"])
    async with backend.ledger.run(WS, "c1") as run:
        counts = await run.diff(fresh_from=0)  # nothing staged
        assert (counts.desired, counts.to_add, counts.to_remove) == (0, 0, 2)


async def test_a_full_refresh_resends_everything_and_resumes_where_it_stopped(backend: Backend) -> None:
    await sync_once(backend, ["a", "b", "c"])
    async with backend.ledger.run(WS, "c1") as run:
        gen = await run.begin_refresh()
        assert gen == 1 and (await run.reload()).refreshing
        await run.stage(["a", "b", "c", "d"])
        counts = await run.diff(fresh_from=gen)
        assert (counts.to_add, counts.to_remove) == (4, 0)  # the whole list again
        await settle(run, "add", ["a", "d"], gen)  # interrupted after these
    async with backend.ledger.run(WS, "c1") as run:
        assert run.entry.refreshing and run.entry.members == 4
        assert await run.begin_refresh() == gen  # resumed, not restarted
        await run.stage(["a", "b", "c", "d"])
        await run.diff(fresh_from=gen)
        assert await collect(run, "add") == ["b", "c"]
        await settle(run, "add", ["b", "c"], gen)
        await run.end_refresh()
        entry = await run.reload()
    assert entry.epoch == 1 and not entry.refreshing and entry.last_full_refresh is not None and entry.members == 4
    _, to_add, _ = await sync_once(backend, ["a", "b", "c", "d"], gen=1)
    assert to_add == []


async def test_cohorts_and_workspaces_are_separate_records(backend: Backend) -> None:
    await sync_once(backend, ["a", "b"], cohort="c1")
    await sync_once(backend, ["x"], cohort="c2")
    async with backend.ledger.run("ws-2", "c1") as run:
        await run.stage(["a"])
        counts = await run.diff(fresh_from=0)
        assert (counts.to_add, counts.to_remove) == (1, 0)
    entries = await backend.ledger.entries()
    assert [(e.workspace_id, e.cohort_id, e.members) for e in entries] == [
        ("ws-1", "c1", 2),
        ("ws-1", "c2", 1),
        ("ws-2", "c1", 0),
    ]
    assert [e.cohort_id for e in await backend.ledger.entries("ws-1")] == ["c1", "c2"]
    assert await backend.ledger.forget(WS, "c1") is True
    assert [e.cohort_id for e in await backend.ledger.entries("ws-1")] == ["c2"]
    _, to_add, _ = await sync_once(backend, ["a", "b"], cohort="c1")
    assert to_add == ["a", "b"]  # forgotten: the next sync sends the whole list


async def test_uids_round_trip_exactly(backend: Backend) -> None:
    odd = ['a"b', "back\\slash", "tab\there", "émoji 🎉", "line\nbreak", "x" * 2000, "  spaced  ", "{json}", "%_*"]
    _, to_add, _ = await sync_once(backend, odd)
    assert sorted(to_add) == sorted(odd)
    _, to_add, to_remove = await sync_once(backend, odd)
    assert to_add == [] and to_remove == []  # every one of them matched its confirmed row exactly


async def test_pages_cover_a_larger_list_in_order(backend: Backend) -> None:
    uids = [f"u{i:05d}" for i in range(2_500)][::-1]
    async with backend.ledger.run(WS, "c1") as run:
        for start in range(0, len(uids), 700):
            await run.stage(uids[start : start + 700])
        counts = await run.diff(fresh_from=0)
        pages = [chunk async for chunk in run.chunks("add", 1_000)]
    assert counts.to_add == 2_500 and [len(p) for p in pages] == [1_000, 1_000, 500]
    assert [u for p in pages for u in p] == sorted(uids)


async def test_a_second_run_on_the_same_cohort_is_refused_naming_the_holder(backend: Backend) -> None:
    async with backend.ledger.run(WS, "c1"):
        with pytest.raises(LedgerLockedError) as info:
            async with backend.fresh().run(WS, "c1"):
                pass
        assert "pid" in info.value.holder and str(info.value.holder) in str(info.value)
        entry = await backend.ledger.entry(WS, "c1")
        assert entry is not None and entry.holder is not None
        async with backend.ledger.run(WS, "c2"):  # another cohort is not blocked
            pass
        with pytest.raises(LedgerLockedError):
            await backend.ledger.forget(WS, "c1")  # nor forgotten under a live sync


async def test_a_waiting_run_gets_the_lock_when_the_holder_finishes(backend: Backend) -> None:
    held, released = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with backend.ledger.run(WS, "c1"):
            held.set()
            await asyncio.sleep(0.1)
        released.set()

    task = asyncio.ensure_future(holder())
    await held.wait()  # not a fixed sleep: on a busy machine the holder could take longer to get the lock
    async with backend.fresh().run(WS, "c1", lock_timeout=10) as run:
        assert released.is_set() and run.entry.holder is not None  # it holds the lock now
    await task


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def _crash_holding_lock(backend: Backend, monkeypatch: pytest.MonkeyPatch, holder: Holder) -> LedgerRun:
    """A run that took the lock as ``holder`` and then vanished without releasing it."""
    monkeypatch.setattr(Holder, "new", classmethod(lambda cls: holder))
    run = backend.ledger.run(WS, "c1")
    entered = await run.__aenter__()
    monkeypatch.undo()
    entered._held = False  # type: ignore[attr-defined]  # what a SIGKILL does: no release
    await run.__aexit__(None, None, None)
    return entered


async def test_a_lock_left_by_a_dead_process_on_this_host_is_taken_over(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = Holder.new()
    await _crash_holding_lock(backend, monkeypatch, Holder("dead", me.host, _dead_pid(), me.started, me.heartbeat))
    async with backend.ledger.run(WS, "c1") as run:  # at once: its process is gone
        await run.stage(["a"])
        await run.diff(fresh_from=0)
        await settle(run, "add", ["a"])


async def test_a_silent_holder_elsewhere_is_taken_over_after_stale_after(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = Holder.new()
    await _crash_holding_lock(backend, monkeypatch, Holder("other", "another-host", 1, me.started, me.heartbeat))
    with pytest.raises(LedgerLockedError, match="another-host"):
        async with backend.ledger.run(WS, "c1", stale_after=30):
            pass
    async with backend.ledger.run(WS, "c1", stale_after=0.2, lock_timeout=5):
        pass  # taken over once its heartbeat is 0.2 s old


async def test_heartbeats_keep_a_long_run_from_being_taken_over(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = Holder.new()
    monkeypatch.setattr(
        Holder, "new", classmethod(lambda cls: Holder("far", "another-host", 1, me.started, me.started))
    )
    async with backend.ledger.run(WS, "c1", stale_after=0.2):  # beats every 0.05 s
        monkeypatch.undo()
        await asyncio.sleep(0.3)  # without beats, its heartbeat would be stale by now
        with pytest.raises(LedgerLockedError, match="another-host"):
            async with backend.fresh().run(WS, "c1", stale_after=0.2):
                pass


async def test_a_run_that_lost_its_lock_records_nothing(backend: Backend) -> None:
    async with backend.ledger.run(WS, "c1", stale_after=30) as first:
        await first.stage(["a", "b"])
        await first.diff(fresh_from=0)
        # Another host decides the first run is gone (its clock says the heartbeat is old) and takes over.
        async with backend.fresh().run(WS, "c1", stale_after=1e-9, lock_timeout=5) as second:
            with pytest.raises(LedgerError, match="lost the lock"):
                await first.intend("add", ["a"], 0)
            assert (await second.reload()).members == 0


async def test_a_cancelled_run_releases_its_lock(backend: Backend) -> None:
    entered = asyncio.Event()

    async def hold() -> None:
        async with backend.ledger.run(WS, "c1"):
            entered.set()
            await asyncio.sleep(60)

    task = asyncio.ensure_future(hold())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with backend.ledger.run(WS, "c1"):  # at once, no timeout needed
        pass


async def test_a_non_exclusive_run_creates_nothing_and_takes_no_lock(backend: Backend) -> None:
    async with backend.ledger.run(WS, "c1", exclusive=False) as run:
        await run.stage(["a"])
        assert (await run.diff(fresh_from=0)).to_add == 1
    assert await backend.ledger.entry(WS, "c1") is None
    async with backend.ledger.run(WS, "c1"), backend.fresh().run(WS, "c1", exclusive=False):
        pass  # a dry run reads beside a running sync


async def test_tables_from_a_newer_version_are_refused(backend: Backend) -> None:
    await sync_once(backend, ["a"])
    await backend.set_version(999)
    with pytest.raises(LedgerError, match="schema version 999"):
        await backend.fresh().entries()
