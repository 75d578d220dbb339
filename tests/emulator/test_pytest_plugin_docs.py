"""The pytest example of docs/testing.md passes in a project without pytest-asyncio's auto mode.

Each case runs pytest on a scratch project with pytester, in-process (a subprocess would spend seconds on
imports this process has already done). The project's own config decides the mode, not this repo's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def _plugin_example() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text("utf-8"), re.M | re.S)
    [example] = [b for b in blocks if "@pytest.mark.moengage_emulator" in b and "async def test_" in b]
    return example


def _run(pytester: pytest.Pytester, ini: str, test: str, name: str = "pytest.ini") -> pytest.RunResult:
    (pytester.path / name).write_text(ini, "utf-8")  # this project's config, not the repo's auto mode
    (pytester.path / "test_example.py").write_text(test, "utf-8")
    return pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        # hypothesis' plugin imports hypothesis at the end of every session: seconds, and nothing to do with this
        "-p",
        "no:hypothesispytest",
        # keeps pytest-asyncio's "loop scope unset" deprecation out of this run's summary; not a mode setting
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "test_example.py",
    )


def test_the_documented_example_passes_in_strict_mode(pytester: pytest.Pytester) -> None:
    example = _plugin_example()
    assert "@pytest.mark.asyncio" in example
    result = _run(pytester, "[pytest]\nasyncio_mode = strict\n", example)
    result.assert_outcomes(passed=1)


def test_without_the_mark_strict_mode_fails_as_the_docs_say(pytester: pytest.Pytester) -> None:
    unmarked = _plugin_example().replace("@pytest.mark.asyncio\n", "")
    result = _run(pytester, "[pytest]\nasyncio_mode = strict\n", unmarked)
    assert result.ret != 0 and "not natively supported" in result.stdout.str() + result.stderr.str()


def test_the_documented_auto_mode_snippet_runs_the_example_without_the_mark(pytester: pytest.Pytester) -> None:
    [snippet] = [
        b for b in re.findall(r"^```toml\n(.*?)^```", DOC.read_text("utf-8"), re.M | re.S) if "asyncio_mode" in b
    ]
    unmarked = _plugin_example().replace("@pytest.mark.asyncio\n", "")
    result = _run(pytester, snippet, unmarked, name="pyproject.toml")
    result.assert_outcomes(passed=1)
