"""SIGTERM stops the emulator as cleanly as Ctrl-C: `moengage-segments emulator` and the standalone module."""

from __future__ import annotations

import signal
import subprocess
import sys

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
