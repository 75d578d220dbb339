"""The pytest example of docs/testing.md passes in a project without pytest-asyncio's auto mode."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def _plugin_example() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text("utf-8"), re.M | re.S)
    [example] = [b for b in blocks if "@pytest.mark.moengage_emulator" in b and "async def test_" in b]
    return example


def _run(tmp_path: Path, ini: str, test: str, name: str = "pytest.ini") -> subprocess.CompletedProcess[str]:
    (tmp_path / name).write_text(ini, "utf-8")  # this project's config, not the repo's auto mode
    (tmp_path / "test_example.py").write_text(test, "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_the_documented_example_passes_in_strict_mode(tmp_path: Path) -> None:
    example = _plugin_example()
    assert "@pytest.mark.asyncio" in example
    result = _run(tmp_path, "[pytest]\nasyncio_mode = strict\n", example)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr


def test_without_the_mark_strict_mode_fails_as_the_docs_say(tmp_path: Path) -> None:
    unmarked = _plugin_example().replace("@pytest.mark.asyncio\n", "")
    result = _run(tmp_path, "[pytest]\nasyncio_mode = strict\n", unmarked)
    assert result.returncode != 0 and "not natively supported" in result.stdout + result.stderr


def test_the_documented_auto_mode_snippet_runs_the_example_without_the_mark(tmp_path: Path) -> None:
    [snippet] = [
        b for b in re.findall(r"^```toml\n(.*?)^```", DOC.read_text("utf-8"), re.M | re.S) if "asyncio_mode" in b
    ]
    unmarked = _plugin_example().replace("@pytest.mark.asyncio\n", "")
    result = _run(tmp_path, snippet, unmarked, name="pyproject.toml")
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
