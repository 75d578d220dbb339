"""Child process of the crash tests: push a uid file with a checkpoint journal until done (or killed).

Usage: python _push_child.py URL WORKSPACE KEY UID_FILE JOURNAL MAX_IN_FLIGHT MAX_REQUEST_BYTES [REPORT]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from moengage_segments import AsyncClient, Cohort, RetryPolicy, read_uids

COHORT = Cohort(id="crash", name="Crash and resume", partner="reliability")


async def main(argv: list[str]) -> str:
    url, workspace, key, uid_file, journal, in_flight, body = argv[:7]
    retry = RetryPolicy(base=0.001, cap=0.01, rate_limit_cap=0.05, max_attempts=25)
    async with AsyncClient(workspace, key, base_url=url, rate_limits=None, retry=retry) as client:
        report = await client.cohorts.add_members(
            COHORT,
            read_uids(uid_file),
            max_in_flight=int(in_flight),
            max_request_bytes=int(body),
            checkpoint=journal,
        )
    return report.to_json()


if __name__ == "__main__":
    text = asyncio.run(main(sys.argv[1:]))
    if len(sys.argv) > 8:
        Path(sys.argv[8]).write_text(text)
