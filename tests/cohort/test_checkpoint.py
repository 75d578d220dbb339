"""Resumable runs: journal confirmed batches, skip them on restart, refuse damaged or foreign journals."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from moengage_segments import AsyncClient, CheckpointError, Cohort, CohortSyncError, read_uids
from tests.cohort._sink import Sink

COHORT = Cohort(id="resume", name="Resume", partner="p")
CHILD = Path(__file__).with_name("_resume_child.py")
ROOT = Path(__file__).resolve().parents[2]


def client_for(url: str) -> AsyncClient:
    return AsyncClient("ws", "key", base_url=url, rate_limits=None)


def write_uids(path: Path, n: int) -> list[str]:
    uids = [f"resume-{i:06d}" for i in range(n)]
    path.write_text("\n".join(uids) + "\n")
    return uids


async def test_resume_after_sigkill_skips_confirmed_and_resends_at_most_max_in_flight(tmp_path: Path) -> None:
    uid_file, journal = tmp_path / "uids.txt", tmp_path / "push.journal"
    uids = write_uids(uid_file, 12_000)
    max_in_flight = 4
    async with Sink(delay=0.02) as sink:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CHILD),
            sink.url,
            str(uid_file),
            str(journal),
            str(max_in_flight),
            env=env,
        )
        try:
            while len(sink.accepted_bodies) < 20:
                assert child.returncode is None, "the child finished before it could be killed"
                await asyncio.sleep(0.005)
        finally:
            child.send_signal(signal.SIGKILL)
            await child.wait()
        assert child.returncode == -signal.SIGKILL
        await asyncio.sleep(0.1)  # let requests the child had in flight reach the sink
        first_run = len(sink.accepted_bodies)
        assert first_run < 100  # killed well before the end (~140 batches)

        async with client_for(sink.url) as client:
            report = await client.cohorts.add_members(
                COHORT,
                read_uids(uid_file),
                max_request_bytes=4_000,
                max_in_flight=max_in_flight,
                checkpoint=journal,
            )
        assert sink.members[COHORT.id] == set(uids)
    assert report.ok and report.skipped > 0
    assert report.skipped + report.accepted == len(uids)
    assert report.submitted == len(uids)
    # A batch is identified by its first member; those sent in both runs are the re-sent ones.
    sent = Counter(body[0] for body in sink.accepted_bodies)
    resent = [first for first, times in sent.items() if times > 1]
    assert len(resent) <= max_in_flight
    skipped = [b for b in report.batches if b.status == "skipped"]
    assert sum(b.members for b in skipped) == report.skipped
    assert len(skipped) >= first_run - max_in_flight


async def test_resume_after_raise_sends_only_the_rest(tmp_path: Path) -> None:
    uids = [f"x{i:05d}" for i in range(3_000)]
    journal = tmp_path / "j"
    calls = {"n": 0}

    def fail_fifth(number: int, body: object) -> tuple[int, dict[str, str]] | None:
        calls["n"] += 1
        return (400, {}) if calls["n"] == 5 else None

    async with Sink(fault=fail_fifth) as sink, client_for(sink.url) as client:
        with pytest.raises(CohortSyncError) as info:
            await client.cohorts.add_members(
                COHORT, uids, max_request_bytes=2_000, max_in_flight=1, on_error="raise", checkpoint=journal
            )
        assert info.value.report.accepted == 4 * len(sink.accepted_bodies[0])
        first = len(sink.accepted_bodies)
        report = await client.cohorts.add_members(
            COHORT, uids, max_request_bytes=2_000, max_in_flight=1, checkpoint=journal
        )
        assert sink.members[COHORT.id] == set(uids)
        # Nothing confirmed was sent twice.
        assert len(sink.accepted_bodies) - first == len(report.batches) - 4
    assert report.skipped == info.value.report.accepted and report.ok
    # A third run finds everything confirmed and sends nothing.
    async with Sink() as sink, client_for(sink.url) as client:
        again = await client.cohorts.add_members(COHORT, uids, max_request_bytes=2_000, checkpoint=journal)
        assert sink.requests == 0
    assert again.skipped == len(uids) and again.accepted == 0


async def journaled(tmp_path: Path, uids: list[str]) -> Path:
    journal = tmp_path / "j"
    async with Sink() as sink, client_for(sink.url) as client:
        await client.cohorts.add_members(COHORT, uids, max_request_bytes=2_000, checkpoint=journal)
    return journal


async def test_changed_input_raises(tmp_path: Path) -> None:
    uids = [f"m{i:05d}" for i in range(20_000)]  # three input chunks
    journal = await journaled(tmp_path, uids)
    async with Sink() as sink, client_for(sink.url) as client:
        with pytest.raises(CheckpointError, match="input differs"):
            await client.cohorts.add_members(COHORT, ["other", *uids], max_request_bytes=2_000, checkpoint=journal)
        with pytest.raises(CheckpointError, match=r"input differs|does not produce"):
            await client.cohorts.add_members(COHORT, uids[:16_384], max_request_bytes=2_000, checkpoint=journal)


async def test_other_run_settings_raise(tmp_path: Path) -> None:
    journal = await journaled(tmp_path, ["a", "b"])
    async with Sink() as sink, client_for(sink.url) as client:
        with pytest.raises(CheckpointError, match="max_request_bytes"):
            await client.cohorts.add_members(COHORT, ["a", "b"], max_request_bytes=3_000, checkpoint=journal)
        with pytest.raises(CheckpointError, match="action"):
            await client.cohorts.remove_members(COHORT, ["a", "b"], max_request_bytes=2_000, checkpoint=journal)
        assert sink.requests == 0


async def test_damaged_journal_raises_but_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    uids = [f"t{i:05d}" for i in range(2_000)]
    journal = await journaled(tmp_path, uids)
    lines = journal.read_bytes().split(b"\n")
    # A line cut short by a crash: that batch is simply sent again.
    journal.write_bytes(b"\n".join(lines[:-2]) + b"\n" + lines[-2][:10])
    async with Sink() as sink, client_for(sink.url) as client:
        report = await client.cohorts.add_members(COHORT, uids, max_request_bytes=2_000, checkpoint=journal)
        assert sink.requests == 1 and report.ok
    # A flipped byte in a complete line is damage, not a crash artefact.
    data = bytearray(journal.read_bytes())
    data[data.index(b'"d":"') + 6] ^= 0x01
    journal.write_bytes(bytes(data))
    async with Sink() as sink, client_for(sink.url) as client:
        with pytest.raises(CheckpointError, match="damaged at line"):
            await client.cohorts.add_members(COHORT, uids, max_request_bytes=2_000, checkpoint=journal)
    journal.write_text("not a journal\n")
    async with Sink() as sink, client_for(sink.url) as client:
        with pytest.raises(CheckpointError):
            await client.cohorts.add_members(COHORT, uids, checkpoint=journal)
