"""End to end, limits off, against a minimal local sink (a separate process): uids/s of add_members.

Measured in the same run beside
  (a) a reference raw aiohttp client posting pre-built 128 KB bodies at the same concurrency
      (goal: add_members >= 0.8x of it; the reference does no validation, packing or accounting), and
  (b) a naive loop of sequential 1,000-uid requests built with json.dumps (goal: add_members >= 10x).

    python benchmarks/bench_cohort_e2e.py [uids] [concurrency] [latency_ms ...]

Each latency is one scenario: 0 ms measures pure client CPU against a sink that answers at once (the
harshest comparison: the reference does no per-uid work at all); 20 ms stands in for the round trip and
server time of a real HTTPS API call, where what matters is keeping requests in flight.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
from _sink import SinkProcess

from moengage_segments import AsyncClient, Cohort
from moengage_segments._async.packing import CohortEnvelope, Packer

COHORT = Cohort(id="bench", name="Bench", partner="warehouse")
PATH = "/v1/integrations/cohortsync"
HEADERS = {"Content-Type": "application/json", "Authorization": "Basic d3M6a2V5", "MOE-APPKEY": "ws"}


def uids(n: int) -> list[str]:
    # Fresh string objects for every run: str caches its hash, and a re-used list would make the
    # de-duplication of later runs look cheaper than it is on real input.
    return [f"{i:024d}" for i in range(n)]


async def ours(url: str, items: list[str], concurrency: int) -> float:
    async with AsyncClient("ws", "key", base_url=url, rate_limits=None, max_connections=concurrency) as client:
        await client.cohorts.add_members(COHORT, items[:10])  # open the connection pool
        started = time.perf_counter()
        report = await client.cohorts.add_members(COHORT, items, max_in_flight=concurrency)
        elapsed = time.perf_counter() - started
    assert report.ok and report.accepted == len(items), report
    return elapsed


async def reference(url: str, items: list[str], concurrency: int) -> float:
    packer = Packer(CohortEnvelope(COHORT, "add_members"), 128_000)  # bodies built before the clock starts
    bodies = [b.body for b in packer.feed(items) + packer.finish()]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        queue: asyncio.Queue[bytes] = asyncio.Queue()

        async def post(body: bytes) -> None:
            async with session.post(url + PATH, data=body, headers=HEADERS) as resp:
                await resp.read()
                assert resp.status == 200

        await post(bodies[0])
        for body in bodies:
            queue.put_nowait(body)

        async def worker() -> None:
            while not queue.empty():
                await post(queue.get_nowait())

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


async def naive(url: str, items: list[str]) -> float:
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        for i in range(0, len(items), 1000):
            body = json.dumps(
                {
                    "action": "add_members",
                    "partner": COHORT.partner,
                    "parameters": {
                        "cohort_name": COHORT.name,
                        "cohort_id": COHORT.id,
                        "members": [{"uid": uid} for uid in items[i : i + 1000]],
                    },
                }
            )
            async with session.post(url + PATH, data=body, headers=HEADERS) as resp:
                await resp.read()
        return time.perf_counter() - started


def scenario(n: int, concurrency: int, latency_ms: float) -> None:
    naive_n = min(n, 500_000 if latency_ms == 0 else 100_000)  # the naive loop is slow with latency
    runs: dict[str, list[float]] = {"ours": [], "reference": [], "naive": []}
    with SinkProcess(latency_ms) as url:
        for _ in range(3):  # interleaved, so that machine noise hits all three alike; best of 3 each
            runs["reference"].append(asyncio.run(reference(url, uids(n), concurrency)))
            runs["ours"].append(asyncio.run(ours(url, uids(n), concurrency)))
            runs["naive"].append(asyncio.run(naive(url, uids(naive_n))))
    ref_rate = n / min(runs["reference"])
    our_rate = n / min(runs["ours"])
    naive_rate = naive_n / min(runs["naive"])
    print(
        f"uids={n:,} concurrency={concurrency} body<=128,000 B, limits off, sink latency {latency_ms:g} ms "
        "(separate process)"
    )
    print(f"reference raw aiohttp, pre-built bodies : {ref_rate:>12,.0f} uids/s")
    print(
        f"add_members (validate+pack+send+report) : {our_rate:>12,.0f} uids/s  = {our_rate / ref_rate:.2f}x reference"
    )
    print(
        f"naive sequential 1,000-uid json.dumps   : {naive_rate:>12,.0f} uids/s  -> add_members is "
        f"{our_rate / naive_rate:.1f}x"
    )
    for name, times in runs.items():
        print(f"  {name:9} runs (s): " + ", ".join(f"{t:.3f}" for t in times))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    latencies = [float(a) for a in sys.argv[3:]] or [0.0, 20.0]
    for latency_ms in latencies:
        scenario(n, concurrency, latency_ms)
        print()


if __name__ == "__main__":
    main()
