"""The embedded ledger: one SQLite file (stdlib ``sqlite3``, WAL), safe for several processes on one host.

Every connection lives on a thread of its own and every call goes through it, so the event loop never
blocks on the database and calls on one connection run in order (a release queued after a confirmation
runs after it, even when the awaiting task was cancelled). Writes take the database's write lock at once
(``BEGIN IMMEDIATE``) and wait up to ``busy_timeout`` for other processes.

The desired list is staged into a connection-private temporary table (unordered appends, then one sorted
copy into a keyed table), and the diff is two merges inside SQLite; nothing of either list is held in
Python beyond one page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
from moengage_segments.errors import LedgerError, LedgerLockedError, ValidationError

__all__ = ["SQLiteLedger"]

T = TypeVar("T")

_COHORTS = "moengage_ledger_cohorts"
_MEMBERS = "moengage_ledger_members"
_VERSION = "moengage_ledger_schema"
_INTENTS = "moengage_ledger_intents"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {_VERSION} (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS {_COHORTS} (
    id INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    cohort_id TEXT NOT NULL,
    members INTEGER NOT NULL DEFAULT 0,
    in_doubt INTEGER NOT NULL DEFAULT 0,
    epoch INTEGER NOT NULL DEFAULT 0,
    refreshing INTEGER,
    last_push REAL,
    last_full_refresh REAL,
    created REAL NOT NULL,
    lock_token TEXT,
    lock_host TEXT,
    lock_pid INTEGER,
    lock_started REAL,
    lock_heartbeat REAL,
    UNIQUE (workspace_id, cohort_id)
);
CREATE TABLE IF NOT EXISTS {_MEMBERS} (
    cohort INTEGER NOT NULL,
    uid TEXT NOT NULL,
    gen INTEGER NOT NULL,
    PRIMARY KEY (cohort, uid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {_INTENTS} (
    id INTEGER PRIMARY KEY,
    cohort INTEGER NOT NULL,
    run TEXT NOT NULL,
    side TEXT NOT NULL,
    first_uid TEXT NOT NULL,
    last_uid TEXT NOT NULL,
    members INTEGER NOT NULL,
    uids TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {_INTENTS}_by_run ON {_INTENTS} (cohort, run, side, first_uid);
"""

#: Page cache of a sync's connection (KiB, as SQLite's negative cache_size), for the main and the temporary
#: tables. The diff and the pushes read and write the tables in key order, so a small cache serves them as
#: fast as 64 MB did (measured at 5 M), and the OS caches the files anyway.
_RUN_CACHE_KIB = 16384
#: SQLite's sorter cuts its input into runs as large as the main page cache and merges them. Runs of a few
#: MB sort in the CPU's caches: the dedupe-and-sort of 5 M uids takes 40% less CPU than with 64 MB runs.
_SORT_RUN_KIB = 4096
_BUSY_TIMEOUT_MS = 30_000


def _entry(row: Sequence[Any]) -> LedgerEntry:
    return entry_from_row(row)


def _json(uids: Sequence[str]) -> str:
    """``uids`` as one JSON array; joined in one C call when none needs escaping (the common case)."""
    text = '","'.join(uids)
    # Printable ASCII without quote or backslash needs no escaping (the separators hold the only quotes).
    if text.isascii() and text.isprintable() and "\\" not in text and text.count('"') == 2 * (len(uids) - 1):
        return f'["{text}"]' if uids else "[]"
    return json.dumps(list(uids), ensure_ascii=False)


class _Connection:
    """One sqlite3 connection, used only from its own thread."""

    def __init__(self, path: str, cache_kib: int | None = None) -> None:
        self.path = path
        self.cache_kib = cache_kib
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="moengage-ledger")
        self._db: sqlite3.Connection | None = None
        self._used = False

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._used = True
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, fn)

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None:
            self._db = self._connect()
        try:
            return fn(self._db)
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.rollback()
            raise LedgerError(f"ledger sqlite:{self.path}: {exc}") from exc
        except BaseException:
            if self._db.in_transaction:
                self._db.rollback()
            raise

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open the ledger sqlite:{self.path}: {exc}") from exc
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # A crash of the process (SIGKILL included) loses nothing committed. A power loss of the host may
            # lose the last commits (WAL without a sync per commit); run a full refresh after one.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            if self.cache_kib:
                # For the main tables and for the temporary ones (the staged list, the diff's sides).
                db.execute(f"PRAGMA cache_size=-{self.cache_kib}")
                db.execute(f"PRAGMA temp.cache_size=-{self.cache_kib}")
                # A sync writes a few hundred KB a request: checkpoint the WAL every ~40 MB, not every 4 MB.
                db.execute("PRAGMA wal_autocheckpoint=10000")
            _create_schema(db, self.path)
        except sqlite3.Error as exc:
            db.close()
            raise LedgerError(f"cannot use the ledger sqlite:{self.path}: {exc}") from exc
        except BaseException:
            db.close()
            raise
        return db

    async def close(self) -> None:
        def close(_: object) -> None:
            db, self._db = self._db, None
            if db is not None:
                db.close()

        try:
            if self._used:  # queued after every call made: closes once they are done
                await asyncio.get_running_loop().run_in_executor(self._executor, close, None)
        finally:
            self._executor.shutdown(wait=False)


def _create_schema(db: sqlite3.Connection, path: str) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA.split(";"):  # not executescript(): it would commit the transaction
            if statement.strip():
                db.execute(statement)
        row = db.execute(f"SELECT max(version) FROM {_VERSION}").fetchone()
        version = row[0] if row else None
        if version is None:
            db.execute(f"INSERT INTO {_VERSION} (version) VALUES (?)", (SCHEMA_VERSION,))
        elif version > SCHEMA_VERSION:
            raise LedgerError(
                f"the ledger sqlite:{path} has schema version {version}, newer than this moengage-segments "
                f"understands ({SCHEMA_VERSION}): upgrade moengage-segments"
            )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


class _SQLiteRun(RunBase):
    def __init__(self, path: str, *args: Any) -> None:
        super().__init__(f"sqlite:{path}", *args)
        self._conn = _Connection(path, _RUN_CACHE_KIB)
        # Heartbeats on a connection of their own: a diff of millions of uids keeps the run's busy for long.
        self._heart_conn = _Connection(path)
        self._id: int | None = None
        self._staged = False
        self._tables: dict[str, str | None] = {"add": None, "remove": None}
        self._doubts_upto = 0  # intents of earlier runs, up to this id, were re-sent by this run's diff
        # (side, first item, last item, length) of a batch -> its least and greatest uid, from intend() to
        # confirm(): comparing every uid of a batch costs more than the ledger's own work for it.
        self._bounds: dict[tuple[str, str, str, int], tuple[str, str]] = {}

    # -- lifecycle primitives ------------------------------------------------------------------------

    async def _open(self) -> None:
        def find(db: sqlite3.Connection) -> int | None:
            row = db.execute(
                f"SELECT id FROM {_COHORTS} WHERE workspace_id = ? AND cohort_id = ?",
                (self.workspace_id, self.cohort_id),
            ).fetchone()
            return None if row is None else int(row[0])

        self._id = await self._conn.call(find)

    async def _close(self) -> None:
        try:
            await self._conn.close()
        finally:
            await self._heart_conn.close()

    async def _claim(self, replace: str | None) -> Holder | None:
        me = self.me

        def claim(db: sqlite3.Connection) -> Holder | None:
            now = time.time()
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                f"INSERT OR IGNORE INTO {_COHORTS} (workspace_id, cohort_id, created) VALUES (?, ?, ?)",
                (self.workspace_id, self.cohort_id, now),
            )
            row = db.execute(
                f"SELECT id, lock_token, lock_host, lock_pid, lock_started, lock_heartbeat FROM {_COHORTS} "
                "WHERE workspace_id = ? AND cohort_id = ?",
                (self.workspace_id, self.cohort_id),
            ).fetchone()
            self._id = int(row[0])
            current = holder_from_row(*row[1:])
            if current is None or current.token == replace:
                db.execute(
                    f"UPDATE {_COHORTS} SET lock_token = ?, lock_host = ?, lock_pid = ?, lock_started = ?, "
                    "lock_heartbeat = ? WHERE id = ?",
                    (me.token, me.host, me.pid, me.started, now, self._id),
                )
                current = None
            db.execute("COMMIT")
            return current

        return await self._conn.call(claim)

    async def _beat(self) -> bool:
        def beat(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                f"UPDATE {_COHORTS} SET lock_heartbeat = ? WHERE id = ? AND lock_token = ?",
                (time.time(), self._id, self.me.token),
            )
            return cursor.rowcount == 1

        return await self._heart_conn.call(beat)

    async def _release(self) -> None:
        def release(db: sqlite3.Connection) -> None:
            db.execute(
                f"UPDATE {_COHORTS} SET lock_token = NULL, lock_host = NULL, lock_pid = NULL, lock_started = NULL, "
                "lock_heartbeat = NULL WHERE id = ? AND lock_token = ?",
                (self._id, self.me.token),
            )

        await self._conn.call(release)

    async def _load(self) -> LedgerEntry | None:
        def load(db: sqlite3.Connection) -> LedgerEntry | None:
            row = db.execute(
                f"SELECT {ENTRY_COLUMNS} FROM {_COHORTS} WHERE workspace_id = ? AND cohort_id = ?",
                (self.workspace_id, self.cohort_id),
            ).fetchone()
            return None if row is None else _entry(row)

        return await self._conn.call(load)

    # -- the diff ------------------------------------------------------------------------------------

    async def stage(self, uids: Sequence[str]) -> None:
        """Append valid uids of the desired list to the staging table (duplicates allowed)."""
        text = _json(uids)

        def stage(db: sqlite3.Connection) -> None:
            if not self._staged:
                db.execute("CREATE TEMP TABLE moengage_staged (uid TEXT NOT NULL)")
                self._staged = True
            db.execute("INSERT INTO temp.moengage_staged (uid) SELECT value FROM json_each(?)", (text,))

        await self._conn.call(stage)

    async def diff(self, *, fresh_from: int) -> DiffCounts:
        """Dedupe the staged list (one sorted copy) and merge it with the record, both ways."""

        def diff(db: sqlite3.Connection) -> DiffCounts:
            db.execute("CREATE TEMP TABLE moengage_desired (uid TEXT PRIMARY KEY) WITHOUT ROWID")
            desired = 0
            if self._staged:
                # Appending unsorted, then copying sorted, is several times faster than inserting a random
                # order into the keyed table directly.
                db.execute(f"PRAGMA main.cache_size=-{_SORT_RUN_KIB}")
                try:
                    desired = db.execute(
                        "INSERT OR IGNORE INTO temp.moengage_desired SELECT uid FROM temp.moengage_staged ORDER BY uid"
                    ).rowcount
                finally:
                    db.execute(f"PRAGMA main.cache_size=-{self._conn.cache_kib or 2000}")
                db.execute("DROP TABLE temp.moengage_staged")
                self._staged = False
            if self._id is not None:
                row = db.execute(f"SELECT max(id) FROM {_INTENTS} WHERE cohort = ?", (self._id,)).fetchone()
                self._doubts_upto = row[0] or 0
            if self._id is None or (
                self._doubts_upto == 0
                and db.execute(f"SELECT 1 FROM {_MEMBERS} WHERE cohort = ? LIMIT 1", (self._id,)).fetchone() is None
            ):
                self._tables = {"add": "moengage_desired", "remove": None}
                return DiffCounts(desired, desired, 0)
            db.execute("CREATE TEMP TABLE moengage_doubt (uid TEXT PRIMARY KEY) WITHOUT ROWID")
            db.execute(
                "INSERT OR IGNORE INTO temp.moengage_doubt SELECT j.value "
                f"FROM {_INTENTS} AS i, json_each(i.uids) AS j WHERE i.cohort = ? AND i.id <= ?",
                (self._id, self._doubts_upto),
            )
            for name in ("moengage_to_add", "moengage_to_remove"):
                db.execute(f"CREATE TEMP TABLE {name} (uid TEXT PRIMARY KEY) WITHOUT ROWID")
            # Both sides of the whole lists are an EXCEPT with ORDER BY, which SQLite runs as a merge of the
            # two tables read in key order: one pass over each, instead of a key lookup per uid (4x faster at
            # 5 M). The uids in doubt (a few batches) are added by lookups.
            # To add: desired without a settled row of a recent enough refresh, or in doubt.
            to_add = db.execute(
                "INSERT INTO temp.moengage_to_add SELECT uid FROM temp.moengage_desired "
                f"EXCEPT SELECT uid FROM {_MEMBERS} WHERE cohort = ? AND gen >= ? ORDER BY 1",
                (self._id, fresh_from),
            ).rowcount
            to_add += db.execute(
                "INSERT OR IGNORE INTO temp.moengage_to_add SELECT uid FROM temp.moengage_doubt AS x "
                "WHERE EXISTS (SELECT 1 FROM temp.moengage_desired AS d WHERE d.uid = x.uid)"
            ).rowcount
            # To remove: rows, and uids in doubt, that are not desired.
            to_remove = db.execute(
                f"INSERT INTO temp.moengage_to_remove SELECT uid FROM {_MEMBERS} WHERE cohort = ? "
                "EXCEPT SELECT uid FROM temp.moengage_desired ORDER BY 1",
                (self._id,),
            ).rowcount
            to_remove += db.execute(
                "INSERT OR IGNORE INTO temp.moengage_to_remove SELECT uid FROM temp.moengage_doubt AS x "
                "WHERE NOT EXISTS (SELECT 1 FROM temp.moengage_desired AS d WHERE d.uid = x.uid)"
            ).rowcount
            self._tables = {"add": "moengage_to_add", "remove": "moengage_to_remove"}
            return DiffCounts(desired, to_add, to_remove)

        return await self._conn.call(diff)

    async def chunks(self, side: LedgerSide, size: int) -> AsyncIterator[list[str]]:
        """Page through one side of the diff in uid order (each page is one short query)."""
        table = self._tables[side]
        if table is None:
            return
        last = ""
        while True:

            def page(db: sqlite3.Connection, after: str = last) -> list[str]:
                # One JSON text per page: decoding it is far cheaper than a row tuple per uid.
                text = db.execute(
                    f"SELECT json_group_array(uid) FROM (SELECT uid FROM temp.{table} WHERE uid > ? "
                    "ORDER BY uid LIMIT ?)",
                    (after, size),
                ).fetchone()[0]
                uids: list[str] = json.loads(text)
                return uids

            uids = await self._conn.call(page)
            if not uids:
                return
            yield uids
            last = uids[-1]

    # -- recording -----------------------------------------------------------------------------------

    def _fence(self, db: sqlite3.Connection, now: float, push: bool) -> None:
        """Inside a write transaction: check the lock is still ours (else roll back and raise)."""
        extra = ", last_push = ?" if push else ""
        cursor = db.execute(
            f"UPDATE {_COHORTS} SET lock_heartbeat = ?{extra} WHERE id = ? AND lock_token = ?",
            (now, now, self._id, self.me.token) if push else (now, self._id, self.me.token),
        )
        if cursor.rowcount != 1:
            raise self.lost()

    async def _write(self, statements: Callable[[sqlite3.Connection], tuple[int, int]], push: bool) -> None:
        """One transaction: fence, run ``statements`` (-> change of members, change of in-doubt), count."""

        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            self._fence(db, time.time(), push=push)
            members, in_doubt = statements(db)
            if members or in_doubt:
                db.execute(
                    f"UPDATE {_COHORTS} SET members = members + ?, in_doubt = in_doubt + ? WHERE id = ?",
                    (members, in_doubt, self._id),
                )
            db.execute("COMMIT")

        await self._conn.call(write)

    def _ends(self, side: LedgerSide, uids: Sequence[str], *, keep: bool) -> tuple[str, str]:
        """The least and greatest of ``uids``; ``keep`` remembers them for the confirmation of the same batch."""
        key = (side, uids[0], uids[-1], len(uids))
        ends = self._bounds.pop(key, None) or (min(uids), max(uids))
        if keep:
            self._bounds[key] = ends
        return ends

    def _source(
        self, db: sqlite3.Connection, side: LedgerSide, uids: Sequence[str], first: str, last: str
    ) -> tuple[str, tuple[Any, ...]]:
        """A SELECT of ``uids`` (one column, ``uid``; ``first`` and ``last`` their ends), with its parameters.

        A batch is cut from pages read in key order, so its uids are usually exactly one key range of the
        diff's table: then the range is selected there, and the uids never travel as JSON (no encoding,
        no parsing, no copy). Anything else is passed as one JSON array.
        """
        table = self._tables[side]
        if table is not None:
            # The uids are distinct and were read from this table, all within [first, last]: they are that
            # whole range when both ends are rows and the range holds as many rows. A count over the range
            # and two key lookups (summing lengths or taking min/max over the range cost 5x more).
            found = db.execute(
                f"SELECT (SELECT count(*) FROM temp.{table} WHERE uid BETWEEN ?1 AND ?2), "
                f"EXISTS (SELECT 1 FROM temp.{table} WHERE uid = ?1), "
                f"EXISTS (SELECT 1 FROM temp.{table} WHERE uid = ?2)",
                (first, last),
            ).fetchone()
            if tuple(found) == (len(uids), 1, 1):
                return f"SELECT uid FROM temp.{table} WHERE uid BETWEEN ? AND ?", (first, last)
        return "SELECT value AS uid FROM json_each(?)", (_json(uids),)

    async def intend(self, side: LedgerSide, uids: Sequence[str], gen: int) -> None:
        """Record one batch as in doubt: one row holding its uids (as JSON), written before it is sent."""
        first, last = self._ends(side, uids, keep=True)

        def intend(db: sqlite3.Connection) -> tuple[int, int]:
            source, args = self._source(db, side, uids, first, last)
            db.execute(
                f"INSERT INTO {_INTENTS} (cohort, run, side, first_uid, last_uid, members, uids) "
                f"SELECT ?, ?, ?, ?, ?, ?, json_group_array(uid) FROM ({source})",
                (self._id, self.me.token, side, first, last, len(uids), *args),
            )
            return 0, len(uids)

        await self._write(intend, push=False)

    def _settle_intent(self, db: sqlite3.Connection, side: LedgerSide, uids: Sequence[str], first: str) -> int:
        """Take ``uids`` (the least: ``first``) out of this run's intent that holds them; return how many it held."""
        row = db.execute(
            f"SELECT id, members, uids FROM {_INTENTS} WHERE cohort = ? AND run = ? AND side = ? "
            "AND first_uid <= ?4 AND last_uid >= ?4 ORDER BY first_uid DESC LIMIT 1",
            (self._id, self.me.token, side, first),
        ).fetchone()
        if row is None:
            return 0
        if row[1] == len(uids):  # the whole batch was accepted (no 413 split): the common case
            db.execute(f"DELETE FROM {_INTENTS} WHERE id = ?", (row[0],))
            return len(uids)
        held = json.loads(row[2])
        rest = sorted(set(held).difference(uids))
        if rest:
            db.execute(
                f"UPDATE {_INTENTS} SET members = ?, uids = ?, first_uid = ?, last_uid = ? WHERE id = ?",
                (len(rest), _json(rest), rest[0], rest[-1], row[0]),
            )
        else:
            db.execute(f"DELETE FROM {_INTENTS} WHERE id = ?", (row[0],))
        return len(held) - len(rest)

    async def confirm(self, side: LedgerSide, uids: Sequence[str], gen: int) -> None:
        """Settle ``uids``: insert (stamping ``gen``) or delete their rows and clear them from the intent."""
        first, last = self._ends(side, uids, keep=False)

        def confirm(db: sqlite3.Connection) -> tuple[int, int]:
            source, args = self._source(db, side, uids, first, last)
            if side == "add":
                changed = db.execute(
                    f"INSERT OR IGNORE INTO {_MEMBERS} (cohort, uid, gen) SELECT ?, uid, ? FROM ({source})",
                    (self._id, gen, *args),
                ).rowcount
                if changed != len(uids):  # some were there already (a refresh re-sends them): restamp
                    db.execute(
                        f"UPDATE {_MEMBERS} SET gen = ? WHERE cohort = ? AND gen < ? AND uid IN ({source})",
                        (gen, self._id, gen, *args),
                    )
            else:
                changed = -db.execute(
                    f"DELETE FROM {_MEMBERS} WHERE cohort = ? AND uid IN ({source})", (self._id, *args)
                ).rowcount
            return changed, -self._settle_intent(db, side, uids, first)

        await self._write(confirm, push=True)

    async def resolve_doubts(self) -> None:
        """Drop the intents of earlier runs that this run's diff re-sent (call once all its changes settled)."""

        def resolve(db: sqlite3.Connection) -> tuple[int, int]:
            held = db.execute(
                f"SELECT coalesce(sum(members), 0) FROM {_INTENTS} WHERE cohort = ? AND id <= ? AND run != ?",
                (self._id, self._doubts_upto, self.me.token),
            ).fetchone()[0]
            db.execute(
                f"DELETE FROM {_INTENTS} WHERE cohort = ? AND id <= ? AND run != ?",
                (self._id, self._doubts_upto, self.me.token),
            )
            return 0, -int(held)

        if self._doubts_upto:
            await self._write(resolve, push=False)

    async def begin_refresh(self) -> int:
        def begin(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")
            self._fence(db, time.time(), push=False)
            db.execute(f"UPDATE {_COHORTS} SET refreshing = coalesce(refreshing, epoch + 1) WHERE id = ?", (self._id,))
            gen = int(db.execute(f"SELECT refreshing FROM {_COHORTS} WHERE id = ?", (self._id,)).fetchone()[0])
            db.execute("COMMIT")
            return gen

        return await self._conn.call(begin)

    async def end_refresh(self) -> None:
        def end(db: sqlite3.Connection) -> None:
            now = time.time()
            db.execute("BEGIN IMMEDIATE")
            self._fence(db, now, push=False)
            db.execute(
                f"UPDATE {_COHORTS} SET epoch = refreshing, refreshing = NULL, last_full_refresh = ? "
                "WHERE id = ? AND refreshing IS NOT NULL",
                (now, self._id),
            )
            db.execute("COMMIT")

        await self._conn.call(end)


class SQLiteLedger:
    """The embedded ledger: a SQLite file holding the confirmed members of any number of cohorts.

    The default for ``cohorts.sync``. Several processes on one host may share the file (WAL mode; each
    cohort has its own lock, so syncs of different cohorts run side by side). The file and its tables are
    created on first use; ``path`` may be ``":memory:"`` only for experiments (nothing survives the run).

    Example::

        ledger = SQLiteLedger("cohorts.db")
        report = await client.cohorts.sync(cohort, read_uids("today.txt"), ledger=ledger)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
            raise ValidationError("ledger", "SQLiteLedger needs a file path")
        self.path = os.fspath(path)
        if not self.path:
            raise ValidationError("ledger", "SQLiteLedger needs a file path")
        if os.path.isdir(self.path):
            raise ValidationError("ledger", f"{self.path!r} is a directory, not a ledger file")

    def __repr__(self) -> str:
        return f"SQLiteLedger({self.path!r})"

    def describe(self) -> str:
        """``sqlite:PATH``.

        Example::

            assert SQLiteLedger("cohorts.db").describe() == "sqlite:cohorts.db"
        """
        return f"sqlite:{self.path}"

    def run(
        self,
        workspace_id: str,
        cohort_id: str,
        *,
        exclusive: bool = True,
        lock_timeout: float = 0.0,
        stale_after: float = DEFAULT_STALE_AFTER,
    ) -> contextlib.AbstractAsyncContextManager[_SQLiteRun]:
        """One sync's view of a cohort's record (used by ``cohorts.sync``).

        Example::

            async with SQLiteLedger("cohorts.db").run("WS", "churn") as run:
                print(run.entry.members)
        """
        return _SQLiteRun(self.path, workspace_id, cohort_id, exclusive, lock_timeout, stale_after)

    async def _admin(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = _Connection(self.path)
        try:
            return await conn.call(fn)
        finally:
            await conn.close()

    async def entries(self, workspace_id: str | None = None) -> list[LedgerEntry]:
        """Every cohort in the ledger (of one workspace, when given), by workspace and cohort id.

        Example::

            for entry in await SQLiteLedger("cohorts.db").entries():
                print(entry.cohort_id, entry.members)
        """

        def entries(db: sqlite3.Connection) -> list[LedgerEntry]:
            where, args = ("WHERE workspace_id = ?", (workspace_id,)) if workspace_id is not None else ("", ())
            rows = db.execute(
                f"SELECT {ENTRY_COLUMNS} FROM {_COHORTS} {where} ORDER BY workspace_id, cohort_id", args
            ).fetchall()
            return [_entry(row) for row in rows]

        return await self._admin(entries)

    async def entry(self, workspace_id: str, cohort_id: str) -> LedgerEntry | None:
        """One cohort's record, or None.

        Example::

            entry = await SQLiteLedger("cohorts.db").entry("WS", "churn")
        """

        def entry(db: sqlite3.Connection) -> LedgerEntry | None:
            row = db.execute(
                f"SELECT {ENTRY_COLUMNS} FROM {_COHORTS} WHERE workspace_id = ? AND cohort_id = ?",
                (workspace_id, cohort_id),
            ).fetchone()
            return None if row is None else _entry(row)

        return await self._admin(entry)

    async def forget(self, workspace_id: str, cohort_id: str) -> bool:
        """Drop a cohort's record; refused (:class:`LedgerLockedError`) while a live sync holds its lock.

        Example::

            await SQLiteLedger("cohorts.db").forget("WS", "churn")
        """

        def forget(db: sqlite3.Connection) -> bool:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                f"SELECT id, lock_token, lock_host, lock_pid, lock_started, lock_heartbeat FROM {_COHORTS} "
                "WHERE workspace_id = ? AND cohort_id = ?",
                (workspace_id, cohort_id),
            ).fetchone()
            if row is None:
                db.execute("COMMIT")
                return False
            holder = holder_from_row(*row[1:])
            if holder is not None and not holder.abandoned(time.time(), DEFAULT_STALE_AFTER):
                raise LedgerLockedError(
                    f"cohort {cohort_id!r} of workspace {workspace_id!r} in {self.describe()} is being synced by "
                    f"{holder.describe()}: not forgotten",
                    holder.describe(),
                )
            db.execute(f"DELETE FROM {_MEMBERS} WHERE cohort = ?", (row[0],))
            db.execute(f"DELETE FROM {_INTENTS} WHERE cohort = ?", (row[0],))
            db.execute(f"DELETE FROM {_COHORTS} WHERE id = ?", (row[0],))
            db.execute("COMMIT")
            return True

        return await self._admin(forget)
