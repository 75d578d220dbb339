"""The pytest configuration the testing guide suggests runs its example cleanly on the installed pytest-asyncio.

pytest runs on a scratch project with pytester, in-process (a subprocess would spend seconds on imports this
process has already done); the project's own config is the guide's, not this repo's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def _block(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text("utf-8"), re.S)
    return next(block for block in blocks if containing in block)


def test_the_suggested_config_runs_the_example_without_deprecation_warnings(pytester: pytest.Pytester) -> None:
    (pytester.path / "pyproject.toml").write_text(_block("toml", "asyncio_mode"))
    (pytester.path / "test_example.py").write_text(_block("python", "moengage_client"))
    result = pytester.runpytest_inprocess(
        "-q",  # no header: the scratch folder's name has "warnings" in it
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",  # imports hypothesis at the end of the session: seconds, and not the subject
        "-W",
        "error::pytest.PytestDeprecationWarning",
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)
    assert "warning" not in result.stdout.str().lower(), result.stdout.str()
