"""The spec tests skip in a clone without the vendor's OpenAPI folder, and fail with MOENGAGE_REQUIRE_SPEC=1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._services import SPEC_FILES, openapi_dir, require_openapi

ROOT = Path(__file__).resolve().parents[1]
SPEC_TESTS = "tests/filters/test_spec_examples.py"  # collects the vendor's examples: needs the folder at once


def test_an_absent_folder_skips_with_the_folder_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOENGAGE_OPENAPI_DIR", str(tmp_path))
    monkeypatch.delenv("MOENGAGE_REQUIRE_SPEC", raising=False)
    assert openapi_dir() is None
    with pytest.raises(pytest.skip.Exception, match=str(tmp_path)):
        require_openapi()


def test_an_absent_folder_fails_when_the_spec_is_required(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOENGAGE_OPENAPI_DIR", str(tmp_path))
    monkeypatch.setenv("MOENGAGE_REQUIRE_SPEC", "1")
    with pytest.raises(pytest.fail.Exception, match="MOENGAGE_REQUIRE_SPEC=1"):
        openapi_dir()
    with pytest.raises(pytest.fail.Exception, match=str(tmp_path)):
        require_openapi()
    # One of the two files is not enough either.
    (tmp_path / SPEC_FILES[0]).write_text("{}")
    with pytest.raises(pytest.fail.Exception):
        openapi_dir()
    (tmp_path / SPEC_FILES[1]).write_text("{}")
    assert openapi_dir() == tmp_path


@pytest.mark.slow  # a pytest subprocess
def test_a_required_spec_that_is_absent_fails_the_run(tmp_path: Path) -> None:
    """End to end, as in CI: a spec-conformance module does not even collect, so the run cannot pass."""
    env = {**os.environ, "MOENGAGE_OPENAPI_DIR": str(tmp_path), "MOENGAGE_REQUIRE_SPEC": "1"}
    # One process, and no hypothesis plugin: importing hypothesis would be most of this run's cost.
    options = ["-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-n", "0"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *options, SPEC_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "MOENGAGE_REQUIRE_SPEC=1 makes this a failure" in proc.stdout
    assert " passed" not in proc.stdout
