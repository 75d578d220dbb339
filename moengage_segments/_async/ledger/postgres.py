"""The shared ledger: PostgreSQL through ``asyncpg`` (the ``postgres`` extra), for pushers on several hosts.

The same tables and the same run lifecycle as the SQLite ledger. A sync uses three connections of its own
(the record's writes, the diff, heartbeats): the desired list is copied (``COPY``) into a temporary table of
the diff's session, and the diff is two anti-joins on the server (PostgreSQL picks hash or merge joins), so
neither list passes through Python memory beyond one page. Every write checks, in its transaction, that the
run still holds the cohort's lock. Columns holding uids use the ``"C"`` collation: byte order, fast, and
the same on every server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
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
            PRIMARY KEY (cohort, uid)
        )""",
        f"""CREATE TABLE IF NOT EXISTS "{s}".moengage_ledger_intents (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            cohort bigint NOT NULL,
            run text NOT NULL,
            side text NOT NULL,
            first_uid text COLLATE "C" NOT NULL,
            last_uid text COLLATE "C" NOT NULL,
            members integer NOT NULL,
            uids text[] NOT NULL
        )""",
        f"""CREATE INDEX IF NOT EXISTS moengage_ledger_intents_by_run
            ON "{s}".moengage_ledger_intents (cohort, run, side, first_uid)""",
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
        # The record's writes (in order: a release queued after a confirmation runs after it).
        self._session = _Session(ledger)
        # The diff's temporary tables and the pages read from them, on a connection of their own: the next
        # page is read while a confirmation is written.
        self._diff_session = _Session(ledger)
        # Heartbeats on a connection of their own: a diff of millions of uids keeps the run's busy for long.
        self._heart_session = _Session(ledger)
        s = self._schema = ledger.schema
        self._cohorts = f'"{s}".moengage_ledger_cohorts'
        self._members = f'"{s}".moengage_ledger_members'
        self._intents = f'"{s}".moengage_ledger_intents'
        self._doubts_upto = 0  # intents of earlier runs, up to this id, were re-sent by this run's diff
        self._id: int | None = None
        self._staged = False
        self._tables: dict[str, str | None] = {"add": None, "remove": None}
        # The record held no row and no doubt at the diff: this run's confirmations are of disjoint batches
        # of new uids, so they are COPYed in, without a conflict check (2x faster).
        self._fresh = False

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
        try:
            await self._session.close()
        finally:
            try:
                await self._diff_session.close()
            finally:
                await self._heart_session.close()

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

        return await self._heart_session.call(beat)

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

        await self._diff_session.call(stage)

    async def diff(self, *, fresh_from: int) -> DiffCounts:
        """Dedupe the staged list and anti-join it with the record, both ways, on the server."""

        async def keyed(conn: Any, name: str, select: str, *args: Any, index: bool = True) -> int:
            # Filled unindexed, then indexed in one sorted pass: far faster than inserting into a key.
            count = _count(await conn.execute(f"CREATE TEMP TABLE {name} AS {select}", *args))
            if index:  # for the pages read from it (the joins below hash it whole)
                await conn.execute(f"CREATE UNIQUE INDEX ON {name} (uid)")
            await conn.execute(f"ANALYZE {name}")  # autovacuum never analyses temporary tables
            return count

        async def diff(conn: Any) -> DiffCounts:
            if self._id is not None:
                self._doubts_upto = await conn.fetchval(
                    f"SELECT coalesce(max(id), 0) FROM {self._intents} WHERE cohort = $1", self._id
                )
            empty = self._id is None or (
                self._doubts_upto == 0
                and await conn.fetchval(f"SELECT 1 FROM {self._members} WHERE cohort = $1 LIMIT 1", self._id) is None
            )
            staged = (
                "SELECT DISTINCT uid FROM moengage_staged"
                if self._staged
                else 'SELECT NULL::text COLLATE "C" AS uid WHERE false'
            )
            desired = await keyed(conn, "moengage_desired", staged, index=empty)  # paged when all is to add
            if self._staged:
                await conn.execute("DROP TABLE moengage_staged")
                self._staged = False
            if empty:
                self._fresh = True
                self._tables = {"add": "moengage_desired", "remove": None}
                return DiffCounts(desired, desired, 0)
            # Fresh statistics, so that the joins below (and every confirmation's lookups) use the key.
            await conn.execute(f"ANALYZE {self._members}")
            await keyed(
                conn,
                "moengage_doubt",
                f"SELECT DISTINCT u AS uid FROM {self._intents} AS i, unnest(i.uids) AS u "
                "WHERE i.cohort = $1 AND i.id <= $2",
                self._id,
                self._doubts_upto,
            )
            # Plain anti-joins (PostgreSQL runs them as hash or merge joins over whole tables); the doubts, a
            # few batches at most, are added by a UNION rather than an OR that would defeat the join.
            to_add = await keyed(
                conn,
                "moengage_to_add",
                "SELECT d.uid FROM moengage_desired AS d WHERE NOT EXISTS "
                f"(SELECT 1 FROM {self._members} AS m WHERE m.cohort = $1 AND m.uid = d.uid AND m.gen >= $2) "
                "UNION SELECT x.uid FROM moengage_doubt AS x JOIN moengage_desired AS d ON d.uid = x.uid",
                self._id,
                fresh_from,
            )
            to_remove = await keyed(
                conn,
                "moengage_to_remove",
                f"SELECT m.uid FROM {self._members} AS m WHERE m.cohort = $1 "
                "AND NOT EXISTS (SELECT 1 FROM moengage_desired AS d WHERE d.uid = m.uid) "
                "UNION SELECT x.uid FROM moengage_doubt AS x "
                "WHERE NOT EXISTS (SELECT 1 FROM moengage_desired AS d WHERE d.uid = x.uid)",
                self._id,
            )
            self._tables = {"add": "moengage_to_add", "remove": "moengage_to_remove"}
            return DiffCounts(desired, to_add, to_remove)

        return await self._diff_session.call(diff)

    async def chunks(self, side: LedgerSide, size: int) -> AsyncIterator[list[str]]:
        """Page through one side of the diff in uid order (each page is one short query)."""
        table = self._tables[side]
        if table is None:
            return
        last = ""
        while True:

            async def page(conn: Any, after: str = last) -> list[str]:
                # One array per page: the driver decodes it in C, no record per uid.
                uids = await conn.fetchval(
                    f"SELECT array_agg(uid ORDER BY uid) FROM (SELECT uid FROM {table} WHERE uid > $1 "
                    "ORDER BY uid LIMIT $2) AS page",
                    after,
                    size,
                )
                return list(uids or ())

            uids = await self._diff_session.call(page)
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
                if push:
                    # A confirmation need not survive a crash of the server: lost, its uids stay in doubt (the
                    # intent, committed before the request was sent, is durable) and the next sync re-sends
                    # them. Not waiting for its WAL flush halves the flushes of a push; the next intent's
                    # commit flushes it anyway (the WAL is written in order).
                    await conn.execute("SET LOCAL synchronous_commit TO OFF")
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
        """Record one batch as in doubt: one row holding its uids, written before it is sent."""
        values = list(uids)

        async def intend(conn: Any) -> tuple[int, int]:
            await conn.execute(
                f"INSERT INTO {self._intents} (cohort, run, side, first_uid, last_uid, members, uids) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                self._id,
                self.me.token,
                side,
                min(values),
                max(values),
                len(values),
                values,
            )
            return 0, len(values)

        await self._write(intend, push=False)

    async def _settle_intent(self, conn: Any, side: LedgerSide, uids: list[str]) -> int:
        """Take ``uids`` out of this run's intent that holds them; return how many it held."""
        row = await conn.fetchrow(
            f"SELECT id, members FROM {self._intents} WHERE cohort = $1 AND run = $2 AND side = $3 "
            "AND first_uid <= $4 AND last_uid >= $4 ORDER BY first_uid DESC LIMIT 1",
            self._id,
            self.me.token,
            side,
            min(uids),
        )
        if row is None:
            return 0
        if row["members"] == len(uids):  # the whole batch was accepted (no 413 split): the common case
            await conn.execute(f"DELETE FROM {self._intents} WHERE id = $1", row["id"])
            return len(uids)
        held = await conn.fetchval(f"SELECT uids FROM {self._intents} WHERE id = $1", row["id"])
        rest = sorted(set(held).difference(uids))
        if rest:
            await conn.execute(
                f"UPDATE {self._intents} SET members = $1, uids = $2, first_uid = $3, last_uid = $4 WHERE id = $5",
                len(rest),
                rest,
                rest[0],
                rest[-1],
                row["id"],
            )
        else:
            await conn.execute(f"DELETE FROM {self._intents} WHERE id = $1", row["id"])
        return len(held) - len(rest)

    async def confirm(self, side: LedgerSide, uids: Sequence[str], gen: int) -> None:
        """Settle ``uids``: insert (stamping ``gen``) or delete their rows and clear them from the intent."""
        values = list(uids)

        async def confirm(conn: Any) -> tuple[int, int]:
            if side == "add" and self._fresh:
                await conn.copy_records_to_table(
                    "moengage_ledger_members",
                    schema_name=self._schema,
                    records=zip(itertools.repeat(self._id), values, itertools.repeat(gen)),
                    columns=["cohort", "uid", "gen"],
                )
                changed = len(values)
            elif side == "add":
                changed = _count(
                    await conn.execute(
                        f"INSERT INTO {self._members} (cohort, uid, gen) SELECT $1, u, $2 FROM unnest($3::text[]) "
                        "AS u ON CONFLICT (cohort, uid) DO NOTHING",
                        self._id,
                        gen,
                        values,
                    )
                )
                if changed != len(values):  # some were there already (a refresh re-sends them): restamp
                    await conn.execute(
                        f"UPDATE {self._members} AS m SET gen = $1 FROM unnest($3::text[]) AS u(uid) "
                        "WHERE m.cohort = $2 AND m.uid = u.uid AND m.gen < $1",
                        gen,
                        self._id,
                        values,
                    )
            else:
                changed = -_count(
                    await conn.execute(
                        f"DELETE FROM {self._members} AS m USING unnest($2::text[]) AS u(uid) "
                        "WHERE m.cohort = $1 AND m.uid = u.uid",
                        self._id,
                        values,
                    )
                )
            return changed, -await self._settle_intent(conn, side, values)

        await self._write(confirm, push=True)

    async def resolve_doubts(self) -> None:
        """Drop the intents of earlier runs that this run's diff re-sent (call once all its changes settled)."""

        async def resolve(conn: Any) -> tuple[int, int]:
            held = await conn.fetchval(
                f"WITH gone AS (DELETE FROM {self._intents} WHERE cohort = $1 AND id <= $2 AND run <> $3 "
                "RETURNING members) SELECT coalesce(sum(members), 0) FROM gone",
                self._id,
                self._doubts_upto,
                self.me.token,
            )
            return 0, -int(held)

        if self._doubts_upto:
            await self._write(resolve, push=False)

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
            # Temporary tables live in per-session buffers (8 MB by default): a diff of millions of uids
            # needs more, or every page goes to disk. Both are caps, allocated only as used.
            conn = await asyncpg.connect(
                self._dsn,
                timeout=self.connect_timeout,
                server_settings={"temp_buffers": "256MB", "work_mem": "64MB"},
            )
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
        asyncpg = _asyncpg()
        try:
            version = await self._stored_version(conn)
            if version is not None and version >= SCHEMA_VERSION:
                # Tables in place: no DDL at all, so a role that may only read and write them works (even
                # CREATE ... IF NOT EXISTS needs the privilege to create).
                self._check_version(version)
                return
            await self._create_tables(conn)
        except asyncpg.PostgresError as exc:
            raise LedgerError(
                f"cannot create or check the ledger's tables in {self.describe()} (schema {self.schema}): "
                f"{type(exc).__name__}: {exc}. The first use needs a role that may create them there."
            ) from exc

    async def _stored_version(self, conn: Any) -> int | None:
        """The schema version recorded in the ledger's tables, or None if they do not exist yet."""
        table = f'"{self.schema}".moengage_ledger_schema'
        if await conn.fetchval("SELECT to_regclass($1)", table) is None:
            return None
        version = await conn.fetchval(f"SELECT max(version) FROM {table}")
        return None if version is None else int(version)

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"the ledger {self.describe()} (schema {self.schema}) has schema version {version}, newer than "
                f"this moengage-segments understands ({SCHEMA_VERSION}): upgrade moengage-segments"
            )

    async def _create_tables(self, conn: Any) -> None:
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
            else:
                self._check_version(version)

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
                await conn.execute(f'DELETE FROM "{self.schema}".moengage_ledger_intents WHERE cohort = $1', row[0])
                await conn.execute(f"DELETE FROM {cohorts} WHERE id = $1", row[0])
                return True

        return await self._admin(forget)
