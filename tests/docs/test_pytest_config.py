"""The pytest configuration the testing guide suggests runs its example cleanly on the installed pytest-asyncio."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def _block(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text("utf-8"), re.S)
    return next(block for block in blocks if containing in block)


@pytest.mark.slow  # a pytest subprocess
def test_the_suggested_config_runs_the_example_without_deprecation_warnings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(_block("toml", "asyncio_mode"))
    (tmp_path / "test_example.py").write_text(_block("python", "moengage_client"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error::pytest.PytestDeprecationWarning",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout and "warning" not in proc.stdout.lower(), proc.stdout
