"""worker.py: push one slice of a cohort; every worker started like this shares the workspace's quota.

MOENGAGE_QUOTA_URL=sqlite:///var/lib/pushers/quota.db python worker.py 0 4 &   # slice 0 of 4
"""

import asyncio
import sys

from moengage_segments import AsyncClient, Cohort, read_uids


async def push_slice(part: int, parts: int, path: str) -> None:
    cohort = Cohort(id="churn-risk", name="Churn risk", partner="warehouse")
    mine = [uid for i, uid in enumerate(read_uids(path)) if i % parts == part]
    async with AsyncClient() as client:  # credentials and MOENGAGE_QUOTA_URL from the environment
        report = await client.cohorts.add_members(cohort, mine)
    print(f"worker {part}/{parts}: {report.accepted} accepted, {report.retries} retried")


if __name__ == "__main__":
    asyncio.run(push_slice(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "uids.txt"))
