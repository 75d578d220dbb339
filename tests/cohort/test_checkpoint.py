"""Resumable runs: journal confirmed batches, skip them on restart, refuse damaged or foreign journals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from moengage_segments import AsyncClient, CheckpointError, Cohort, CohortSyncError, CohortSyncReport, read_uids
from moengage_segments._async.checkpoint import Journal
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


@pytest.mark.slow  # a subprocess killed with SIGKILL
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


# -- whole lines or a loud failure (issue 12 item 4) -------------------------------------------------------


def journal_writes(monkeypatch: pytest.MonkeyPatch, journal: Path, write: Callable[[int, bytes], int]) -> None:
    """Route ``os.write`` calls on ``journal`` to ``write``; every other descriptor writes normally."""
    real = os.write

    def is_journal(fd: int) -> bool:
        try:
            return journal.exists() and os.fstat(fd).st_ino == journal.stat().st_ino
        except OSError:
            return False

    def routed(fd: int, data: Any) -> int:
        return write(fd, bytes(data)) if is_journal(fd) else real(fd, data)

    monkeypatch.setattr(os, "write", routed)


async def test_short_journal_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real, journal, calls = os.write, tmp_path / "j", Counter[str]()

    def dribble(fd: int, data: bytes) -> int:
        calls["writes"] += 1
        return real(fd, data[:7])  # a short write: the caller must write the rest

    journal_writes(monkeypatch, journal, dribble)
    uids = [f"s{i:05d}" for i in range(2_000)]
    async with Sink() as sink, client_for(sink.url) as client:
        first = await client.cohorts.add_members(COHORT, uids, max_request_bytes=2_000, checkpoint=journal)
        monkeypatch.undo()
        assert first.ok and calls["writes"] > 2 * len(first.batches)
        again = await client.cohorts.add_members(COHORT, uids, max_request_bytes=2_000, checkpoint=journal)
    assert again.skipped == len(uids) and again.accepted == 0  # every line was whole


@pytest.mark.parametrize("failure", ["disk full", "no progress"])
async def test_a_failed_journal_write_stops_the_run_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    real, journal, lines = os.write, tmp_path / "j", Counter[str]()

    def fail_on_fifth_line(fd: int, data: bytes) -> int:  # the header, three confirmations, then a failure
        lines["n"] += 1
        if lines["n"] < 5:
            return real(fd, data)
        if failure == "disk full":
            real(fd, data[:9])  # part of the line reached the disk
            raise OSError(28, "No space left on device")
        return 0

    journal_writes(monkeypatch, journal, fail_on_fifth_line)
    uids = [f"f{i:05d}" for i in range(3_000)]
    reports: list[CohortSyncReport] = []
    async with Sink() as sink, client_for(sink.url) as client:
        with pytest.raises(CheckpointError, match="cannot write to the checkpoint journal") as info:
            await client.cohorts.add_members(
                COHORT, uids, max_request_bytes=2_000, max_in_flight=1, checkpoint=journal, on_report=reports.append
            )
        assert str(journal) in str(info.value)
        [report] = reports
        assert report.stopped_by is not None and report.stopped_by.startswith("CheckpointError")
        assert not report.ok and report.not_sent > 0  # stopped at once, not at the end
        sent_before = sink.requests
        assert sent_before < 10
        monkeypatch.undo()
        # The torn line was cut off: the journal holds the header and three whole confirmations.
        assert journal.read_bytes().endswith(b"\n") and journal.read_bytes().count(b"\n") == 4
        resumed = await client.cohorts.add_members(COHORT, uids, max_request_bytes=2_000, checkpoint=journal)
        assert sink.members[COHORT.id] == set(uids)
    assert resumed.ok and resumed.skipped == 3 * len(sink.accepted_bodies[0])


# -- one run per journal (issue 12 item 7) -----------------------------------------------------------------


def test_a_second_open_of_a_journal_in_use_fails_at_once(tmp_path: Path) -> None:
    path = tmp_path / "j"
    first = Journal.open(path, {"action": "add_members"})
    try:
        with pytest.raises(CheckpointError, match=r"in use by another run") as info:
            Journal.open(path, {"action": "add_members"})
        assert str(path) in str(info.value)
    finally:
        first.close()
    Journal.open(path, {"action": "add_members"}).close()  # free again once the first run closed it


async def test_two_pushes_on_one_checkpoint_the_second_fails_and_sends_nothing(tmp_path: Path) -> None:
    journal = tmp_path / "j"
    uids = [f"p{i:05d}" for i in range(3_000)]
    reports: list[CohortSyncReport] = []
    reading = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        reading.set()  # the journal is open (and locked) before the input is read
        for uid in uids:
            yield uid

    async with Sink(delay=0.01) as sink, client_for(sink.url) as client:
        first = asyncio.ensure_future(
            client.cohorts.add_members(COHORT, source(), max_request_bytes=2_000, max_in_flight=1, checkpoint=journal)
        )
        await reading.wait()
        with pytest.raises(CheckpointError, match="in use by another run"):
            await client.cohorts.add_members(COHORT, ["other"], checkpoint=journal, on_report=reports.append)
        assert (await first).ok
        assert "other" not in sink.members[COHORT.id]
    assert reports[0].submitted == 0 and reports[0].requests == 0


HOLD = """
import sys
from moengage_segments._async.checkpoint import Journal
journal = Journal.open(sys.argv[1], {"action": "add_members"})
print("locked", flush=True)
sys.stdin.read()
journal.close()
"""


@pytest.mark.slow
def test_a_journal_locked_by_another_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    ) as child:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline() == "locked\n"
        with pytest.raises(CheckpointError, match="in use by another run"):
            Journal.open(path, {"action": "add_members"})
        child.stdin.close()
        assert child.wait(timeout=30) == 0
    Journal.open(path, {"action": "add_members"}).close()


# -- on_report however the run ends (issue 12 item 6) ------------------------------------------------------


@pytest.mark.parametrize("case", ["foreign", "damaged", "parent is a file", "read-only directory"])
async def test_on_report_is_called_when_the_journal_cannot_be_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    journal = tmp_path / "j"
    if case == "foreign":
        journal.write_text("not a journal\n")
    elif case == "damaged":
        journal.write_bytes(b"0000 {}\n")
    elif case == "parent is a file":
        (tmp_path / "file").write_text("")
        journal = tmp_path / "file" / "j"
    else:
        readonly = tmp_path / "ro"
        readonly.mkdir(mode=0o500)
        journal = readonly / "j"
        if os.geteuid() == 0:  # root ignores directory permissions: refuse the create as the kernel would
            real_open = os.open

            def refuse(path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
                if os.fspath(path) == str(journal):
                    raise PermissionError(13, "Permission denied", str(journal))
                return real_open(path, flags, mode, **kw)

            monkeypatch.setattr(os, "open", refuse)
    reports: list[CohortSyncReport] = []
    async with Sink() as sink, client_for(sink.url) as client:
        with pytest.raises((CheckpointError, OSError)):
            await client.cohorts.add_members(COHORT, ["a", "b"], checkpoint=journal, on_report=reports.append)
        assert sink.requests == 0
    [report] = reports
    assert report.stopped_by is not None and report.submitted == 0 and report.requests == 0


@pytest.mark.parametrize("content", [b"u-1", b"\x00\xff binary, no line break" * 40, b"0123abcd {"])
async def test_a_file_without_a_whole_line_is_refused_not_overwritten(tmp_path: Path, content: bytes) -> None:
    # Only our own header cut short by a crash may be emptied: any other file is left as it was.
    journal = tmp_path / "uids.txt"
    journal.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a cohort-sync checkpoint journal"):
        Journal.open(journal, {"action": "add_members"})
    assert journal.read_bytes() == content


def test_a_header_torn_by_a_crash_is_started_again(tmp_path: Path) -> None:
    journal = tmp_path / "push.journal"
    Journal.open(journal, {"action": "add_members"}).close()
    whole = journal.read_bytes()
    journal.write_bytes(whole[:-7])  # the first write of the run was cut short
    Journal.open(journal, {"action": "add_members"}).close()
    assert journal.read_bytes() == whole
