"""Property: whatever faults and cancellations a sequence of syncs meets, a final clean run converges.

Hypothesis draws a sequence of desired lists (snapshots of a small universe), and for each sync a fault mix
(429s, 5xx before and *after* the change was applied, connection resets before and after) with a retry
policy short enough that some batches fail outright, and sometimes a cancellation after a few requests.
Then one clean sync of the last list: the emulator's membership, the ledger's settled members and the list
must be the same set, with nothing left in doubt.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moengage_segments import AsyncClient, Cohort, RetryPolicy, SQLiteLedger
from moengage_segments.testing import Emulator, Fault
from tests.ledger._support import FAST_RETRY, emulator_members, emulator_settled, ledger_members

UNIVERSE = [f"p{i:03d}" for i in range(30)]
SHORT_RETRY = RetryPolicy(max_attempts=2, base=0.001, cap=0.002, rate_limit_cap=0.005)
FAULTS = {
    "429": Fault.rate_limited(),
    "503": Fault.server_error(503),
    "503 after applying": Fault.server_error(503, after=True),
    "reset": Fault.connection_reset(),
    "reset after applying": Fault.connection_reset(after=True),
}
_cohorts = itertools.count()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator.in_thread(accept_any_uid=True, rate_limits=False, seed=7, request_log_size=10**7) as emulator:
        yield emulator


step = st.tuples(
    st.sets(st.sampled_from(UNIVERSE)),  # the desired list of this run
    st.dictionaries(st.sampled_from(sorted(FAULTS)), st.sampled_from([0.25, 0.5]), max_size=3),  # faults
    st.one_of(st.none(), st.integers(min_value=0, max_value=6)),  # cancel after this many requests
)


async def _run_steps(emu: Emulator, ledger: SQLiteLedger, cohort: Cohort, steps: list, last: set[str]) -> None:
    for desired, faults, cancel_after in steps:
        await emulator_settled(emu)
        emu.faults.clear()
        for name, probability in faults.items():
            emu.faults.set_random(FAULTS[name], probability, target="cohort")
        async with AsyncClient(
            emu.workspace_id, emu.api_key, base_url=emu.base_url, rate_limits=None, retry=SHORT_RETRY, timeout=5
        ) as client:
            task = asyncio.ensure_future(
                client.cohorts.sync(cohort, sorted(desired), ledger=ledger, max_request_bytes=300, max_in_flight=3)
            )
            if cancel_after is not None:
                start = emu.counters.requests
                while not task.done() and emu.counters.requests - start < cancel_after:  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    emu.faults.clear()
    await emulator_settled(emu)
    async with AsyncClient(
        emu.workspace_id, emu.api_key, base_url=emu.base_url, rate_limits=None, retry=FAST_RETRY
    ) as client:
        report = await client.cohorts.sync(cohort, sorted(last), ledger=ledger, max_request_bytes=300)
    assert report.ok, report.to_dict()


@pytest.mark.slow  # 25 fault schedules against the emulator
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=4), last=st.sets(st.sampled_from(UNIVERSE)))
def test_any_faults_and_cancellations_then_a_clean_run_converge(emu: Emulator, steps: list, last: set[str]) -> None:
    cohort = Cohort(id=f"prop-{next(_cohorts)}", name="Property", partner="tests")
    with tempfile.TemporaryDirectory() as folder:
        ledger = SQLiteLedger(Path(folder) / "ledger.db")
        asyncio.run(_run_steps(emu, ledger, cohort, steps, last))
        settled, doubt = asyncio.run(ledger_members(ledger, emu.workspace_id, cohort.id))
    assert emulator_members(emu, cohort.id) == settled == last
    assert doubt == set()
