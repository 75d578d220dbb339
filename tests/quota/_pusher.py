"""A pusher process for the multi-process quota tests: one client, one cohort push, a JSON line of results.

    python -m tests.quota._pusher BASE_URL TAG UIDS [--quota URL] [--clock-offset S] [--no-retry]

One uid a request, paced at ``MP_LIMIT`` cohort requests a minute, a minute lasting ``60 / MP_SCALE`` s.

Prints ``ready`` once the SDK is imported and the client built, waits for a line on stdin (so that every
pusher starts at once), pushes, then prints ``{"accepted": ..., "requests": ..., "retries": ..., ...}``.
``--clock-offset`` shifts this process's wall and monotonic clocks (a host whose clock is wrong).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time


def _skew(offset: float) -> None:
    # Before the SDK is imported: every later time.time()/time.monotonic() call (the SDK's, asyncio's) is off.
    wall, mono = time.time, time.monotonic
    time.time = lambda: wall() + offset  # type: ignore[assignment]
    time.monotonic = lambda: mono() + offset  # type: ignore[assignment]


async def main(args: argparse.Namespace) -> dict[str, object]:
    from moengage_segments import AsyncClient, RetryPolicy
    from moengage_segments._async.cohort_sync import DEFAULT_MAX_IN_FLIGHT
    from moengage_segments.testing import DEFAULT_API_KEY, DEFAULT_DB_NAME, DEFAULT_WORKSPACE_ID
    from tests.quota._support import COHORT, MP_LIMIT, MP_MARGIN, MP_SCALE, ONE_UID_BODY, scaled_limits, uids_for

    client = AsyncClient(
        DEFAULT_WORKSPACE_ID,
        DEFAULT_API_KEY,
        base_url=args.base_url,
        db_name=DEFAULT_DB_NAME,
        rate_limits=scaled_limits(MP_SCALE, MP_MARGIN, MP_LIMIT),
        retry=RetryPolicy(max_attempts=1) if args.no_retry else RetryPolicy(),
        quota=args.quota,
    )
    uids = uids_for(args.tag, args.uids)
    async with client:
        # Open the connections the push will use (another family's quota): a first window otherwise starts
        # with connection set-ups, a latency the scaled margin (50 ms, a real one is 250 ms) cannot absorb.
        await asyncio.gather(*(client.segments.list() for _ in range(DEFAULT_MAX_IN_FLIGHT)))
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        report = await client.cohorts.add_members(COHORT, uids, max_request_bytes=ONE_UID_BODY)
    return {
        "accepted": report.accepted,
        "failed": report.failed,
        "requests": report.requests,
        "retries": report.retries,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("tag")
    parser.add_argument("uids", type=int)
    parser.add_argument("--quota", default=None)
    parser.add_argument("--clock-offset", type=float, default=0.0)
    parser.add_argument("--no-retry", action="store_true")
    arguments = parser.parse_args()
    if arguments.clock_offset:
        _skew(arguments.clock_offset)
    print(json.dumps(asyncio.run(main(arguments))), flush=True)
