"""``cohort sync`` and ``cohort ledger list|show|forget``: in-process runs against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

from moengage_segments.testing import Emulator
from tests.cli.conftest import WORKSPACE_ID, InProcess

COHORT = ("--cohort-id", "churn", "--partner", "warehouse")


def _list(tmp_path: Path, start: int, stop: int, name: str = "today.txt") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"user-{i:07d}\n" for i in range(start, stop)))
    return path


def _members(emu: Emulator) -> frozenset[str]:
    segment = emu.cohort_segment("churn")
    return frozenset() if segment is None else emu.members(segment.id)


def test_sync_then_sync_a_changed_list_sends_only_the_changes(
    run_main: InProcess, emu: Emulator, tmp_path: Path
) -> None:
    ledger = str(tmp_path / "cohorts.db")
    proc = run_main("cohort", "sync", str(_list(tmp_path, 0, 2_000)), *COHORT, "--ledger", ledger, "--json")
    assert proc.returncode == 0, proc.stderr
    first = json.loads(proc.stdout)
    assert first["added"] == 2_000 and first["refresh_reason"] == "first"

    proc = run_main("cohort", "sync", str(_list(tmp_path, 500, 2_500)), *COHORT, "--ledger", ledger)
    assert proc.returncode == 0, proc.stderr
    assert "to add" in proc.stdout and "ledger after" in proc.stdout  # the summary, for people
    assert _members(emu) == {f"user-{i:07d}" for i in range(500, 2_500)}

    report_path = tmp_path / "report.json"
    proc = run_main(
        "cohort", "sync", str(_list(tmp_path, 500, 2_500)), *COHORT, "--ledger", ledger, "--report", str(report_path)
    )
    assert proc.returncode == 0 and json.loads(report_path.read_text())["requests"] == 0


def test_dry_run_and_full_refresh(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    ledger = str(tmp_path / "cohorts.db")
    run_main("cohort", "sync", str(_list(tmp_path, 0, 100)), *COHORT, "--ledger", ledger)
    emu.reset_counters()
    proc = run_main("cohort", "sync", str(_list(tmp_path, 50, 200)), *COHORT, "--ledger", ledger, "--dry-run", "--json")
    plan = json.loads(proc.stdout)
    assert proc.returncode == 0 and plan["dry_run"] and (plan["to_add"], plan["to_remove"]) == (100, 50)
    assert plan["requests"] == 2 and plan["eta"] is not None and emu.counters.requests == 0
    proc = run_main(
        "cohort", "sync", str(_list(tmp_path, 50, 200)), *COHORT, "--ledger", ledger, "--full-refresh", "--json"
    )
    report = json.loads(proc.stdout)
    assert report["full_refresh"] and report["added"] == 150 and report["removed"] == 50


def test_a_list_over_max_members_is_refused_naming_the_flag(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    proc = run_main(
        "cohort",
        "sync",
        str(_list(tmp_path, 0, 20)),
        *COHORT,
        "--ledger",
        str(tmp_path / "l.db"),
        "--max-members",
        "10",
    )
    assert proc.returncode == 2 and "max_members" in proc.stderr
    assert emu.counters.requests == 0


def test_ledger_list_show_forget(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    ledger = str(tmp_path / "cohorts.db")
    run_main("cohort", "sync", str(_list(tmp_path, 0, 30)), *COHORT, "--ledger", ledger)
    proc = run_main("cohort", "ledger", "list", "--ledger", ledger, "--json")
    entries = json.loads(proc.stdout)
    assert proc.returncode == 0 and [(e["workspace_id"], e["cohort_id"], e["members"]) for e in entries] == [
        (WORKSPACE_ID, "churn", 30)
    ]
    proc = run_main("cohort", "ledger", "show", "--ledger", ledger, "--cohort-id", "churn")
    assert proc.returncode == 0 and "members" in proc.stdout and "last push" in proc.stdout
    proc = run_main("cohort", "ledger", "forget", "--ledger", ledger, "--cohort-id", "churn")
    assert proc.returncode == 0 and "forgot cohort 'churn'" in proc.stdout
    proc = run_main("cohort", "ledger", "show", "--ledger", ledger, "--cohort-id", "churn")
    assert proc.returncode == 2 and "no record of cohort 'churn'" in proc.stderr
    proc = run_main("cohort", "ledger", "show", "--ledger", ledger, "--cohort-id", "churn", connect=False)
    assert proc.returncode == 2 and "--workspace-id" in proc.stderr


def test_a_locked_cohort_fails_naming_the_holder(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    import asyncio

    from moengage_segments import SQLiteLedger

    ledger = tmp_path / "cohorts.db"

    async def hold_and_run() -> None:
        async with SQLiteLedger(ledger).run(WORKSPACE_ID, "churn"):
            proc = await asyncio.to_thread(
                run_main, "cohort", "sync", str(_list(tmp_path, 0, 5)), *COHORT, "--ledger", str(ledger)
            )
            assert proc.returncode == 1 and "locked by another sync: pid" in proc.stderr

    asyncio.run(hold_and_run())
    assert emu.counters.requests == 0


def test_sync_reads_stdin(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    uids = "".join(f"user-{i:07d}\n" for i in range(40))
    ledger = str(tmp_path / "cohorts.db")
    proc = run_main("cohort", "sync", "-", *COHORT, "--ledger", ledger, "--json", stdin=uids)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["added"] == 40 and len(_members(emu)) == 40


def test_a_report_path_that_is_the_input_is_refused(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    today = _list(tmp_path, 0, 10)
    before = today.read_bytes()
    proc = run_main("cohort", "sync", str(today), *COHORT, "--ledger", str(tmp_path / "c.db"), "--report", str(today))
    assert proc.returncode == 2 and "--report" in proc.stderr and "that is the input file" in proc.stderr
    assert today.read_bytes() == before and not _members(emu)
