"""PostgreSQL-only parts of the ledger: what the role needs once the tables exist."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from moengage_segments import LedgerError, PostgresLedger
from tests._services import require_postgres, unique_name
from tests.ledger.conftest import Backend, _drop_schema
from tests.ledger.test_contract import sync_once


@pytest.fixture
async def dml_role() -> AsyncIterator[tuple[str, str, str]]:
    """(dsn, schema, role): tables created by the owner, and a role that may only read and write them."""
    import asyncpg

    dsn = require_postgres()
    schema, role = unique_name("mtest_ledger"), unique_name("mtest_role")
    await PostgresLedger(dsn, schema=schema).entries()  # the owner creates the tables
    conn = await asyncpg.connect(dsn)
    try:
        try:
            await conn.execute(f"CREATE ROLE {role} NOLOGIN")
        except asyncpg.InsufficientPrivilegeError:
            pytest.skip("the test server's user may not create roles")
        await conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        await conn.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
        yield dsn, schema, role
    finally:
        await _drop_schema(dsn, schema)
        await conn.execute(f"DROP ROLE IF EXISTS {role}")
        await conn.close()


async def test_a_role_that_only_reads_and_writes_the_tables_can_sync(dml_role: tuple[str, str, str]) -> None:
    dsn, schema, role = dml_role
    # asyncpg passes unknown DSN parameters as settings: every connection runs as the restricted role.
    ledger = PostgresLedger(f"{dsn}?role={role}", schema=schema)
    backend = Backend("postgres", ledger, dsn)
    counts, to_add, _ = await sync_once(backend, ["b", "a"])
    assert counts.to_add == 2 and to_add == ["a", "b"]
    entry = await ledger.entry("ws-1", "c1")
    assert entry is not None and entry.members == 2


async def test_a_role_that_may_not_create_the_tables_gets_a_ledger_error(dml_role: tuple[str, str, str]) -> None:
    dsn, _, role = dml_role
    ledger = PostgresLedger(f"{dsn}?role={role}", schema=unique_name("mtest_ledger"))  # no tables there yet
    with pytest.raises(LedgerError, match="first use needs a role that may create them"):
        await ledger.entries()
