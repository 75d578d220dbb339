"""Shared pieces of the delta-sync tests: clients, what a ledger holds, what the emulator holds."""

from __future__ import annotations

import asyncio

from moengage_segments import AsyncClient, Cohort, RetryPolicy
from moengage_segments._async.ledger import Ledger
from moengage_segments.testing import Emulator

COHORT = Cohort(id="churn", name="Churn risk", partner="warehouse")
FAST_RETRY = RetryPolicy(max_attempts=25, base=0.001, cap=0.01, rate_limit_cap=0.05)


def client_for(url: str, *, workspace: str = "ws", key: str = "key", retry: RetryPolicy = FAST_RETRY) -> AsyncClient:
    return AsyncClient(workspace, key, base_url=url, rate_limits=None, retry=retry)


def emulator_client(emu: Emulator, *, retry: RetryPolicy = FAST_RETRY) -> AsyncClient:
    return AsyncClient(emu.workspace_id, emu.api_key, base_url=emu.base_url, rate_limits=None, retry=retry)


async def ledger_members(ledger: Ledger, workspace: str, cohort_id: str) -> tuple[set[str], set[str]]:
    """(settled members, in-doubt uids) of one cohort's record, read through the ledger protocol."""
    async with ledger.run(workspace, cohort_id, exclusive=False) as run:
        await run.diff(fresh_from=0)  # nothing staged: every row of the record is "to remove"
        rows = {uid async for chunk in run.chunks("remove", 10_000) for uid in chunk}
    async with ledger.run(workspace, cohort_id, exclusive=False) as run:
        await run.stage(sorted(rows))
        await run.diff(fresh_from=0)  # every row desired: the in-doubt ones are "to add"
        doubt = {uid async for chunk in run.chunks("add", 10_000) for uid in chunk}
    return rows - doubt, doubt


def emulator_members(emu: Emulator, cohort_id: str) -> frozenset[str]:
    segment = emu.cohort_segment(cohort_id)
    return frozenset() if segment is None else emu.members(segment.id)


async def emulator_settled(emu: Emulator, quiet: float = 0.02) -> None:
    """Wait until every request the emulator started reading is handled, ``quiet`` seconds in a row.

    A cancelled or killed run can leave a request whose body is already in the socket: it is still applied,
    a little later. (A request delayed past the next run's own would undo it on any client; that is not
    what these tests are about.)
    """
    loop = asyncio.get_running_loop()
    deadline, stable_since = loop.time() + 10, None
    while True:
        assert loop.time() < deadline, "the emulator never settled"
        if emu.counters.requests != len(emu.requests):
            stable_since = None
        elif stable_since is None:
            stable_since = loop.time()
        elif loop.time() - stable_since >= quiet:
            return
        await asyncio.sleep(0.002)
