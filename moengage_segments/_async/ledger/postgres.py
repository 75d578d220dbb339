"""The shared ledger: PostgreSQL through ``asyncpg`` (the ``postgres`` extra), for pushers on several hosts.

The same tables and the same run lifecycle as the SQLite ledger. A sync uses one connection of its own:
the desired list is copied (``COPY``) into a temporary table of that session, and the diff is two
anti-joins on the server (PostgreSQL picks hash or merge joins), so neither list passes through Python
memory beyond one page. Every write checks, in its transaction, that the run still holds the cohort's
lock. Columns holding uids use the ``"C"`` collation: byte order, fast, and the same on every server.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from moengage_segments._async.ledger._base import (
    DEFAULT_STALE_AFTER,
    ENTRY_COLUMNS,
    SCHEMA_VERSION,
    DiffCounts,
    Holder,
    LedgerEntry,
    LedgerSide,
    RunBase,
    entry_from_row,
    holder_from_row,
)
from moengage_segments.errors import ConfigurationError, LedgerError, LedgerLockedError, ValidationError

__all__ = ["PostgresLedger"]

T = TypeVar("T")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def _schema_sql(s: str) -> list[str]:
    return [
        f'CREATE SCHEMA IF NOT EXISTS "{s}"',
        f'CREATE TABLE IF NOT EXISTS "{s}".moengage_ledger_schema (version integer NOT NULL)',
        f"""CREATE TABLE IF NOT EXISTS "{s}".moengage_ledger_cohorts (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            workspace_id text NOT NULL,
            cohort_id text NOT NULL,
            members bigint NOT NULL DEFAULT 0,
            in_doubt bigint NOT NULL DEFAULT 0,
            epoch integer NOT NULL DEFAULT 0,
            refreshing integer,
            last_push double precision,
            last_full_refresh double precision,
            created double precision NOT NULL,
            lock_token text,
            lock_host text,
            lock_pid integer,
            lock_started double precision,
            lock_heartbeat double precision,
            UNIQUE (workspace_id, cohort_id)
        )""",
        f"""CREATE TABLE IF NOT EXISTS "{s}".moengage_ledger_members (
            cohort bigint NOT NULL,
            uid text COLLATE "C" NOT NULL,
            gen integer NOT NULL,
            pending boolean NOT NULL DEFAULT false,
            PRIMARY KEY (cohort, uid)
        )""",
    ]


def _count(status: str) -> int:
    """Rows affected, from a command tag such as ``INSERT 0 12`` or ``DELETE 3``."""
    return int(status.rsplit(" ", 1)[-1])


def _entry(row: Any) -> LedgerEntry:
    return entry_from_row(tuple(row))


def _redact(dsn: str) -> str:
    """The DSN without its password (for messages and ``describe()``)."""
    try:
        parts = urllib.parse.urlsplit(dsn)
    except ValueError:
        return "postgresql://?"
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{parts.path}"


def _asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - depends on the installation
        raise ConfigurationError(
            "PostgresLedger needs the asyncpg driver: pip install 'moengage-segments[postgres]'"
        ) from None
    return asyncpg


def _driver_errors() -> tuple[type[BaseException], ...]:
    asyncpg = _asyncpg()
    return (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class _Session:
    """One asyncpg connection; calls are serialised (a connection runs one query at a time)."""

    def __init__(self, ledger: PostgresLedger) -> None:
        self._ledger = ledger
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def call(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        async with self._lock:
            if self._conn is None:
                self._conn = await self._ledger._connect()
            try:
                return await fn(self._conn)
            except _driver_errors() as exc:
                raise LedgerError(f"ledger {self._ledger.describe()}: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 5)
            except Exception:
                conn.terminate()


class _PostgresRun(RunBase):
    def __init__(self, ledger: PostgresLedger, *args: Any) -> None:
        super().__init__(ledger.describe(), *args)
        self._session = _Session(ledger)
        s = ledger.schema
        self._cohorts = f'"{s}".moengage_ledger_cohorts'
        self._members = f'"{s}".moengage_ledger_members'
        self._id: int | None = None
        self._staged = False
        self._tables: dict[str, str | None] = {"add": None, "remove": None}

    async def _open(self) -> None:
        async def find(conn: Any) -> int | None:
            value = await conn.fetchval(
                f"SELECT id FROM {self._cohorts} WHERE workspace_id = $1 AND cohort_id = $2",
                self.workspace_id,
                self.cohort_id,
            )
            return None if value is None else int(value)

        self._id = await self._session.call(find)

    async def _close(self) -> None:
        await self._session.close()

    async def _claim(self, replace: str | None) -> Holder | None:
        me = self.me

        async def claim(conn: Any) -> Holder | None:
            now = time.time()
            async with conn.transaction():
                await conn.execute(
                    f"INSERT INTO {self._cohorts} (workspace_id, cohort_id, created) VALUES ($1, $2, $3) "
                    "ON CONFLICT (workspace_id, cohort_id) DO NOTHING",
                    self.workspace_id,
                    self.cohort_id,
                    now,
                )
                row = await conn.fetchrow(
                    f"SELECT id, lock_token, lock_host, lock_pid, lock_started, lock_heartbeat FROM {self._cohorts} "
                    "WHERE workspace_id = $1 AND cohort_id = $2 FOR UPDATE",
                    self.workspace_id,
                    self.cohort_id,
                )
                self._id = int(row[0])
                current = holder_from_row(*tuple(row)[1:])
                if current is None or current.token == replace:
                    await conn.execute(
                        f"UPDATE {self._cohorts} SET lock_token = $1, lock_host = $2, lock_pid = $3, "
                        "lock_started = $4, lock_heartbeat = $5 WHERE id = $6",
                        me.token,
                        me.host,
                        me.pid,
                        me.started,
                        now,
                        self._id,
                    )
                    return None
                return current

        return await self._session.call(claim)

    async def _beat(self) -> bool:
        async def beat(conn: Any) -> bool:
            status = await conn.execute(
                f"UPDATE {self._cohorts} SET lock_heartbeat = $1 WHERE id = $2 AND lock_token = $3",
                time.time(),
                self._id,
                self.me.token,
            )
            return _count(status) == 1

        return await self._session.call(beat)

    async def _release(self) -> None:
        async def release(conn: Any) -> None:
            await conn.execute(
                f"UPDATE {self._cohorts} SET lock_token = NULL, lock_host = NULL, lock_pid = NULL, "
                "lock_started = NULL, lock_heartbeat = NULL WHERE id = $1 AND lock_token = $2",
                self._id,
                self.me.token,
            )

        await self._session.call(release)

    async def _load(self) -> LedgerEntry | None:
        async def load(conn: Any) -> LedgerEntry | None:
            row = await conn.fetchrow(
                f"SELECT {ENTRY_COLUMNS} FROM {self._cohorts} WHERE workspace_id = $1 AND cohort_id = $2",
                self.workspace_id,
                self.cohort_id,
            )
            return None if row is None else _entry(row)

        return await self._session.call(load)

    # -- the diff ------------------------------------------------------------------------------------

    async def stage(self, uids: Sequence[str]) -> None:
        """COPY valid uids of the desired list into the session's staging table."""

        async def stage(conn: Any) -> None:
            if not self._staged:
                await conn.execute('CREATE TEMP TABLE moengage_staged (uid text COLLATE "C" NOT NULL)')
                self._staged = True
            await conn.copy_records_to_table("moengage_staged", records=zip(uids), columns=["uid"])

        await self._session.call(stage)

    async def diff(self, *, fresh_from: int | None) -> DiffCounts:
        async def diff(conn: Any) -> DiffCounts:
            await conn.execute('CREATE TEMP TABLE moengage_desired (uid text COLLATE "C" PRIMARY KEY)')
            desired = 0
            if self._staged:
                desired = _count(
                    await conn.execute(
                        "INSERT INTO moengage_desired SELECT DISTINCT uid FROM moengage_staged ON CONFLICT DO NOTHING"
                    )
                )
                await conn.execute("DROP TABLE moengage_staged")
                self._staged = False
            await conn.execute("ANALYZE moengage_desired")  # autovacuum never analyses temporary tables
            empty = (
                fresh_from is None
                or self._id is None
                or await conn.fetchval(f"SELECT 1 FROM {self._members} WHERE cohort = $1 LIMIT 1", self._id) is None
            )
            if empty:
                self._tables = {"add": "moengage_desired", "remove": None}
                return DiffCounts(desired, desired, 0)
            for name in ("moengage_to_add", "moengage_to_remove"):
                await conn.execute(f'CREATE TEMP TABLE {name} (uid text COLLATE "C" PRIMARY KEY)')
            to_add = _count(
                await conn.execute(
                    "INSERT INTO moengage_to_add SELECT d.uid FROM moengage_desired AS d WHERE NOT EXISTS "
                    f"(SELECT 1 FROM {self._members} AS m WHERE m.cohort = $1 AND m.uid = d.uid AND NOT m.pending "
                    "AND m.gen >= $2)",
                    self._id,
                    fresh_from,
                )
            )
            to_remove = _count(
                await conn.execute(
                    f"INSERT INTO moengage_to_remove SELECT m.uid FROM {self._members} AS m WHERE m.cohort = $1 "
                    "AND NOT EXISTS (SELECT 1 FROM moengage_desired AS d WHERE d.uid = m.uid)",
                    self._id,
                )
            )
            self._tables = {"add": "moengage_to_add", "remove": "moengage_to_remove"}
            return DiffCounts(desired, to_add, to_remove)

        return await self._session.call(diff)

    async def chunks(self, side: LedgerSide, size: int) -> AsyncIterator[list[str]]:
        """Page through one side of the diff in uid order (each page is one short query)."""
        table = self._tables[side]
        if table is None:
            return
        last = ""
        while True:

            async def page(conn: Any, after: str = last) -> list[str]:
                rows = await conn.fetch(f"SELECT uid FROM {table} WHERE uid > $1 ORDER BY uid LIMIT $2", after, size)
                return [row[0] for row in rows]

            uids = await self._session.call(page)
            if not uids:
                return
            yield uids
            last = uids[-1]

    # -- recording -----------------------------------------------------------------------------------

    async def _fence(self, conn: Any, now: float, push: bool) -> None:
        extra = ", last_push = $1" if push else ""
        status = await conn.execute(
            f"UPDATE {self._cohorts} SET lock_heartbeat = $1{extra} WHERE id = $2 AND lock_token = $3",
            now,
            self._id,
            self.me.token,
        )
        if _count(status) != 1:
            raise self.lost()

    async def _write(self, statements: Callable[[Any], Awaitable[tuple[int, int]]], push: bool) -> None:
        """One transaction: fence, run ``statements`` (-> change of members, change of in-doubt), count."""

        async def write(conn: Any) -> None:
            async with conn.transaction():
                await self._fence(conn, time.time(), push=push)
                members, in_doubt = await statements(conn)
                if members or in_doubt:
                    await conn.execute(
                        f"UPDATE {self._cohorts} SET members = members + $1, in_doubt = in_doubt + $2 WHERE id = $3",
                        members,
                        in_doubt,
                        self._id,
                    )

        await self._session.call(write)

    async def intend(self, side: LedgerSide, uids: Sequence[str], gen: int) -> None:
        """Mark ``uids`` in doubt: new pending rows for an add, flagged rows for a removal."""
        values = list(uids)

        async def intend(conn: Any) -> tuple[int, int]:
            if side == "add":
                added = await conn.execute(
                    f"INSERT INTO {self._members} (cohort, uid, gen, pending) SELECT $1, u, $2, true "
                    "FROM unnest($3::text[]) AS u ON CONFLICT (cohort, uid) DO NOTHING",
                    self._id,
                    gen,
                    values,
                )
                return 0, _count(added)
            flagged = _count(
                await conn.execute(
                    f"UPDATE {self._members} SET pending = true WHERE cohort = $1 AND NOT pending "
                    "AND uid = ANY($2::text[])",
                    self._id,
                    values,
                )
            )
            return -flagged, flagged

        await self._write(intend, push=False)

    async def confirm(self, side: LedgerSide, uids: Sequence[str], gen: int) -> None:
        """Settle ``uids``: an add clears their flag (stamping ``gen``), a removal deletes their rows."""
        values = list(uids)

        async def confirm(conn: Any) -> tuple[int, int]:
            if side == "remove":
                deleted = await conn.execute(
                    f"DELETE FROM {self._members} WHERE cohort = $1 AND pending AND uid = ANY($2::text[])",
                    self._id,
                    values,
                )
                return 0, -_count(deleted)
            settled = _count(
                await conn.execute(
                    f"UPDATE {self._members} SET pending = false, gen = greatest(gen, $1) WHERE cohort = $2 "
                    "AND pending AND uid = ANY($3::text[])",
                    gen,
                    self._id,
                    values,
                )
            )
            if settled != len(values):  # a refresh re-sends confirmed members: restamp them
                await conn.execute(
                    f"UPDATE {self._members} SET gen = $1 WHERE cohort = $2 AND gen < $1 AND uid = ANY($3::text[])",
                    gen,
                    self._id,
                    values,
                )
            return settled, -settled

        await self._write(confirm, push=True)

    async def begin_refresh(self) -> int:
        async def begin(conn: Any) -> int:
            async with conn.transaction():
                await self._fence(conn, time.time(), push=False)
                return int(
                    await conn.fetchval(
                        f"UPDATE {self._cohorts} SET refreshing = coalesce(refreshing, epoch + 1) WHERE id = $1 "
                        "RETURNING refreshing",
                        self._id,
                    )
                )

        return await self._session.call(begin)

    async def end_refresh(self) -> None:
        async def end(conn: Any) -> None:
            now = time.time()
            async with conn.transaction():
                await self._fence(conn, now, push=False)
                await conn.execute(
                    f"UPDATE {self._cohorts} SET epoch = refreshing, refreshing = NULL, last_full_refresh = $1 "
                    "WHERE id = $2 AND refreshing IS NOT NULL",
                    now,
                    self._id,
                )

        await self._session.call(end)

    async def clear(self) -> None:
        async def clear(conn: Any) -> None:
            async with conn.transaction():
                await self._fence(conn, time.time(), push=False)
                await conn.execute(f"DELETE FROM {self._members} WHERE cohort = $1", self._id)
                await conn.execute(f"UPDATE {self._cohorts} SET members = 0, in_doubt = 0 WHERE id = $1", self._id)

        await self._session.call(clear)


class PostgresLedger:
    """The shared ledger: PostgreSQL tables holding the confirmed members of any number of cohorts.

    For pushers on several hosts: every sync of a cohort, wherever it runs, sees the same record and the
    same per-cohort lock. Needs the ``postgres`` extra (``asyncpg``). The tables are created (and
    versioned) in ``schema`` on first use; the role needs to create tables there once, then only to read
    and write them. ``dsn`` is a ``postgresql://`` URL; its password never appears in messages.

    Example::

        ledger = PostgresLedger("postgresql://pusher@db.internal/segments", schema="moengage")
        report = await client.cohorts.sync(cohort, read_uids("today.txt"), ledger=ledger)
    """

    def __init__(self, dsn: str, *, schema: str = "public", connect_timeout: float = 10.0) -> None:
        if not isinstance(dsn, str) or not dsn.startswith(("postgresql://", "postgres://")):
            raise ValidationError("ledger", "PostgresLedger needs a postgresql:// URL")
        if not isinstance(schema, str) or not _IDENTIFIER.fullmatch(schema):
            raise ValidationError("schema", "must be a plain SQL identifier (letters, digits, _; at most 63)")
        self._dsn = dsn
        self.schema = schema
        self.connect_timeout = connect_timeout
        self._ready = False

    def __repr__(self) -> str:
        return f"PostgresLedger({self.describe()!r}, schema={self.schema!r})"

    def describe(self) -> str:
        """The DSN without its password.

        Example::

            assert PostgresLedger("postgresql://u:secret@db/x").describe() == "postgresql://u@db/x"
        """
        return _redact(self._dsn)

    async def _connect(self) -> Any:
        asyncpg = _asyncpg()
        try:
            conn = await asyncpg.connect(self._dsn, timeout=self.connect_timeout)
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError) as exc:
            raise LedgerError(f"cannot connect to the ledger {self.describe()}: {type(exc).__name__}") from None
        if not self._ready:
            try:
                await self._create_schema(conn)
            except BaseException:
                await conn.close()
                raise
            self._ready = True
        return conn

    async def _create_schema(self, conn: Any) -> None:
        async with conn.transaction():
            # Serialises concurrent first uses: CREATE ... IF NOT EXISTS alone races on the catalogue.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"moengage_ledger:{self.schema}")
            for statement in _schema_sql(self.schema):
                await conn.execute(statement)
            version = await conn.fetchval(f'SELECT max(version) FROM "{self.schema}".moengage_ledger_schema')
            if version is None:
                await conn.execute(
                    f'INSERT INTO "{self.schema}".moengage_ledger_schema (version) VALUES ($1)', SCHEMA_VERSION
                )
            elif version > SCHEMA_VERSION:
                raise LedgerError(
                    f"the ledger {self.describe()} (schema {self.schema}) has schema version {version}, newer than "
                    f"this moengage-segments understands ({SCHEMA_VERSION}): upgrade moengage-segments"
                )

    def run(
        self,
        workspace_id: str,
        cohort_id: str,
        *,
        exclusive: bool = True,
        lock_timeout: float = 0.0,
        stale_after: float = DEFAULT_STALE_AFTER,
    ) -> contextlib.AbstractAsyncContextManager[_PostgresRun]:
        """One sync's view of a cohort's record (used by ``cohorts.sync``).

        Example::

            async with ledger.run("WS", "churn") as run:
                print(run.entry.members)
        """
        return _PostgresRun(self, workspace_id, cohort_id, exclusive, lock_timeout, stale_after)

    async def _admin(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        session = _Session(self)
        try:
            return await session.call(fn)
        finally:
            await session.close()

    async def entries(self, workspace_id: str | None = None) -> list[LedgerEntry]:
        """Every cohort in the ledger (of one workspace, when given), by workspace and cohort id.

        Example::

            for entry in await ledger.entries():
                print(entry.cohort_id, entry.members)
        """

        async def entries(conn: Any) -> list[LedgerEntry]:
            table = f'"{self.schema}".moengage_ledger_cohorts'
            if workspace_id is None:
                rows = await conn.fetch(f"SELECT {ENTRY_COLUMNS} FROM {table} ORDER BY workspace_id, cohort_id")
            else:
                rows = await conn.fetch(
                    f"SELECT {ENTRY_COLUMNS} FROM {table} WHERE workspace_id = $1 ORDER BY cohort_id", workspace_id
                )
            return [_entry(row) for row in rows]

        return await self._admin(entries)

    async def entry(self, workspace_id: str, cohort_id: str) -> LedgerEntry | None:
        """One cohort's record, or None.

        Example::

            entry = await ledger.entry("WS", "churn")
        """

        async def entry(conn: Any) -> LedgerEntry | None:
            row = await conn.fetchrow(
                f'SELECT {ENTRY_COLUMNS} FROM "{self.schema}".moengage_ledger_cohorts '
                "WHERE workspace_id = $1 AND cohort_id = $2",
                workspace_id,
                cohort_id,
            )
            return None if row is None else _entry(row)

        return await self._admin(entry)

    async def forget(self, workspace_id: str, cohort_id: str) -> bool:
        """Drop a cohort's record; refused (:class:`LedgerLockedError`) while a live sync holds its lock.

        Example::

            await ledger.forget("WS", "churn")
        """
        cohorts = f'"{self.schema}".moengage_ledger_cohorts'

        async def forget(conn: Any) -> bool:
            async with conn.transaction():
                row = await conn.fetchrow(
                    f"SELECT id, lock_token, lock_host, lock_pid, lock_started, lock_heartbeat FROM {cohorts} "
                    "WHERE workspace_id = $1 AND cohort_id = $2 FOR UPDATE",
                    workspace_id,
                    cohort_id,
                )
                if row is None:
                    return False
                holder = holder_from_row(*tuple(row)[1:])
                if holder is not None and not holder.abandoned(time.time(), DEFAULT_STALE_AFTER):
                    raise LedgerLockedError(
                        f"cohort {cohort_id!r} of workspace {workspace_id!r} in {self.describe()} is being synced "
                        f"by {holder.describe()}: not forgotten",
                        holder.describe(),
                    )
                await conn.execute(f'DELETE FROM "{self.schema}".moengage_ledger_members WHERE cohort = $1', row[0])
                await conn.execute(f"DELETE FROM {cohorts} WHERE id = $1", row[0])
                return True

        return await self._admin(forget)
