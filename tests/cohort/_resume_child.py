"""Child process for the SIGKILL resume test: push a uid file with a checkpoint until killed."""

from __future__ import annotations

import asyncio
import sys

from moengage_segments import AsyncClient, Cohort, read_uids


async def main(url: str, uid_file: str, journal: str, max_in_flight: int) -> None:
    async with AsyncClient("ws", "key", base_url=url, rate_limits=None) as client:
        await client.cohorts.add_members(
            Cohort(id="resume", name="Resume", partner="p"),
            read_uids(uid_file),
            max_request_bytes=4_000,
            max_in_flight=max_in_flight,
            checkpoint=journal,
        )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
