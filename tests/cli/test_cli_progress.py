"""The cohort progress line: what it waits for, requests on the wire and queued, and an honest ETA."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from moengage_segments.cli.cohort import duration, progress_detail
from moengage_segments.models import CohortSyncProgress
from moengage_segments.testing import Emulator

from .conftest import InProcess

COHORT = ("--cohort-id", "churn", "--partner", "warehouse")


def _snapshot(**kw: object) -> CohortSyncProgress:
    values: dict[str, object] = {
        "submitted": 1_000,
        "accepted": 400,
        "failed": 0,
        "invalid": 0,
        "duplicates": 0,
        "skipped": 0,
        "requests": 12,
        "in_flight": 0,
        "elapsed": 2.0,
        "rate": 200.0,
        "total": 1_000,
        "eta": 62.0,
    }
    values.update(kw)
    return CohortSyncProgress(**values)  # type: ignore[arg-type]


def test_detail_names_the_rate_limit_wait_queue_and_eta() -> None:
    done, detail = progress_detail(_snapshot(queued=4, waiting_for="rate_limit", next_slot=42.2))
    assert done == 400
    assert detail == (
        "12 requests, 0 in flight, 4 queued, 200 uids/s, eta 1m02s, waiting for the rate limit, next slot in 42s"
    )


def test_detail_while_waiting_for_input_and_when_done() -> None:
    _, detail = progress_detail(_snapshot(total=None, eta=None, waiting_for="input"))
    assert detail == "12 requests, 0 in flight, 200 uids/s, waiting for input"
    _, detail = progress_detail(_snapshot(accepted=1_000, eta=0.0, done=True))
    assert "eta" not in detail


def test_duration() -> None:
    seconds = (0.44, 9.96, 42.4, 62, 3_600 + 5 * 60 + 4)
    assert [duration(s) for s in seconds] == ["0.4s", "10.0s", "42s", "1m02s", "1h05m"]


def test_cli_progress_line_shows_the_eta(run_main: InProcess, tmp_path: Path) -> None:
    path = tmp_path / "uids.txt"
    path.write_text("".join(f"user-{i:07d}\n" for i in range(3_000)))
    code, _, err = run_main("cohort", "add", str(path), *COHORT, "--plain", "--max-request-bytes", "4000")
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("cohort add churn:")]
    assert len(lines) >= 2 and ", eta " in lines[0], lines
    assert lines[-1].startswith("cohort add churn: 3,000/3,000 uids (100%)") and lines[-1].endswith(", done")


def test_a_trickling_stdin_pipe_flows(
    run_main: InProcess, emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first uids of a pipe whose writer then waits reach the service meanwhile (and progress says so)."""
    read_end, write_end = os.pipe()
    monkeypatch.setattr(sys, "stdin", os.fdopen(read_end, "r"))
    flowed = threading.Event()

    def members() -> int:
        info = emu.cohort_segment("churn")
        return 0 if info is None else info.member_count

    def writer() -> None:
        with os.fdopen(write_end, "w") as pipe:
            pipe.write("".join(f"user-{i:07d}\n" for i in range(100)))
            pipe.flush()
            for _ in range(2_000):  # waits at most 10 s for the first 100 to arrive
                if members() >= 100:
                    flowed.set()
                    break
                time.sleep(0.005)
            pipe.write("".join(f"user-{i:07d}\n" for i in range(100, 150)))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    code, _, err = run_main("cohort", "add", "-", *COHORT, "--plain", "--linger", "0.02")
    thread.join(10)
    assert code == 0, err
    assert flowed.is_set() and members() == 150


def test_linger_flag_is_checked(run_main: InProcess, tmp_path: Path) -> None:
    code, _, err = run_main("cohort", "add", "-", *COHORT, "--linger", "-1")
    assert code == 2 and "--linger" in err and "0 or more" in err
