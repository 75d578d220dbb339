"""Fixtures of the CLI tests: an emulator on a thread and a runner for ``python -m moengage_segments``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping

import pytest

from moengage_segments.testing import Emulator

#: The emulator's key in these tests: distinctive, so "never printed" is a plain substring check.
API_KEY = "sk-test-NEVER-PRINT-8c1f2e"
WORKSPACE_ID = "CLI_TEST_WS"
DB_NAME = "cli_test_db"
SEEDED = 3000

RunCLI = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(emu: Emulator | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI subprocess: no inherited MOENGAGE_* except the emulator's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOENGAGE_")}
    if emu is not None:
        env.update(
            MOENGAGE_BASE_URL=emu.base_url,
            MOENGAGE_WORKSPACE_ID=WORKSPACE_ID,
            MOENGAGE_API_KEY=API_KEY,
            MOENGAGE_DB_NAME=DB_NAME,
        )
    env.update(extra or {})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def assert_no_secret(*texts: str, secrets: tuple[str, ...] = (API_KEY,)) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"secret leaked into output:\n{text}"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator.in_thread(WORKSPACE_ID, API_KEY, DB_NAME, time_scale=60) as emulator:
        emulator.generate_users(SEEDED, with_email=True)
        yield emulator


@pytest.fixture
def run(emu: Emulator) -> RunCLI:
    """Run the CLI against ``emu``; every call also checks that the API key was not printed."""

    def invoke(
        *args: str,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
        connect: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "moengage_segments", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=cli_env(emu if connect else None, env),
            timeout=timeout,
        )
        assert_no_secret(proc.stdout, proc.stderr)
        return proc

    return invoke


InProcess = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run_main(emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> InProcess:
    """Call ``main()`` in this process (fast, for checks that end before any request is sent)."""
    from moengage_segments.cli import main

    for key, value in cli_env(emu).items():
        if key.startswith("MOENGAGE_"):
            monkeypatch.setenv(key, value)

    def invoke(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        assert_no_secret(captured.out, captured.err)
        return code, captured.out, captured.err

    return invoke
