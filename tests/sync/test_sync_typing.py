"""mypy --strict over small usage files of both clients, with assert_type on every return type.

Slow: on a clean checkout (no ``.mypy_cache``) each run first checks the package and what it imports.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api as mypy_api

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


pytestmark = pytest.mark.slow


@pytest.mark.parametrize("usage", ["typing_usage_sync.py", "typing_usage_async.py"])
def test_usage_file_is_mypy_strict_clean(usage: str) -> None:
    # The sync usage is checked together with the generated module itself (tools/gen_sync.py's output).
    generated = [str(REPO / "moengage_segments/_sync/client.py")] if usage == "typing_usage_sync.py" else []
    out, err, status = mypy_api.run(
        [
            "--strict",
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(REPO / ".mypy_cache"),
            str(HERE / usage),
            *generated,
        ]
    )
    assert status == 0, out + err


def test_a_wrong_type_is_reported(tmp_path: Path) -> None:
    # Control: the check really looks at the return types.
    bad = tmp_path / "bad_usage.py"
    bad.write_text(
        "from typing_extensions import assert_type\n"
        "from moengage_segments._sync import Client\n"
        "def use(client: Client) -> None:\n"
        "    assert_type(client.segments.find('x'), str)\n"
    )
    out, _, status = mypy_api.run(
        ["--strict", "--config-file", str(REPO / "pyproject.toml"), "--cache-dir", str(REPO / ".mypy_cache"), str(bad)]
    )
    assert status == 1
    assert "SegmentSummary | None" in out
