"""SIGKILL during a sync, then a rerun: converges, nothing lost, at most max_in_flight requests' worth re-sent.

A child process syncs a cohort with a SQLite or a PostgreSQL ledger and is killed at a random point (during start-up or
after a random number of answered requests); the list it is given changes between some kills, so removals
and additions are both interrupted. A lock left by a killed child is taken over at once (its process is
gone). After the last kill, a sync in this process with the final list must leave the emulator's
membership, the ledger's settled members and the list equal, and may re-send only the uids whose requests
were in flight at a kill: at most ``max_in_flight`` full requests' worth per kill.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

import pytest

from moengage_segments import SQLiteLedger, read_uids
from moengage_segments._async.packing import CohortEnvelope, Packer
from moengage_segments.testing import Emulator, Fault
from tests.ledger._support import COHORT, emulator_client, emulator_members, emulator_settled, ledger_members
from tests.ledger.conftest import Backend
from tests.reliability._support import ROOT

CHILD = Path(__file__).with_name("_sync_child.py")
MAX_IN_FLIGHT = 4
BODY = 2_000
N = 12_000


def per_request(body: int) -> int:
    """How many of this test's uids one full request holds."""
    packer = Packer(CohortEnvelope(COHORT, "remove_members"), body)
    batches = packer.feed([f"k-{i:06d}" for i in range(2_000)])
    return batches[0].members


async def kill_at_random_point(emu: Emulator, rng: random.Random, args: list[str]) -> str:
    target = 0 if rng.random() < 0.2 else rng.randint(1, 25)
    base = emu.counters.statuses[200]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = await asyncio.create_subprocess_exec(sys.executable, str(CHILD), *args, env=env)
    try:
        if target == 0:
            await asyncio.sleep(rng.uniform(0.0, 0.3))
        else:
            while emu.counters.statuses[200] < base + target:  # polling the emulator
                if child.returncode is not None:
                    break
                await asyncio.sleep(0.002)
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGKILL)
        await child.wait()
    return "start-up" if target == 0 else f"after {target} answers"


@pytest.mark.slow
# Two schedules against SQLite, one against PostgreSQL (the same code above the ledger; a child costs ~0.4 s).
@pytest.mark.parametrize(("backend", "seed"), [("sqlite", 3), ("sqlite", 11), ("postgres", 11)], indirect=["backend"])
async def test_sigkill_at_random_points_then_a_rerun_converges(tmp_path: Path, seed: int, backend: Backend) -> None:
    rng = random.Random(seed)
    ledger = backend.ledger
    spec = ledger.path if isinstance(ledger, SQLiteLedger) else f"{backend.dsn}#{ledger.schema}"
    lists = [
        sorted(f"k-{i:06d}" for i in range(N)),
        sorted(f"k-{i:06d}" for i in range(N // 3, N + N // 3)),  # a third leave, as many join
    ]
    kills = rng.randint(2, 4)
    capacity = per_request(BODY)
    async with Emulator(accept_any_uid=True, rate_limits=False, seed=seed, request_log_size=100_000) as emu:
        emu.faults.set_random(Fault.server_error(503), 0.03, target="cohort")
        emu.faults.set_random(Fault.slow(0.01), 1.0, target="cohort")  # so that kills land mid-flight
        final: list[str] = lists[0]
        for k in range(1, kills + 1):
            final = lists[rng.randrange(2)]
            uid_file = tmp_path / "today.txt"
            uid_file.write_text("\n".join(final) + "\n")
            args = [emu.base_url, emu.workspace_id, emu.api_key, spec, str(uid_file)]
            await kill_at_random_point(emu, rng, [*args, str(MAX_IN_FLIGHT), str(BODY)])
            await emulator_settled(emu, quiet=0.05)
            members, doubt = await ledger_members(backend.fresh(), emu.workspace_id, COHORT.id)
            service = emulator_members(emu, COHORT.id)
            assert members <= service  # settled adds are at the service (removals: the reverse)
            # In doubt: only the batches in flight at a kill (a rerun killed early may not have resolved them yet).
            assert len(doubt) <= k * MAX_IN_FLIGHT * capacity

        emu.faults.clear()
        before = emulator_members(emu, COHORT.id)
        async with emulator_client(emu) as client:
            report = await client.cohorts.sync(
                COHORT, read_uids(uid_file), ledger=backend.fresh(), max_request_bytes=BODY
            )
        after = emulator_members(emu, COHORT.id)

    assert report.ok and after == set(final)
    assert await ledger_members(backend.fresh(), emu.workspace_id, COHORT.id) == (set(final), set())
    # Re-sent: adds of uids the service already had, removals of uids it no longer had.
    resent_adds = report.added - len(set(final) - before)
    resent_removals = report.removed - len(before - set(final))
    assert 0 <= resent_adds + resent_removals <= kills * MAX_IN_FLIGHT * capacity
