"""Pacing: a push with the default 300 requests/min against the emulator enforcing the same window.

Time-scaled: the client uses ``RateLimits().scaled(1 / SCALE)`` and the emulator ``--time-scale SCALE``,
so a "minute" lasts 60 / SCALE seconds. Goal: achieved rate >= 98% of the limit and zero 429s.

The emulator runs in its own process (as the real service would be elsewhere), so its JSON parsing does
not compete with the client for the GIL. Full ~128 KB bodies are sent; ``remove_members`` is used so the
emulator's memory stays flat (pacing is identical for add and remove: same endpoint, same limiter).

The achieved rate is measured the way a sliding window is used: request i may start only once request
i - 300 has left the window, so the steady-state rate is 300 requests per mean(start[i] - start[i-300]).
(A plain "requests / elapsed" figure is also printed; it is distorted by the bursts a sliding window
allows: the first 300 start at once, and the spread of the last burst is counted in full.)

    python benchmarks/bench_pacing.py [minutes] [scale]
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import aiohttp
import attrs

from moengage_segments import AsyncClient, Cohort, RateLimits

LIMIT = 300  # the documented cohort-sync limit, per minute
COHORT = Cohort(id="pacing", name="Pacing", partner="warehouse")
MARGIN = 0.15  # real seconds added to each window (see below)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url + "/v3/custom-segments"):
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError("emulator did not start")


async def main(minutes: int, scale: float) -> None:
    port = free_port()
    # started once, before anything is measured
    emulator = subprocess.Popen(  # noqa: ASYNC220
        [
            sys.executable,
            "-m",
            "moengage_segments.testing",
            "--port",
            str(port),
            "--workspace-id",
            "WS",
            "--api-key",
            "KEY",
            "--time-scale",
            str(scale),
            "--accept-any-uid",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_up(url)
        n_requests = LIMIT * (minutes + 1)
        uids = (f"{i:024d}" for i in range(n_requests * 3_650))  # 24-char ids: ~128 KB bodies
        # Scaling shrinks the limiter's safety margin too (0.25 s a minute), but the latency jitter it
        # absorbs does not shrink with emulated time: keep it in real seconds.
        limits = attrs.evolve(RateLimits().scaled(1 / scale), margin=MARGIN)
        async with AsyncClient("WS", "KEY", base_url=url, rate_limits=limits) as client:
            starts: list[float] = []
            family = client._transport.limiter.family("cohort")
            acquire = family.acquire

            async def recording_acquire() -> float:  # when each request was let through
                waited = await acquire()
                starts.append(time.monotonic())
                return waited

            # Warm up (connections, the emulator's first-request costs), then let that request's window
            # expire so the measured run starts from an empty window on both sides.
            await client.cohorts.remove_members(COHORT, ["warm-up"])
            await asyncio.sleep(60 / scale + MARGIN)
            family.acquire = recording_acquire  # type: ignore[method-assign]
            started = time.perf_counter()
            report = await client.cohorts.remove_members(COHORT, uids, max_in_flight=8)
            wall = time.perf_counter() - started
    finally:
        emulator.kill()
        emulator.wait()
    emulated_minutes = (starts[-1] - starts[0]) * scale / 60
    cycles = [starts[i] - starts[i - LIMIT] for i in range(LIMIT, len(starts))]
    achieved = LIMIT / (sum(cycles) / len(cycles) * scale / 60)
    plain = (len(starts) - LIMIT) / emulated_minutes
    print(
        f"scale={scale:g} (a minute lasts {60 / scale:.2f}s, margin {MARGIN}s); {len(report.batches)} requests, "
        f"avg {report.bytes / max(report.requests, 1):,.0f} B; {report.accepted:,} uids; wall {wall:.1f}s"
    )
    print(
        f"achieved (steady state): {achieved:.1f} requests/min = {achieved / LIMIT:.2%} of {LIMIT}/min "
        f"[requests after the first 300 / elapsed: {plain:.1f}/min]; "
        f"429s (retries) seen by the client: {report.retries}; failed: {report.failed}"
    )
    print(f"uids per minute at that rate: {achieved * report.accepted / len(report.batches):,.0f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 6, float(sys.argv[2]) if len(sys.argv) > 2 else 5))
