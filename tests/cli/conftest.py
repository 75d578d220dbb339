"""Fixtures of the CLI tests: the plugin's emulator with the CLI's credentials, and two ways to run the CLI.

``run_main`` calls ``main()`` in this process: use it by default (a subprocess costs about half a second of
imports). ``run`` starts ``python -m moengage_segments``: keep it for what only a real process shows (exit
codes through the entry point, signals, what reaches the file descriptors).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from moengage_segments.testing import Emulator
from tests._cli import CLIResult, invoke_main

#: The emulator's key in these tests: distinctive, so "never printed" is a plain substring check.
API_KEY = "sk-test-NEVER-PRINT-8c1f2e"
WORKSPACE_ID = "CLI_TEST_WS"
DB_NAME = "cli_test_db"
SEEDED = 3000

#: Options of the plugin's ``moengage_emulator`` for every CLI test that does not mark its own.
EMULATOR = pytest.mark.moengage_emulator(workspace_id=WORKSPACE_ID, api_key=API_KEY, db_name=DB_NAME, time_scale=60)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here) and item.get_closest_marker("moengage_emulator") is None:
            item.add_marker(EMULATOR)


RunCLI = Callable[..., subprocess.CompletedProcess[str]]
InProcess = Callable[..., CLIResult]


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
def emu(moengage_emulator: Emulator) -> Emulator:
    """The plugin's emulator (with the CLI's credentials, see ``EMULATOR``), seeded with ``SEEDED`` users."""
    moengage_emulator.generate_users(SEEDED, with_email=True)
    return moengage_emulator


@pytest.fixture
def run(emu: Emulator) -> RunCLI:
    """Run the CLI as a subprocess against ``emu``; every call also checks that the API key was not printed."""

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


@pytest.fixture
def run_main(
    emu: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> InProcess:
    """Call ``main()`` in this process against ``emu``, with the environment ``run`` would give a subprocess.

    Same keywords as ``run`` (but no timeout); every call also checks that the API key was not printed.
    """
    stdin_dir = tmp_path_factory.mktemp("stdin")

    def invoke(
        *args: str, stdin: str | None = None, env: Mapping[str, str] | None = None, connect: bool = True
    ) -> CLIResult:
        result = invoke_main(
            args,
            env=cli_env(emu if connect else None, env),
            monkeypatch=monkeypatch,
            capsys=capsys,
            stdin=stdin,
            stdin_dir=stdin_dir,
        )
        assert_no_secret(result.stdout, result.stderr)
        return result

    return invoke
