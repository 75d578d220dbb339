"""Cost of the sync twin: per-call overhead of ``Client`` over ``AsyncClient``, and cohort push throughput.

Runs offline against the emulator (rate limits off). Three measurements:

1. portal overhead: ``Portal.call`` of a no-op coroutine vs. awaiting it directly;
2. a trivial request (``segments.list()`` on an empty workspace), sequentially, through both clients;
3. cohort push throughput (``cohorts.add_members``) through both clients in the same run, once the cohort
   engine provides it (goal: sync >= 0.95 x async).

Example::

    python benchmarks/bench_sync.py --calls 2000 --members 200000
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from moengage_segments import AsyncClient, Cohort
from moengage_segments._runtime import Portal
from moengage_segments._sync import Client
from moengage_segments.testing import Emulator


async def _noop() -> None:
    return None


def bench_portal(calls: int) -> tuple[float, float]:
    """Seconds per call: (direct await, Portal.call)."""

    async def direct() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await _noop()
        return (time.perf_counter() - start) / calls

    direct_s = asyncio.run(direct())
    with Portal() as portal:
        portal.call(_noop)  # start the thread outside the timing
        start = time.perf_counter()
        for _ in range(calls):
            portal.call(_noop)
        portal_s = (time.perf_counter() - start) / calls
    return direct_s, portal_s


def _settings(emu: Emulator) -> dict[str, Any]:
    return {
        "workspace_id": emu.workspace_id,
        "api_key": emu.api_key,
        "base_url": emu.base_url,
        "db_name": emu.db_name,
        "allow_insecure_http": True,
        "rate_limits": None,
    }


def bench_request(emu: Emulator, calls: int) -> tuple[float, float]:
    """Seconds per ``segments.list()``: (async, sync)."""

    async def run_async() -> float:
        async with AsyncClient(**_settings(emu)) as client:
            await client.segments.list()  # open the session outside the timing
            start = time.perf_counter()
            for _ in range(calls):
                await client.segments.list()
            return (time.perf_counter() - start) / calls

    async_s = asyncio.run(run_async())
    with Client(**_settings(emu)) as client:
        client.segments.list()
        start = time.perf_counter()
        for _ in range(calls):
            client.segments.list()
        sync_s = (time.perf_counter() - start) / calls
    return async_s, sync_s


def bench_cohort(emu: Emulator, members: int) -> tuple[float, float] | None:
    """Members per second through ``cohorts.add_members``: (async, sync); None until the engine exists."""
    if not hasattr(AsyncClient(**_settings(emu)).cohorts, "add_members"):
        return None
    uids = [f"bench-{i:08d}" for i in range(members)]

    async def run_async() -> float:
        async with AsyncClient(**_settings(emu)) as client:
            cohort = Cohort(id="bench-async", name="Bench async", partner="bench")
            start = time.perf_counter()
            await client.cohorts.add_members(cohort, uids)
            return members / (time.perf_counter() - start)

    async_rate = asyncio.run(run_async())
    with Client(**_settings(emu)) as client:
        cohort = Cohort(id="bench-sync", name="Bench sync", partner="bench")
        start = time.perf_counter()
        client.cohorts.add_members(cohort, uids)
        sync_rate = members / (time.perf_counter() - start)
    return async_rate, sync_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1000, help="sequential calls per client")
    parser.add_argument("--members", type=int, default=100_000, help="uids per cohort push")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each is kept")
    options = parser.parse_args()
    # Best of alternating rounds: the machine's noise (and the emulator's growing state) hits both sides.
    rounds = range(max(1, options.rounds))

    portal_runs = [bench_portal(options.calls * 10) for _ in rounds]
    direct_s, portal_s = min(r[0] for r in portal_runs), min(r[1] for r in portal_runs)
    print(
        f"portal  no-op: await {direct_s * 1e6:8.1f} us   Portal.call {portal_s * 1e6:8.1f} us   "
        f"overhead {(portal_s - direct_s) * 1e6:8.1f} us/call"
    )
    with Emulator.in_thread(rate_limits=False, accept_any_uid=True) as emu:
        request_runs = [bench_request(emu, options.calls) for _ in rounds]
        async_s, sync_s = min(r[0] for r in request_runs), min(r[1] for r in request_runs)
        print(
            f"request list : async {async_s * 1e6:8.1f} us   sync        {sync_s * 1e6:8.1f} us   "
            f"overhead {(sync_s - async_s) * 1e6:8.1f} us/call ({sync_s / async_s:.2f}x)"
        )
        cohort_runs = [bench_cohort(emu, options.members) for _ in rounds]
        rates = (
            None
            if cohort_runs[0] is None
            else (max(r[0] for r in cohort_runs if r), max(r[1] for r in cohort_runs if r))
        )
        if rates is None:
            print("cohort push  : skipped (cohorts.add_members not available yet)")
        else:
            async_rate, sync_rate = rates
            print(
                f"cohort push  : async {async_rate:10.0f} uids/s   sync {sync_rate:10.0f} uids/s   "
                f"ratio {sync_rate / async_rate:.3f} (goal >= 0.95)"
            )


if __name__ == "__main__":
    main()
