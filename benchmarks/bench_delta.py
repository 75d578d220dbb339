"""Delta sync: a ledger of N uids, then a new list with 1% churn; limits off, against the minimal sink.

For each ledger backend (SQLite, and PostgreSQL when a server answers at 127.0.0.1:5432), in a fresh ledger:

1. first sync of list A (N uids) into the empty ledger, timed against a plain ``add_members`` of the same
   file: the difference is the ledger's bookkeeping (goal: <= 10 s per 5 M uids);
2. sync of list B (A minus 0.5% plus as many new uids: 1% churn, 25,000 out and 25,000 in at 5 M): the
   diff plus the push of the changes (goal: <= 20 s with SQLite at 5 M), its requests against the minimum
   for the changes' bytes (goal: <= 1.05x), and the peak RSS growth of the process during the sync (goal:
   <= 200 MB).

Lists are files of 24-character ids in a scrambled order (a fixed permutation, not sorted), generated once in
the temp directory. The sink is a separate process that answers 200 at once.

    python benchmarks/bench_delta.py [uids=5000000] [backends=sqlite,postgres] [--no-plain]
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from math import gcd
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).parent))
from _sink import SinkProcess
from bench_memory import rss_peak

from moengage_segments import AsyncClient, Cohort, PostgresLedger, SQLiteLedger, read_uids
from moengage_segments._async.packing import CohortEnvelope, Packer

T = TypeVar("T")
COHORT = Cohort(id="bench-delta", name="Bench delta", partner="warehouse")
POSTGRES = os.environ.get("MOENGAGE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
CHURN = 200  # one uid in CHURN leaves and as many join: 1% of the list changes (0.5% out, 0.5% in)


def _step(n: int) -> int:
    """A step coprime with n: i -> i * step mod n is a fixed scrambled order of range(n)."""
    step = 2_654_435_761 % n or 1
    while gcd(step, n) != 1:
        step += 1
    return step


def lists(n: int) -> tuple[Path, Path, int, int]:
    """Files A and B (A minus every CHURN-th id, plus n/CHURN new ids); the leavers' and joiners' counts."""
    folder = Path(tempfile.gettempdir())
    a, b = folder / f"moengage-bench-delta-a-{n}.txt", folder / f"moengage-bench-delta-b{CHURN}-{n}.txt"
    leave = len(range(0, n, CHURN))
    join = n // CHURN
    if not (a.exists() and b.exists() and a.stat().st_size == n * 25 and b.stat().st_size == n * 25):
        step = _step(n)
        with open(a.with_suffix(".tmp"), "w") as fa, open(b.with_suffix(".tmp"), "w") as fb:
            for start in range(0, n, 100_000):
                ids = [(i * step) % n for i in range(start, min(start + 100_000, n))]
                fa.write("".join(f"{v:024d}\n" for v in ids))
                fb.write("".join(f"{v:024d}\n" for v in ids if v % CHURN))
            fb.write("".join(f"{v:024d}\n" for v in range(n, n + join)))
        a.with_suffix(".tmp").replace(a)
        b.with_suffix(".tmp").replace(b)
    return a, b, leave, join


def minimum_requests(members: int, action: str, uid_bytes: int = 24) -> int:
    """The fewest requests that can carry ``members`` uids of ``uid_bytes`` in bodies of 128,000 bytes."""
    packer = Packer(CohortEnvelope(COHORT, action), 128_000)  # type: ignore[arg-type]
    separator = len('"},{"uid":"')
    return math.ceil((members * (uid_bytes + separator) - separator) / (packer.limit + separator)) if members else 0


async def measured(fn: Callable[[], Awaitable[T]]) -> tuple[T, float, float]:
    """(result, seconds, peak RSS growth in MB) of one awaited call."""
    result, elapsed, baseline, peak = await rss_peak(fn)
    return result, elapsed, (peak - baseline) / 1024


async def drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def run_backend(name: str, client: AsyncClient, a: Path, b: Path, n: int, leave: int, join: int) -> float:
    folder = Path(tempfile.mkdtemp(prefix="moengage-bench-ledger-"))
    schema = f"bench_ledger_{uuid.uuid4().hex[:8]}"
    ledger: Any = SQLiteLedger(folder / "cohorts.db") if name == "sqlite" else PostgresLedger(POSTGRES, schema=schema)
    try:
        first, first_s, first_mb = await measured(lambda: client.cohorts.sync(COHORT, read_uids(a), ledger=ledger))
        assert first.ok and first.added == n, first.to_dict()
        print(f"  {name:8} first sync of {n:,} into an empty ledger: {first_s:6.1f}s, RSS +{first_mb:.0f} MB")
        delta, delta_s, delta_mb = await measured(lambda: client.cohorts.sync(COHORT, read_uids(b), ledger=ledger))
        assert delta.ok and (delta.removed, delta.added) == (leave, join), delta.to_dict()
        least = minimum_requests(leave, "remove_members") + minimum_requests(join, "add_members")
        print(
            f"  {name:8} delta sync, 1% churn: {delta_s:6.1f}s (diff+push), RSS +{delta_mb:.0f} MB, "
            f"{delta.requests} requests vs minimum {least} ({delta.requests / least:.3f}x), "
            f"-{delta.removed:,} +{delta.added:,} ={delta.unchanged:,}"
        )
        return first_s
    finally:
        if name == "postgres":
            await drop_schema(schema)
        else:
            shutil.rmtree(folder)


async def main(n: int, backends: list[str], plain: bool) -> None:
    a, b, leave, join = lists(n)
    print(f"N={n:,}, churn 1% (-{leave:,} +{join:,}), 24-char ids in scrambled order, limits off, sink 0 ms")
    with SinkProcess() as url:
        async with AsyncClient("ws", "key", base_url=url, rate_limits=None) as client:
            await client.cohorts.add_members(COHORT, [f"warm-up-{i}" for i in range(20_000)])
            baseline = None
            if plain:
                report, baseline, mb = await measured(lambda: client.cohorts.add_members(COHORT, read_uids(a)))
                assert report.ok
                print(f"  plain add_members of the same {n:,}: {baseline:6.1f}s, RSS +{mb:.0f} MB")
            for name in backends:
                first = await run_backend(name, client, a, b, n, leave, join)
                if baseline is not None:
                    print(f"  {name:8} bookkeeping over plain add_members: {first - baseline:+.1f}s")


if __name__ == "__main__":
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    asyncio.run(
        main(
            int(argv[0]) if argv else 5_000_000,
            (argv[1] if len(argv) > 1 else "sqlite,postgres").split(","),
            "--no-plain" not in sys.argv,
        )
    )
