"""Shared quota: 1, 2, 4 and 8 processes pushing cohorts to one workspace through one quota store.

The server is the emulator with the documented strict sliding window, 300 cohort requests per 60 s, in
this process (on its own thread); the pushers are separate processes, each an ``AsyncClient`` with the
documented limits and ``quota=`` the store under test. Time-scaled: a "minute" lasts ``60 / SCALE``
seconds on both sides; the limiter's margin stays in real seconds (``MARGIN``), since the latency it
absorbs does not shrink with emulated time. Every process pushes its share of ``WINDOWS`` windows' worth
of 16 KB requests (``remove_members``, so the emulator's memory stays flat).

Figures per run: aggregate requests per minute as a share of 300, measured the way a sliding window is
used (request i may start once request i - 300 has left the window, so the rate is 300 per
mean(arrival[i] - arrival[i - 300]), arrivals as the server logged them); the 429s the server gave; and
the requests per pusher. Then the cost of one acquire: in-process, SQLite, Redis (a local server).

    python benchmarks/bench_shared_quota.py [windows=3] [scale=5] [processes=1,2,4,8] [stores=redis,sqlite,none]

Needs Redis at 127.0.0.1:6379 (or MOENGAGE_BENCH_REDIS_URL) for the Redis runs.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

LIMIT = 300  # the documented cohort window: 300 requests a minute
MARGIN = 0.15  # real seconds added to each window by the limiter
#: 16 KB bodies (~450 ids of 24 characters): the emulator is one thread, and 128 KB bodies from 32 requests
#: in flight queue up there for longer than the margin; the real service does not queue like that.
BODY = 16_000
UIDS_PER_REQUEST = 455
REDIS_URL = os.environ.get("MOENGAGE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[1]

PUSHER = """
import asyncio, json, sys, attrs
from moengage_segments import AsyncClient, Cohort, RateLimits
from moengage_segments.testing import DEFAULT_API_KEY, DEFAULT_WORKSPACE_ID

base_url, tag, requests, scale, margin, quota, per_request, body = sys.argv[1:9]
cohort = Cohort(id="bench-shared", name="Bench shared", partner="bench")

async def main():
    limits = attrs.evolve(RateLimits().scaled(1 / float(scale)), margin=float(margin))
    uids = [f"{tag}{i:020d}" for i in range(int(requests) * int(per_request))]
    async with AsyncClient(DEFAULT_WORKSPACE_ID, DEFAULT_API_KEY, base_url=base_url, rate_limits=limits,
                           quota=None if quota == "none" else quota) as client:
        await asyncio.gather(*(client.segments.list() for _ in range(8)))  # open the connections first
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        report = await client.cohorts.remove_members(cohort, uids, max_request_bytes=int(body))
    print(json.dumps({"requests": report.requests, "retries": report.retries, "failed": report.failed}))

asyncio.run(main())
"""


def push(emu_url: str, processes: int, windows: int, scale: float, quota: str) -> dict[str, object]:
    each = LIMIT * windows // processes
    args = [str(each), str(scale), str(MARGIN), quota, str(UIDS_PER_REQUEST), str(BODY)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PUSHER, emu_url, f"p{i:02d}x", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for i in range(processes)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [json.loads(proc.communicate()[0].strip().splitlines()[-1]) for proc in procs]
    return {"wall": time.perf_counter() - started, "pushers": results}


def share(times: list[float], scale: float) -> float:
    cycles = [times[i] - times[i - LIMIT] for i in range(LIMIT, len(times))]
    per_minute = LIMIT / (statistics.fmean(cycles) * scale / 60)
    return per_minute / LIMIT


def run_one(processes: int, windows: int, scale: float, store: str, tmp: Path) -> str:
    from moengage_segments.testing import Emulator

    if store == "redis":
        quota = f"{REDIS_URL}?prefix=bench_{uuid.uuid4().hex[:8]}:"
    elif store == "sqlite":
        quota = f"sqlite://{tmp / f'quota-{uuid.uuid4().hex[:8]}.db'}"
    else:
        quota = "none"
    with Emulator.in_thread(time_scale=scale, accept_any_uid=True, request_log_size=100_000) as emu:
        outcome = push(emu.base_url, processes, windows, scale, quota)
        records = [r for r in emu.requests if r.endpoint == "cohort_sync"]
        accepted = sorted(r.time for r in records if r.status == 200)
        per_client = collections.Counter(r.client for r in records if r.status == 200)
        rejected = emu.counters.rate_limited
    measured = f"{share(accepted, scale):7.2%}" if len(accepted) > LIMIT else "    n/a"
    return (
        f"{store:>6} {processes:>2} processes: {len(accepted):>4} requests, share of 300/min {measured}, "
        f"429s {rejected:>3}, wall {outcome['wall']:5.1f}s, per pusher {sorted(per_client.values())}"
    )


async def acquire_costs(tmp: Path) -> list[str]:
    from moengage_segments import InProcessQuotaStore, RedisQuotaStore, SQLiteQuotaStore, Window
    from moengage_segments._async.ratelimit import FamilyLimiter

    windows = (Window(10**9, 60.0),)  # always a slot: only the cost of asking is measured
    prefix = f"bench_{uuid.uuid4().hex[:8]}:"
    stores = {
        "in-process": InProcessQuotaStore(),
        "SQLite": SQLiteQuotaStore(tmp / "acquire.db"),
        "Redis": RedisQuotaStore(REDIS_URL, prefix=prefix),
    }
    lines = []
    for name, store in stores.items():
        limiter = FamilyLimiter(windows, 0.25, time.monotonic, asyncio.sleep, store=store, key="bench/WS/cohort")
        n = 2_000 if name == "in-process" else 500
        await limiter.acquire()  # opens the file / connection
        best_store = best_limiter = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            for _ in range(n):
                await store.acquire("bench/WS/cohort", windows, 0.25)
            best_store = min(best_store, (time.perf_counter() - t) / n)
            t = time.perf_counter()
            for _ in range(n):
                await limiter.acquire()
            best_limiter = min(best_limiter, (time.perf_counter() - t) / n)
        lines.append(
            f"{name:>10}: {best_store * 1e6:8.1f} µs per store acquire, "
            f"{best_limiter * 1e6:8.1f} µs through the limiter (best of 3 x {n})"
        )
        await store.aclose()
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
    return lines


def main() -> None:
    windows = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    counts = [int(n) for n in (sys.argv[3] if len(sys.argv) > 3 else "1,2,4,8").split(",")]
    stores = (sys.argv[4] if len(sys.argv) > 4 else "redis,sqlite,none").split(",")
    print(
        f"server: emulator, strict sliding {LIMIT}/60 s window, time scale {scale:g} (a minute lasts "
        f"{60 / scale:g} s); {windows} windows' worth of {BODY // 1000} KB requests; limiter margin {MARGIN} s real"
    )
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for store in stores:
            for processes in counts if store != "none" else [4]:
                print(run_one(processes, windows, scale, store, tmp), flush=True)
        for line in asyncio.run(acquire_costs(tmp)):
            print(line)


if __name__ == "__main__":
    main()
