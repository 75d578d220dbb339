"""Packing CPU: validate and pack 1,000,000 uids of 24 ASCII characters into request bodies.

This is what ``client.cohorts.plan`` does (and what the producer of a push does), measured on one core.
Goal: >= 2,000,000 uids/s. Also shows the exact (escaping) path on non-ASCII ids for comparison.

    python benchmarks/bench_packing.py
"""

from __future__ import annotations

import asyncio
import random
import string
import time

from moengage_segments import AsyncClient, Cohort
from moengage_segments._async.cohort_sync import CHUNK_SIZE
from moengage_segments._async.packing import CohortEnvelope, Packer

N = 1_000_000
COHORT = Cohort(id="bench", name="Bench", partner="warehouse")


def make_uids(n: int, seed: int = 42) -> list[str]:
    """Fresh 24-character ids (new str objects each call: a str caches its hash, and re-used ids would
    make the de-duplication of later runs look cheaper than on real input)."""
    rnd = random.Random(seed)
    return [f"{rnd.getrandbits(96):024x}" for _ in range(n)]


def make_unicode_uids(n: int) -> list[str]:
    rnd = random.Random(7)
    return ["".join(rnd.choices(string.ascii_letters + "éüßж日本", k=24)) for _ in range(n)]


def pack(uids: list[str]) -> tuple[float, int, int]:
    started = time.perf_counter()
    packer = Packer(CohortEnvelope(COHORT, "add_members"), 128_000)
    requests = size = 0
    for i in range(0, len(uids), CHUNK_SIZE):
        for batch in packer.feed(uids[i : i + CHUNK_SIZE]):
            requests += 1
            size += len(batch.body)
    for batch in packer.finish():
        requests += 1
        size += len(batch.body)
    return time.perf_counter() - started, requests, size


async def plan(uids: list[str]) -> float:
    async with AsyncClient("ws", "key", base_url="http://127.0.0.1:9", rate_limits=None) as client:
        started = time.perf_counter()
        await client.cohorts.plan(COHORT, uids)
        return time.perf_counter() - started


def main() -> None:
    best, requests, size = min(pack(make_uids(N, seed)) for seed in range(5))
    print(
        f"packer, 24-char ASCII  : {N / best:>12,.0f} uids/s  ({requests} bodies, "
        f"avg fill {size / requests / 128_000:.4%}, best of 5: {best:.3f}s)"
    )
    best_plan = min(asyncio.run(plan(make_uids(N, seed))) for seed in range(3))
    print(f"client.cohorts.plan    : {N / best_plan:>12,.0f} uids/s  (best of 3: {best_plan:.3f}s)")
    best_u, _, _ = min(pack(make_unicode_uids(N // 10)) for _ in range(3))
    print(f"packer, non-ASCII ids  : {N // 10 / best_u:>12,.0f} uids/s  (exact escaping path, 100,000 ids)")


if __name__ == "__main__":
    main()
