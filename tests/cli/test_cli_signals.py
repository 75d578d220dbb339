"""SIGTERM stops the emulator as cleanly as Ctrl-C: `moengage-segments emulator` and the standalone module."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import cli_env


def _serve_then_terminate(*command: str) -> tuple[int, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", *command, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(None),
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # serving once the export line is out
            if line.startswith("export "):
                break
        else:
            raise AssertionError(f"no banner; stderr: {proc.stderr.read() if proc.stderr else ''}")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    return proc.returncode, err


@pytest.mark.slow  # subprocesses and real signals
@pytest.mark.parametrize("command", [("moengage_segments", "emulator"), ("moengage_segments.testing",)])
def test_sigterm_stops_the_emulator_cleanly(command: tuple[str, ...]) -> None:
    code, err = _serve_then_terminate(*command)
    assert code == 0, err
    assert "emulator stopped" in err and "Traceback" not in err


@pytest.mark.slow  # a subprocess writing to a closed pipe
def test_a_closed_stdout_pipe_ends_quietly(tmp_path: Path) -> None:
    # `moengage-segments ... | head` closes the pipe early: the command stops without a traceback.
    uids = tmp_path / "uids.txt"
    uids.write_text("u1\nu2\n")
    command = ("cohort", "add", str(uids), "--cohort-id", "c", "--partner", "p", "--dry-run", "--plain")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "moengage_segments", *command],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(None),
            timeout=30,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == ""


@pytest.mark.slow  # a subprocess and a real signal
def test_sigterm_stops_the_emulator_even_when_stderr_is_a_closed_pipe() -> None:
    # The stop note went first and raised BrokenPipeError in the signal handler: SIGTERM was then ignored.
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moengage_segments", "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=write_end,
        text=True,
        env=cli_env(None),
    )
    os.close(write_end)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # serving once the export line is out
            if line.startswith("export "):
                break
        os.close(read_end)  # whoever read stderr has gone
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) in (0, 141)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
