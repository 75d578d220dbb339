"""The emulator's speed, as users meet it: the ``demo`` tour end to end, and ingesting full-size cohort requests.

These were wall-clock asserts in the test suite (``demo`` under 45 s, 40 requests under 10 s); timing
belongs here, where a noisy machine makes a figure to read, not a failing test.

* demo: ``python -m moengage_segments demo`` as a user runs it (a fresh interpreter, imports included),
  default size (200,000 uids pushed); best of ``runs``.
* ingest: 40 cohort requests of 5,500 uids each (~127 KB, just under the 128,000-byte cap: 220,000 uids)
  posted one after another with raw aiohttp to an emulator on a background thread; best of ``runs``.

Goals: demo < 45 s, ingest < 10 s (both on a quiet 2-core machine).

    python benchmarks/bench_emulator.py [runs=3]
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time

import aiohttp

from moengage_segments.testing import Emulator

BATCHES = 40
BATCH_UIDS = 5_500


def time_demo() -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "moengage_segments", "demo", "--plain"],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0 or "200,000 pushed" not in proc.stdout:
        raise RuntimeError(f"demo failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


async def time_ingest() -> float:
    with Emulator.in_thread(accept_any_uid=True, rate_limits=False) as emu:
        token = base64.b64encode(f"{emu.workspace_id}:{emu.api_key}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "MOE-APPKEY": emu.workspace_id}
        bodies = [
            json.dumps(
                {
                    "action": "add_members",
                    "partner": "bench",
                    "parameters": {
                        "cohort_id": "big",
                        "cohort_name": "Big",
                        "members": [{"uid": f"u{batch:03d}{i:06d}"} for i in range(BATCH_UIDS)],
                    },
                }
            ).encode()
            for batch in range(BATCHES)
        ]
        async with aiohttp.ClientSession(headers=headers) as session:
            started = time.perf_counter()
            for body in bodies:
                async with session.post(
                    f"{emu.base_url}/v1/integrations/cohortsync",
                    data=body,
                    headers={"Content-Type": "application/json"},
                ) as resp:
                    if resp.status != 200:
                        raise RuntimeError(f"HTTP {resp.status}: {await resp.text()}")
            elapsed = time.perf_counter() - started
        segment = emu.cohort_segment("big")
        if segment is None or segment.member_count != BATCHES * BATCH_UIDS:
            raise RuntimeError(f"the emulator holds {segment and segment.member_count} members")
        return elapsed


def main(runs: int) -> None:
    demo = [time_demo() for _ in range(runs)]
    ingest = [asyncio.run(time_ingest()) for _ in range(runs)]
    print(f"demo (default size, subprocess) : best {min(demo):.2f}s  runs: {', '.join(f'{t:.2f}' for t in demo)}")
    print(
        f"ingest {BATCHES} x {BATCH_UIDS:,} uids ({BATCHES * BATCH_UIDS:,})  : best {min(ingest):.2f}s  "
        f"runs: {', '.join(f'{t:.2f}' for t in ingest)}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
