"""cohort add|remove: dry run, report file, stdin and CSV columns, partial failure, resume, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moengage_segments.testing import Emulator, Fault

from .conftest import SEEDED, InProcess, assert_no_secret, cli_env

COHORT = ("--cohort-id", "churn", "--cohort-name", "Churn risk", "--partner", "warehouse")


def _uid_file(tmp_path: Path, n: int = SEEDED, name: str = "uids.txt") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"user-{i:07d}\n" for i in range(n)))
    return path


def test_dry_run_plans_and_sends_nothing(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    path = _uid_file(tmp_path)
    path.write_text(path.read_text() + "user-0000001\n\nbad|uid\n")  # a duplicate and a blank line
    proc = run_main("cohort", "add", str(path), *COHORT, "--dry-run", "--max-request-bytes", "8000", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["dry_run"] is True and plan["submitted"] == SEEDED + 2
    assert plan["members"] + plan["invalid"] + plan["duplicates"] == SEEDED + 2
    assert plan["requests"] > 1 and 0 < plan["fill"] <= 1
    assert emu.cohort_segment("churn") is None
    assert emu.counters.requests_by_endpoint["cohort_sync"] == 0


def test_dry_run_needs_no_credentials(run_main: InProcess, tmp_path: Path) -> None:
    proc = run_main("cohort", "remove", str(_uid_file(tmp_path, 10)), *COHORT, "--dry-run", connect=False)
    assert proc.returncode == 0, proc.stderr
    assert "nothing was sent" in proc.stdout


def test_push_writes_report_and_adds_members(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    proc = run_main(
        "cohort",
        "add",
        str(_uid_file(tmp_path)),
        *COHORT,
        "--report",
        str(report_path),
        "--max-request-bytes",
        "10000",
        "--max-in-flight",
        "4",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    written = json.loads(report_path.read_text())
    assert printed == written
    assert written["accepted"] == SEEDED and written["ok"] is True and written["requests"] > 1
    assert all(b["bytes"] <= 10000 for b in written["batches"])
    segment = emu.cohort_segment("churn")
    assert segment is not None and segment.member_count == SEEDED
    # Progress went to stderr as plain lines (not a terminal).
    assert "cohort add churn:" in proc.stderr


def test_remove_from_stdin_csv_column(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    assert run_main("cohort", "add", str(_uid_file(tmp_path)), *COHORT).returncode == 0
    csv_text = "email,user_id\n" + "".join(f"u{i}@x.test,user-{i:07d}\n" for i in range(100))
    proc = run_main("cohort", "remove", "-", "--column", "user_id", *COHORT, stdin=csv_text)
    assert proc.returncode == 0, proc.stderr
    assert "accepted" in proc.stdout
    segment = emu.cohort_segment("churn")
    assert segment is not None and segment.member_count == SEEDED - 100


def test_csv_file_column_by_name_and_missing_column(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("user_id,plan\n" + "".join(f"user-{i:07d},pro\n" for i in range(50)))
    proc = run_main("cohort", "add", str(path), "--column", "user_id", *COHORT, "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["accepted"] == 50
    sent = emu.counters.requests_by_endpoint["cohort_sync"]
    proc = run_main("cohort", "add", str(path), "--column", "nope", *COHORT)
    assert proc.returncode == 2 and "nope" in proc.stderr
    # The error names the flag and lists the columns the header does have.
    assert "--column" in proc.stderr and "'user_id', 'plan'" in proc.stderr
    proc = run_main("cohort", "add", "-", "--column", "nope", *COHORT, stdin="user_id,plan\nuser-0000001,pro\n")
    assert proc.returncode == 2 and "--column" in proc.stderr and "'user_id', 'plan'" in proc.stderr
    assert emu.counters.requests_by_endpoint["cohort_sync"] == sent


def test_partial_failure_exits_3_then_checkpoint_resumes(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    path, journal = _uid_file(tmp_path), tmp_path / "push.journal"
    options = ("--checkpoint", str(journal), "--max-request-bytes", "10000", "--max-in-flight", "1")
    # Two batches refused with a 400 (never retried): the push completes, minus those two.
    emu.faults.script(Fault("status", 400), Fault("status", 400), target="cohort")
    first = run_main("cohort", "add", str(path), *COHORT, *options, "--json")
    assert first.returncode == 3, first.stderr
    r1 = json.loads(first.stdout)
    assert r1["failed"] > 0 and r1["accepted"] > 0 and r1["accepted"] + r1["failed"] == SEEDED

    second = run_main("cohort", "add", str(path), *COHORT, *options, "--json")
    assert second.returncode == 0, second.stderr
    r2 = json.loads(second.stdout)
    assert r2["skipped"] == r1["accepted"] and r2["accepted"] == r1["failed"]
    assert r2["requests"] == 2  # only the two refused batches were sent again
    segment = emu.cohort_segment("churn")
    assert segment is not None and segment.member_count == SEEDED


def test_checkpoint_of_another_input_is_a_usage_error(run_main: InProcess, tmp_path: Path) -> None:
    journal = str(tmp_path / "push.journal")
    assert run_main("cohort", "add", str(_uid_file(tmp_path, 100)), *COHORT, "--checkpoint", journal).returncode == 0
    other = _uid_file(tmp_path, 50, "other.txt")
    proc = run_main("cohort", "remove", str(other), *COHORT, "--checkpoint", journal)
    assert proc.returncode == 2 and "checkpoint" in proc.stderr


def test_everything_failing_exits_1(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    emu.faults.set_random(Fault("status", 400), 1.0, target="cohort")
    proc = run_main("cohort", "add", str(_uid_file(tmp_path, 10)), *COHORT, "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["failed"] == 10


def test_missing_input_and_bad_options_are_usage_errors(run_main: InProcess, tmp_path: Path) -> None:
    code, _, err = run_main("cohort", "add", str(tmp_path / "none.txt"), *COHORT)
    assert code == 2 and "none.txt" in err
    assert run_main("cohort", "add", "-", "--partner", "p")[0] == 2  # --cohort-id missing
    assert run_main("cohort", "add", "-", *COHORT, "--max-in-flight", "0")[0] == 2
    code, _, err = run_main("cohort", "add", "-", *COHORT, "--dry-run", "--checkpoint", "x.journal")
    assert code == 2 and "--dry-run" in err


def test_bad_cohort_name_is_a_usage_error(run_main: InProcess, emu: Emulator) -> None:
    proc = run_main(
        "cohort", "add", "-", "--cohort-id", "c", "--cohort-name", "bad|name", "--partner", "p", stdin="u1\n"
    )
    assert proc.returncode == 2 and "error: --cohort-name: must not contain |" in proc.stderr
    assert "defaults to" not in proc.stderr
    assert emu.counters.requests_by_endpoint["cohort_sync"] == 0


@pytest.mark.slow  # a subprocess and a real SIGINT
def test_ctrl_c_cancels_cleanly_reports_and_exits_130(emu: Emulator, tmp_path: Path) -> None:
    path, report = _uid_file(tmp_path), tmp_path / "report.json"
    emu.faults.set_random(Fault.slow(0.5), 1.0, target="cohort")  # every request takes half a second
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "moengage_segments",
            "cohort",
            "add",
            str(path),
            *COHORT,
            "--report",
            str(report),
            "--max-request-bytes",
            "5000",
            "--max-in-flight",
            "1",
            "--checkpoint",
            str(tmp_path / "j"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(emu),
    )
    assert proc.stderr is not None
    first_progress = proc.stderr.readline()  # the first progress line: the push is under way
    assert "cohort add churn" in first_progress
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert_no_secret(out, err)
    assert proc.returncode == 130, err
    assert "interrupted" in out and "not sent" in out and "--checkpoint" in out
    written = json.loads(report.read_text())
    assert written["cancelled"] is True and written["accepted"] < SEEDED
    assert written["accepted"] + written["not_sent"] == written["submitted"]
    # The whole (small) file was read before the interrupt: the summary must not claim otherwise.
    assert written["submitted"] == SEEDED
    assert "the rest of the input was not read" not in out
    # The last progress line carries the final counts, not the last throttled snapshot.
    progress = [line for line in (first_progress + err).splitlines() if line.startswith("cohort add churn:")]
    resolved = written["submitted"] - written["not_sent"]
    assert progress[-1].startswith(f"cohort add churn: {resolved:,}/{SEEDED:,} uids"), progress
    assert progress[-1].endswith(f"{written['requests']:,} requests, interrupted"), progress


@pytest.mark.slow  # a subprocess and a real SIGINT
def test_ctrl_c_with_stdin_still_open_exits_at_once_and_says_the_rest_was_not_read(emu: Emulator) -> None:
    emu.faults.set_random(Fault.slow(0.5), 1.0, target="cohort")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moengage_segments", "cohort", "add", "-", *COHORT, "--max-in-flight", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(emu),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdin.write("".join(f"user-{i:07d}\n" for i in range(20_000)))
        proc.stdin.flush()  # the producer keeps the pipe open: the input has no end yet
        assert "cohort add churn" in proc.stderr.readline()
        while emu.counters.requests_by_endpoint["cohort_sync"] < 2:  # some batches are under way
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        # The command must not wait for the end of stdin to exit.
        assert proc.wait(timeout=15) == 130
    finally:
        proc.stdin.close()
    out, err = proc.stdout.read(), proc.stderr.read()
    assert "interrupted" in err
    assert "read but not sent (the rest of the input was not read)." in out


@pytest.mark.slow  # a subprocess and a real SIGINT
def test_ctrl_c_early_in_a_large_file_says_the_rest_was_not_read(emu: Emulator, tmp_path: Path) -> None:
    path, report = _uid_file(tmp_path, 400_000), tmp_path / "report.json"  # ~5 MB, read in 1 MiB blocks
    emu.faults.set_random(Fault.slow(0.5), 1.0, target="cohort")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "moengage_segments",
            "cohort",
            "add",
            str(path),
            *COHORT,
            "--max-in-flight",
            "1",
            "--report",
            str(report),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(emu),
    )
    assert proc.stderr is not None
    assert "cohort add churn" in proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    written = json.loads(report.read_text())
    assert written["cancelled"] is True and written["submitted"] < 400_000
    assert (
        f"interrupted: {written['accepted']:,} accepted, {written['not_sent']:,} read but not sent "
        "(the rest of the input was not read)."
    ) in out


def test_default_cohort_name_error_names_both_flags_before_any_progress(
    run_main: InProcess, emu: Emulator, tmp_path: Path
) -> None:
    proc = run_main("cohort", "add", str(_uid_file(tmp_path, 10)), "--cohort-id", "bad|id", "--partner", "warehouse")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        'error: --cohort-name (defaults to --cohort-id): must not contain | (forbidden: | * ? \\ : < > = $ ")'
    ]
    assert emu.counters.requests_by_endpoint["cohort_sync"] == 0


def test_unwritable_report_path_is_refused_before_sending(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    path = _uid_file(tmp_path, 10)
    proc = run_main("cohort", "add", str(path), *COHORT, "--report", str(tmp_path / "missing" / "r.json"))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: --report {tmp_path / 'missing' / 'r.json'}: directory {tmp_path / 'missing'} does not exist"
    ]
    proc = run_main("cohort", "add", str(path), *COHORT, "--report", str(tmp_path), "--json")
    assert proc.returncode == 2 and f"--report {tmp_path}: is a directory" in proc.stderr
    proc = run_main("cohort", "add", str(path), *COHORT, "--failed-uids", str(tmp_path / "nope" / "f.txt"))
    assert proc.returncode == 2 and "--failed-uids" in proc.stderr
    assert emu.counters.requests_by_endpoint["cohort_sync"] == 0
    assert emu.cohort_segment("churn") is None
    # The checks leave no file behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uids.txt"]


def test_checkpoint_that_is_a_directory_names_the_flag(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    proc = run_main("cohort", "add", str(_uid_file(tmp_path, 10)), *COHORT, "--checkpoint", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"error: --checkpoint {tmp_path}: is a directory"]
    assert emu.counters.requests_by_endpoint["cohort_sync"] == 0


def test_report_that_fails_after_the_push_still_prints_the_summary(
    run_main: InProcess, emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moengage_segments.cli import cohort as cohort_module

    out_dir = tmp_path / "reports"
    out_dir.mkdir()
    detail = cohort_module.progress_detail

    def first_progress_removes_the_directory(progress: object) -> object:
        # The paths were checked and the push is under way: now take the directory away.
        if out_dir.exists():
            out_dir.rmdir()
        return detail(progress)  # type: ignore[arg-type]

    monkeypatch.setattr(cohort_module, "progress_detail", first_progress_removes_the_directory)
    code, out, err = run_main(
        "cohort",
        "add",
        str(_uid_file(tmp_path, 300)),
        *COHORT,
        "--report",
        str(out_dir / "r.json"),
        "--max-request-bytes",
        "2000",
        "--max-in-flight",
        "1",
    )
    assert code == 1, err  # every uid was accepted, but the report the user asked for is missing
    assert "accepted" in out and "300" in out  # the summary
    assert f"error: push done, report not written: No such file or directory: {out_dir / 'r.json'}" in err
    segment = emu.cohort_segment("churn")
    assert segment is not None and segment.member_count == 300


def test_report_failure_after_a_partial_push_exits_3(
    run_main: InProcess, emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moengage_segments.cli import cohort as cohort_module

    def failing_write(path: str, text: str) -> None:
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr(cohort_module, "_write", failing_write)
    emu.faults.script(Fault("status", 400), target="cohort")
    report = tmp_path / "r.json"
    code, out, err = run_main(
        "cohort",
        "add",
        str(_uid_file(tmp_path)),
        *COHORT,
        "--report",
        str(report),
        "--max-request-bytes",
        "10000",
        "--max-in-flight",
        "1",
        "--json",
    )
    assert code == 3
    doc = json.loads(out)
    assert doc["failed"] > 0 and doc["accepted"] > 0
    assert doc["report_not_written"] == f"No space left on device: {report}"
    assert "push done, report not written: No space left on device" in err


def test_stdin_line_ends_and_failed_uids_fed_back_with_column_uid(
    run_main: InProcess, emu: Emulator, tmp_path: Path
) -> None:
    uids = [f"user-{i:07d}" for i in range(6)]
    # CRLF, a lone CR and LF mixed: every line end is one; none stays on a uid.
    stdin = f"{uids[0]}\r\n{uids[1]}\r{uids[2]}\n{uids[3]}\r\n\r\n{uids[4]}\r{uids[5]}\r"
    failed = tmp_path / "failed.csv"
    emu.faults.set_random(Fault("status", 400), 1.0, target="cohort")
    first = run_main("cohort", "add", "-", *COHORT, "--failed-uids", str(failed), "--json", stdin=stdin)
    assert first.returncode == 1, first.stderr
    assert json.loads(first.stdout)["failed"] == 6
    emu.faults.clear()
    second = run_main("cohort", "add", str(failed), "--column", "uid", *COHORT, "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["accepted"] == 6
    segment = emu.cohort_segment("churn")
    assert segment is not None and emu.members(segment.id) == set(uids)


@pytest.mark.skipif(not Path("/dev/fd").is_dir(), reason="needs /dev/fd (a pipe given as a path, like bash's <(...))")
def test_a_pipe_given_as_the_file_is_pushed_whole(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    # `cohort add <(zcat uids.gz)`: the count ahead of the push used to read the pipe dry, and the push then
    # read nothing, exiting 0 with "read 0".
    uids = [f"user-{i:07d}" for i in range(1_000)]
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as writer:
        writer.write("".join(f"{uid}\n" for uid in uids))  # fits the pipe's buffer: no writer thread needed
    try:
        proc = run_main("cohort", "add", f"/dev/fd/{read_end}", *COHORT, "--json")
    finally:
        os.close(read_end)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["accepted"] == len(uids)
    info = emu.cohort_segment("churn")
    assert info is not None and emu.members(info.id) == set(uids)
