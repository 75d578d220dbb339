"""The library logger has a NullHandler: an SDK warning reaches no stream until the application configures logging."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import asyncio
from moengage_segments import AsyncClient, Cohort

async def main():
    async with AsyncClient("ws", "key", data_center="01") as client:
        # plan() of a one-shot iterator logs a WARNING and sends nothing.
        await client.cohorts.plan(Cohort(id="c", name="C", partner="p"), iter(["u1", "u2"]))

asyncio.run(main())
print("done")
"""


@pytest.mark.slow  # an interpreter
def test_a_warning_does_not_reach_stderr_without_logging_configured() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    assert proc.stderr == ""


@pytest.mark.slow  # an interpreter
def test_the_warning_is_there_for_an_application_that_configures_logging() -> None:
    script = "import logging; logging.basicConfig(format='%(levelname)s %(name)s')\n" + SCRIPT
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "WARNING moengage_segments"
