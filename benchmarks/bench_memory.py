"""Memory: push 10,000,000 uids streamed from a file; peak RSS growth must stay under 100 MB.

The uid file (24-character ids, ~250 MB) is generated once under the system temp directory. The push
runs with limits off against the minimal sink (a separate process). Peak RSS is read from the kernel
(``VmHWM``, reset via ``/proc/self/clear_refs`` after warm-up) and cross-checked by sampling ``VmRSS``.

    python benchmarks/bench_memory.py [uids]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).parent))
from _sink import SinkProcess

from moengage_segments import AsyncClient, Cohort, read_uids

T = TypeVar("T")
COHORT = Cohort(id="memory", name="Memory", partner="warehouse")


def status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


async def rss_peak(fn: Callable[[], Awaitable[T]]) -> tuple[T, float, int, int]:
    """(result, seconds, baseline RSS in kB, peak RSS in kB) of one awaited call."""
    try:
        with open("/proc/self/clear_refs", "w") as f:  # noqa: ASYNC230  # a one-off procfs write
            f.write("5")  # reset the peak (VmHWM) to the current RSS
    except OSError:
        pass
    baseline = status_kb("VmRSS")
    sampled = baseline

    async def sample() -> None:
        nonlocal sampled
        while True:
            sampled = max(sampled, status_kb("VmRSS"))
            await asyncio.sleep(0.01)

    sampler = asyncio.ensure_future(sample())
    started = time.perf_counter()
    try:
        result = await fn()
    finally:
        elapsed = time.perf_counter() - started
        sampler.cancel()
    return result, elapsed, baseline, max(status_kb("VmHWM"), sampled)


def uid_file(n: int) -> Path:
    path = Path(tempfile.gettempdir()) / f"moengage-bench-uids-{n}.txt"
    if not path.exists() or path.stat().st_size != n * 25:
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            for start in range(0, n, 100_000):
                f.write("".join(f"{i:024d}\n" for i in range(start, min(start + 100_000, n))))
        tmp.replace(path)
    return path


async def main(n: int) -> None:
    path = uid_file(n)
    with SinkProcess() as url:
        async with AsyncClient("ws", "key", base_url=url, rate_limits=None) as client:
            await client.cohorts.add_members(COHORT, [f"warm-up-{i}" for i in range(20_000)])
            report, elapsed, baseline, peak = await rss_peak(
                lambda: client.cohorts.add_members(COHORT, read_uids(path), max_in_flight=8)
            )
    assert report.ok and report.accepted == n, report.to_json()
    growth = (peak - baseline) / 1024
    print(
        f"{n:,} uids from a {path.stat().st_size / 1e6:,.0f} MB file in {elapsed:.1f}s "
        f"({n / elapsed:,.0f} uids/s, {len(report.batches)} requests)"
    )
    print(
        f"RSS baseline {baseline / 1024:.1f} MB, peak {peak / 1024:.1f} MB: growth {growth:.1f} MB "
        f"({'OK' if growth < 100 else 'OVER'} the 100 MB budget)"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000))
