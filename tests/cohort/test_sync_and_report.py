"""The generated sync client runs the same engine; reports carry no secret and no uid."""

from __future__ import annotations

from moengage_segments import Client, Cohort, CohortSyncProgress
from moengage_segments.testing import Emulator

COHORT = Cohort(id="sync-cohort", name="Sync cohort", partner="p")


def test_sync_client_add_remove_and_plan() -> None:
    uids = [f"s{i:05d}" for i in range(5_000)]
    progress: list[CohortSyncProgress] = []
    with (
        Emulator.in_thread(accept_any_uid=True, rate_limits=False) as emu,
        Client(emu.workspace_id, emu.api_key, base_url=emu.base_url, rate_limits=None) as client,
    ):
        plan = client.cohorts.plan(COHORT, uids, max_request_bytes=20_000)
        report = client.cohorts.add_members(COHORT, iter(uids), max_request_bytes=20_000, on_progress=progress.append)
        info = emu.cohort_segment(COHORT.id)
        assert info is not None and emu.members(info.id) == set(uids)
        removed = client.cohorts.remove_members(COHORT, uids[:100])
        assert emu.members(info.id) == set(uids[100:])
    assert report.ok and report.accepted == len(uids) and plan.requests == report.requests
    assert removed.accepted == 100
    assert progress and progress[-1].done


def test_report_json_has_no_secret_and_no_uid() -> None:
    with (
        Emulator.in_thread(accept_any_uid=True, rate_limits=False) as emu,
        Client(emu.workspace_id, emu.api_key, base_url=emu.base_url, rate_limits=None) as client,
    ):
        report = client.cohorts.add_members(COHORT, ["very-identifiable-uid", ""])
    text = report.to_json()
    assert emu.api_key not in text and "very-identifiable-uid" not in text
    assert '"accepted": 1' in text and '"invalid": 1' in text
