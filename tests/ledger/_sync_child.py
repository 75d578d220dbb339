"""Child process of the SIGKILL test: sync a uid file into a cohort with a ledger (until done or killed).

Usage: python _sync_child.py URL WORKSPACE KEY LEDGER UID_FILE MAX_IN_FLIGHT MAX_REQUEST_BYTES

LEDGER is a SQLite file, or ``postgresql://...#SCHEMA`` for a PostgreSQL ledger in that schema.
"""

from __future__ import annotations

import asyncio
import sys

from moengage_segments import AsyncClient, PostgresLedger, RetryPolicy, SQLiteLedger, read_uids
from tests.ledger._support import COHORT


def open_ledger(spec: str) -> SQLiteLedger | PostgresLedger:
    if spec.startswith("postgresql://"):
        dsn, schema = spec.rsplit("#", 1)
        return PostgresLedger(dsn, schema=schema)
    return SQLiteLedger(spec)


async def main(argv: list[str]) -> None:
    url, workspace, key, ledger, uid_file, in_flight, body = argv[:7]
    retry = RetryPolicy(base=0.001, cap=0.01, rate_limit_cap=0.05, max_attempts=25)
    async with AsyncClient(workspace, key, base_url=url, rate_limits=None, retry=retry) as client:
        await client.cohorts.sync(
            COHORT,
            read_uids(uid_file),
            ledger=open_ledger(ledger),
            max_in_flight=int(in_flight),
            max_request_bytes=int(body),
            lock_timeout=30,
        )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
