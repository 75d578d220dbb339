"""The ledger backends under test: every contract test runs once per backend.

PostgreSQL tests use a schema of their own (other runs share the server), one per test process, emptied
before each test and dropped at the end.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import attrs
import pytest

from moengage_segments import PostgresLedger, SQLiteLedger
from moengage_segments._async.ledger import _base
from tests._services import require_postgres, unique_name


@attrs.define
class Backend:
    """A ledger under test plus a way to tamper with its stored schema version (for the upgrade test)."""

    name: str
    ledger: SQLiteLedger | PostgresLedger
    dsn: str | None = None

    async def set_version(self, version: int) -> None:
        if isinstance(self.ledger, SQLiteLedger):
            with sqlite3.connect(self.ledger.path) as db:
                db.execute("UPDATE moengage_ledger_schema SET version = ?", (version,))
            db.close()
            return
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(f'UPDATE "{self.ledger.schema}".moengage_ledger_schema SET version = $1', version)
        finally:
            await conn.close()

    def fresh(self) -> SQLiteLedger | PostgresLedger:
        """Another ledger object on the same storage (as a second process would open it)."""
        if isinstance(self.ledger, SQLiteLedger):
            return SQLiteLedger(self.ledger.path)
        assert self.dsn is not None
        return PostgresLedger(self.dsn, schema=self.ledger.schema)


async def _drop_schema(dsn: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
def quick_lock_polls() -> Iterator[None]:
    """Runs waiting for a lock try again every 10 ms instead of 250 (the waits are what these tests check).

    A monkeypatch of its own: tests that undo theirs keep this one.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_base, "LOCK_POLL", 0.01)
        yield


async def _empty_tables(dsn: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        if await conn.fetchval("SELECT to_regclass($1)", f'"{schema}".moengage_ledger_schema') is not None:
            tables = ", ".join(
                f'"{schema}".moengage_ledger_{name}' for name in ("schema", "cohorts", "members", "intents")
            )
            await conn.execute(f"TRUNCATE {tables}")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[tuple[str, str]]:
    """(dsn, schema): one schema for the contract tests of this process, emptied before each test.

    Emptying the tables costs about half of creating and dropping a schema per test.
    """
    dsn = require_postgres()
    schema = unique_name("mtest_ledger")
    yield dsn, schema
    asyncio.run(_drop_schema(dsn, schema))


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", SQLiteLedger(tmp_path / "ledger.db"))
        return
    dsn, schema = request.getfixturevalue("postgres_schema")
    await _empty_tables(dsn, schema)  # also resets a version a test changed: the next use writes it again
    yield Backend("postgres", PostgresLedger(dsn, schema=schema), dsn)
