"""--failed-uids after Ctrl-C: the file holds every uid read and not accepted, and the message says what it holds."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from moengage_segments import read_uids
from moengage_segments.testing import Emulator, Fault

from .conftest import SEEDED, InProcess, assert_no_secret, cli_env

COHORT = ("--cohort-id", "churn", "--cohort-name", "Churn risk", "--partner", "warehouse")


@pytest.mark.slow  # a subprocess and a real SIGINT
def test_ctrl_c_writes_the_unsent_uids_and_says_exactly_what(emu: Emulator, tmp_path: Path) -> None:
    uids = [f"user-{i:07d}" for i in range(SEEDED)]
    path, report, failed = tmp_path / "uids.txt", tmp_path / "report.json", tmp_path / "failed.csv"
    path.write_text("".join(f"{uid}\n" for uid in uids))
    emu.faults.set_random(Fault.slow(0.5), 1.0, target="cohort")  # every request takes half a second
    options = (
        "--report",
        str(report),
        "--failed-uids",
        str(failed),
        "--max-request-bytes",
        "5000",
        "--max-in-flight",
        "1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "moengage_segments", "cohort", "add", str(path), *COHORT, "--plain", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(emu),
    )
    assert proc.stderr is not None
    assert "cohort add churn" in proc.stderr.readline()  # the first progress line: the push is under way
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert_no_secret(out, err)
    assert proc.returncode == 130, err
    written = json.loads(report.read_text())
    assert written["cancelled"] and written["not_sent"] > 0 and written["failed"] == 0
    rows = list(zip(read_uids(failed, column="uid"), read_uids(failed, column="reason"), strict=True))
    assert len(rows) == written["not_sent"]
    assert {reason for _, reason in rows} <= {"not sent: cancelled", "not confirmed: cancelled during its request"}
    info = emu.cohort_segment("churn")
    members = set() if info is None else emu.members(info.id)
    unconfirmed = {uid for uid, reason in rows if reason.startswith("not confirmed")}
    assert len(members - unconfirmed) == written["accepted"]
    assert (members | {uid for uid, _ in rows}) == set(uids[: written["submitted"]])
    message = (
        f"wrote {written['not_sent']:,} uids to {failed} ({written['not_sent']:,} read but not sent or not confirmed;"
    )
    assert message in out, out


def test_pushing_a_failed_uids_file_again_with_the_same_path_is_refused(
    run_main: InProcess, emu: Emulator, tmp_path: Path
) -> None:
    # The docs say to push the file again with --column uid; the same --failed-uids emptied it unread.
    failed = tmp_path / "failed.csv"
    failed.write_text("uid,reason\r\nuser-0000001,not sent: cancelled\r\n")
    before = failed.read_bytes()
    again = ("cohort", "add", str(failed), "--column", "uid", *COHORT)
    proc = run_main(*again, "--failed-uids", str(tmp_path / "." / "failed.csv"))
    assert proc.returncode == 2
    assert "--failed-uids" in proc.stderr and "that is the input file" in proc.stderr
    proc = run_main(*again, "--failed-uids", str(tmp_path / "out.csv"), "--report", str(tmp_path / "out.csv"))
    assert proc.returncode == 2 and "--failed-uids and --report name the same file" in proc.stderr
    assert failed.read_bytes() == before and not (tmp_path / "out.csv").exists()
    assert not emu.requests
