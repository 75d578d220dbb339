"""Crash and resume: a pusher killed with SIGKILL at random points resumes from its checkpoint journal.

Each scenario (seeded) kills a child process pushing with ``checkpoint=`` two to four times at random
moments (sometimes before its first request is answered), then resumes to completion. Afterwards the
emulator's membership is exactly the input, the final report accounts for every uid (skipped = journaled
by the killed runs), and the batches the service received twice are bounded by ``max_in_flight`` per kill:
only requests in flight at the moment of a kill can have been applied without being journaled.

A damaged or foreign journal is refused with a :class:`CheckpointError` that says what is wrong, and
nothing is sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import zlib
from pathlib import Path

import pytest

from moengage_segments import AsyncClient, CheckpointError, Cohort, read_uids
from moengage_segments.testing import Emulator, Fault
from tests.reliability._push_child import COHORT
from tests.reliability._support import ROOT, assert_accounted, async_client, cohort_members, figures_line

CHILD = Path(__file__).with_name("_push_child.py")
MAX_IN_FLIGHT = 4
BODY = 4_000  # ~170 uids a batch: ~240 batches for 40,000 uids
N_UIDS = 40_000


def write_uids(path: Path, n: int) -> list[str]:
    uids = [f"crash-{i:06d}" for i in range(n)]
    path.write_text("\n".join(uids) + "\n")
    return uids


def confirmed_lines(journal: Path) -> int:
    """Batches the journal confirms (complete lines after the header; a torn last line does not count)."""
    if not journal.exists():
        return 0
    return max(journal.read_bytes().count(b"\n") - 1, 0)


async def settled(emu: Emulator) -> int:
    """Wait until every request the emulator started reading has been handled; return the 200s so far.

    A killed child can leave requests whose body is complete in the socket buffer: those are still
    applied, a little later. Settled means: every counted request is in the log, for 50 ms in a row.
    """
    stable_since = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        assert loop.time() < deadline, "the emulator never settled"
        done = emu.counters.requests == len(emu.requests)
        if not done:
            stable_since = None
        elif stable_since is None:
            stable_since = loop.time()
        elif loop.time() - stable_since >= 0.05:
            return emu.counters.statuses[200]
        await asyncio.sleep(0.005)


async def kill_at_random_point(emu: Emulator, rng: random.Random, args: list[str]) -> tuple[int, str]:
    """Start a pusher and SIGKILL it after a random number of answered batches (0: during start-up)."""
    target = 0 if rng.random() < 0.2 else rng.randint(1, 40)
    base = emu.counters.statuses[200]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = await asyncio.create_subprocess_exec(sys.executable, str(CHILD), *args, env=env)
    try:
        if target == 0:
            await asyncio.sleep(rng.uniform(0.0, 0.25))  # the kill point itself is what is random here
            where = "start-up"
        else:
            while emu.counters.statuses[200] < base + target:
                assert child.returncode is None, "the pusher finished before it could be killed"
                await asyncio.sleep(0.002)
            where = f"after {target} answers"
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL, "the pusher must not finish before the kill"
    return target, where


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 4, 5, 7])
async def test_sigkill_at_random_points_then_resume(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    uid_file, journal, report_file = tmp_path / "uids.txt", tmp_path / "push.journal", tmp_path / "report.json"
    uids = write_uids(uid_file, N_UIDS)
    kills = rng.randint(2, 4)
    async with Emulator(accept_any_uid=True, rate_limits=False, seed=seed, request_log_size=100_000) as emu:
        # Some requests fail before being handled (never applied, so never a duplicate); every request is slow
        # enough that a kill lands while several are in flight.
        emu.faults.set_random(Fault.server_error(503, html=True), 0.05, target="cohort")
        emu.faults.set_random(Fault.connection_reset(), 0.03, target="cohort")
        emu.faults.set_random(Fault.slow(0.01), 1.0, target="cohort")
        args = [emu.base_url, emu.workspace_id, emu.api_key, str(uid_file), str(journal), str(MAX_IN_FLIGHT), str(BODY)]
        points = []
        for k in range(1, kills + 1):
            points.append((await kill_at_random_point(emu, rng, args))[1])
            answered = await settled(emu)
            # Applied but not journaled (in flight at a kill) plus re-sends of those: at most max_in_flight a kill.
            assert answered - confirmed_lines(journal) <= k * MAX_IN_FLIGHT
        journaled = confirmed_lines(journal)

        # The resume, also in a child process, runs to completion.
        child = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), *args, str(report_file), env={**os.environ, "PYTHONPATH": str(ROOT)}
        )
        assert await asyncio.wait_for(child.wait(), 120) == 0
        await settled(emu)
        report = json.loads(report_file.read_text())
        assert cohort_members(emu, COHORT) == frozenset(uids)
        answered = emu.counters.statuses[200]

    assert report["ok"] and report["submitted"] == N_UIDS
    assert report["accepted"] + report["skipped"] == N_UIDS
    skipped_batches = [b for b in report["batches"] if b["status"] == "skipped"]
    assert len(skipped_batches) == journaled  # every journaled batch, and only those, was skipped
    assert all(b["status"] in ("accepted", "skipped") for b in report["batches"])
    resent = answered - len(report["batches"])  # batches the service accepted more than once
    assert 0 <= resent <= kills * MAX_IN_FLIGHT
    figures_line(
        f"crash/resume seed {seed}",
        kills=kills,
        kill_points="; ".join(points),
        batches=len(report["batches"]),
        journaled_before_resume=journaled,
        resent_batches=resent,
        bound=kills * MAX_IN_FLIGHT,
    )


# -- damaged and foreign journals ---------------------------------------------------------------------


def _line(record: dict[str, object]) -> bytes:
    text = json.dumps(record, separators=(",", ":"), sort_keys=True)
    return f"{zlib.crc32(text.encode()):08x} {text}\n".encode()


async def _journal(emu: Emulator, tmp_path: Path, uids: list[str], cohort: Cohort = COHORT) -> Path:
    journal = tmp_path / "good.journal"
    async with async_client(emu) as client:
        report = await client.cohorts.add_members(cohort, uids, max_request_bytes=BODY, checkpoint=journal)
    assert report.ok
    return journal


def _flip(data: bytes, line: int) -> bytes:
    lines = data.split(b"\n")
    target = bytearray(lines[line])
    target[-3] ^= 0x01  # one bit in the record, after the checksum
    lines[line] = bytes(target)
    return b"\n".join(lines)


def _forge(data: bytes, line: int, **changes: object) -> bytes:
    """Rewrite a confirmation with a *valid* checksum: only the digest check can catch it."""
    lines = data.split(b"\n")
    record = json.loads(lines[line].split(b" ", 1)[1])
    record.update(changes)
    lines[line] = _line(record)[:-1]
    return b"\n".join(lines)


def _header(data: bytes, **changes: object) -> bytes:
    return _forge(data, 0, **changes)


DAMAGE = {
    "bit flip in a confirmation": (lambda d: _flip(d, 3), r"damaged at line 4: checksum mismatch"),
    "bit flip in the header": (lambda d: _flip(d, 0), r"damaged at line 1"),
    "not a journal at all": (lambda d: b"uid-1\nuid-2\n", r"damaged at line 1"),
    "binary garbage": (lambda d: bytes(range(256)) + b"\n", r"damaged at line 1"),
    "confirmation without fields": (lambda d: d + _line({"x": 1}), r"damaged at line \d+"),
    "forged digest (valid checksum)": (lambda d: _forge(d, 2, d="0" * 24), r"input differs"),
    "forged position (valid checksum)": (lambda d: _forge(d, 2, p=1), r"input differs"),
    "confirms a batch the input never produces": (
        lambda d: d + _line({"i": 10_000, "p": 10**9, "n": 1, "d": "0" * 24}),
        r"does not produce",
    ),
    "other cohort": (lambda d: _header(d, cohort_id="someone-else"), r"another run: cohort_id"),
    "other action": (lambda d: _header(d, action="remove_members"), r"another run: action"),
    "other body size": (lambda d: _header(d, max_request_bytes=BODY * 2), r"another run: max_request_bytes"),
    "other format version": (
        lambda d: _header(d, format="moengage-segments/cohort-journal/999"),
        r"not a cohort-sync checkpoint journal",
    ),
}


@pytest.mark.parametrize("case", list(DAMAGE))
async def test_damaged_or_foreign_journal_is_refused_not_trusted(tmp_path: Path, case: str) -> None:
    damage, message = DAMAGE[case]
    uids = [f"j-{i:05d}" for i in range(3_000)]  # ~17 batches
    async with Emulator(accept_any_uid=True, rate_limits=False) as emu:
        journal = await _journal(emu, tmp_path, uids)
        journal.write_bytes(damage(journal.read_bytes()))
        emu.reset_counters()
        async with async_client(emu) as client:
            with pytest.raises(CheckpointError, match=message) as info:
                await client.cohorts.add_members(COHORT, uids, max_request_bytes=BODY, checkpoint=journal)
        assert str(journal) in str(info.value)  # says which file
        # Refused before anything was sent. (A forged confirmation is caught while packing: the batches before
        # it were confirmed, hence skipped, and the run stops at the forged one.)
        assert emu.counters.requests == 0


async def test_changed_input_file_is_refused(tmp_path: Path) -> None:
    """The same path, rewritten with other uids between the crash and the resume."""
    uid_file = tmp_path / "uids.txt"
    uids = write_uids(uid_file, 5_000)
    async with Emulator(accept_any_uid=True, rate_limits=False) as emu:
        journal = await _journal(emu, tmp_path, uids)
        uid_file.write_text("\n".join(u.replace("crash", "other") for u in uids) + "\n")
        async with AsyncClient(emu.workspace_id, emu.api_key, base_url=emu.base_url, rate_limits=None) as client:
            with pytest.raises(CheckpointError, match="input differs"):
                await client.cohorts.add_members(
                    COHORT, read_uids(uid_file), max_request_bytes=BODY, checkpoint=journal
                )


async def test_unreadable_journal_path_is_a_clear_error(tmp_path: Path) -> None:
    async with Emulator(accept_any_uid=True, rate_limits=False) as emu, async_client(emu) as client:
        with pytest.raises((CheckpointError, OSError)) as info:
            await client.cohorts.add_members(COHORT, ["u1"], checkpoint=tmp_path)  # a directory
        assert str(tmp_path) in str(info.value)
        assert emu.counters.requests == 0


async def test_a_torn_last_line_is_not_trusted_but_resent(tmp_path: Path) -> None:
    """A kill in the middle of writing a confirmation: that batch is sent again, the others are skipped."""
    uids = [f"t-{i:05d}" for i in range(3_000)]
    async with Emulator(accept_any_uid=True, rate_limits=False) as emu:
        journal = await _journal(emu, tmp_path, uids)
        data = journal.read_bytes()
        confirmed = data.count(b"\n") - 1
        journal.write_bytes(data[:-7])  # the last confirmation loses its end
        emu.reset_counters()
        async with async_client(emu) as client:
            report = await client.cohorts.add_members(COHORT, uids, max_request_bytes=BODY, checkpoint=journal)
        assert emu.counters.statuses[200] == 1 and report.accepted > 0
        assert sum(1 for b in report.batches if b.status == "skipped") == confirmed - 1
        assert_accounted(report)
