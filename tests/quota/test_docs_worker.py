"""The worked example of docs/several-pushers.md: its worker script, run as three processes on one quota."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from moengage_segments.testing import Emulator
from tests.quota._support import REPO

WORKER = REPO / "docs" / "examples" / "several_pushers_worker.py"


@pytest.mark.slow
def test_the_documented_worker_runs_as_several_processes_on_one_sqlite_quota(tmp_path: Path) -> None:
    uids = [f"user-{i:05d}" for i in range(900)]
    (tmp_path / "uids.txt").write_text("\n".join(uids) + "\n", encoding="utf-8")
    with Emulator.in_thread(accept_any_uid=True) as emu:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MOENGAGE_")},
            "MOENGAGE_BASE_URL": emu.base_url,
            "MOENGAGE_WORKSPACE_ID": emu.workspace_id,
            "MOENGAGE_API_KEY": emu.api_key,
            "MOENGAGE_DB_NAME": emu.db_name,
            "MOENGAGE_QUOTA_URL": f"sqlite://{tmp_path / 'quota.db'}",
        }
        workers = [
            subprocess.Popen(
                [sys.executable, str(WORKER), str(part), "3"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for part in range(3)
        ]
        outputs = [worker.communicate(timeout=60) for worker in workers]
        assert [w.returncode for w in workers] == [0, 0, 0], [err[-1000:] for _, err in outputs]
        assert sorted(out.strip() for out, _ in outputs) == [
            f"worker {part}/3: 300 accepted, 0 retried" for part in range(3)
        ]
        segment = emu.cohort_segment("churn-risk")
        assert segment is not None and emu.members(segment.id) == frozenset(uids)
        assert (tmp_path / "quota.db").exists()
