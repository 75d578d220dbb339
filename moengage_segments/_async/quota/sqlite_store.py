"""The SQLite quota store: one file shared by every process on a host, remembered across runs.

Each acquire is one ``BEGIN IMMEDIATE`` transaction (SQLite's write lock, held across processes), so the
check of every window and the insert are atomic. Times are the host's wall clock (``time.time()``), which
every process on the host shares and which survives restarts, so an hourly or daily window filled by
one run is respected by the next. All file I/O runs on one worker thread per store, never on an event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from moengage_segments._async.quota.base import horizon
from moengage_segments.config import Window
from moengage_segments.errors import QuotaStoreError

__all__ = ["SQLiteQuotaStore"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS moengage_quota_log (key TEXT NOT NULL, t REAL NOT NULL);
CREATE INDEX IF NOT EXISTS moengage_quota_log_key_t ON moengage_quota_log (key, t);
CREATE TABLE IF NOT EXISTS moengage_quota_pause (key TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS moengage_quota_horizon (key TEXT PRIMARY KEY, seconds REAL NOT NULL);
"""


class SQLiteQuotaStore:
    """Rate-limit state in a SQLite file: every process on this host that uses the file shares one quota.

    Use a file on a local disk (SQLite's locking is unreliable on network file systems). ``timeout`` is
    how long an acquire waits for another process's transaction before failing with
    :class:`~moengage_segments.QuotaStoreError`; a corrupt file fails the same way, naming the file.

    Example::

        store = SQLiteQuotaStore("/var/lib/pushers/quota.db")
        async with AsyncClient(quota=store) as client:   # or quota="sqlite:///var/lib/pushers/quota.db"
            ...
        await store.aclose()
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._worker_ident: int | None = None  # the worker thread, once it opened the file
        self._closed = False

    def __repr__(self) -> str:
        return f"<SQLiteQuotaStore {str(self.path)!r}>"

    async def acquire(self, key: str, windows: Sequence[Window], margin: float) -> float:
        """Take a slot and return 0.0, or return the seconds until one may be free (one transaction).

        Example::

            wait = await store.acquire("api-01.moengage.com/WS/file_ops", RateLimits().file_ops, 0.25)
        """
        job = self._worker().submit(self._acquire, key, tuple(windows), margin)
        try:
            wait, _ = await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            # The worker cannot be stopped mid-transaction: a slot it takes for a caller gone is given back.
            job.add_done_callback(self._give_back_unused)
            raise
        return wait

    async def pause(self, key: str, seconds: float) -> None:
        """Hold ``key`` for ``seconds`` from now, for every process using the file.

        Example::

            await store.pause("api-01.moengage.com/WS/cohort", 10.0)
        """
        await self._run(self._pause, key, seconds)

    async def aclose(self) -> None:
        """Close the file and stop the worker thread; idempotent.

        Example::

            await store.aclose()
        """
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._close_connection)
            executor.shutdown(wait=False)

    # --- on the worker thread ---------------------------------------------------------------------------
    def _acquire(self, key: str, windows: tuple[Window, ...], margin: float) -> tuple[float, int | None]:
        """The wait (0.0: taken), and the taken slot's row."""
        conn = self._connection()
        with self._transaction(conn):
            now = time.time()  # read under the lock: timestamps of all processes stay in order
            # A request time in the future means the host clock was set back: it becomes now, so a call
            # waits at most one window, not for as long as the clock moved.
            conn.execute("UPDATE moengage_quota_log SET t = ? WHERE key = ? AND t > ?", (now, key, now))
            row = conn.execute("SELECT until FROM moengage_quota_pause WHERE key = ?", (key,)).fetchone()
            wait = row[0] - now if row else 0.0
            for window in windows:
                row = conn.execute(
                    "SELECT t FROM moengage_quota_log WHERE key = ? ORDER BY t DESC LIMIT 1 OFFSET ?",
                    (key, window.limit - 1),
                ).fetchone()
                if row is not None:
                    wait = max(wait, row[0] + window.period + margin - now)
            if wait > 0:
                return wait, None
            if not windows:
                return 0.0, None
            # Sharers may ask with different windows: keep what the longest window any of them uses needs.
            conn.execute(
                "INSERT INTO moengage_quota_horizon (key, seconds) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET seconds = max(seconds, excluded.seconds)",
                (key, horizon(windows, margin)),
            )
            conn.execute(
                "DELETE FROM moengage_quota_log WHERE key = ? "
                "AND t < ? - (SELECT seconds FROM moengage_quota_horizon WHERE key = ?)",
                (key, now, key),
            )
            row = conn.execute("INSERT INTO moengage_quota_log (key, t) VALUES (?, ?)", (key, now)).lastrowid
            return 0.0, row

    def _give_back_unused(self, job: concurrent.futures.Future[tuple[float, int | None]]) -> None:
        """Delete the slot ``job`` took for a cancelled caller: at once on the worker, else through it."""
        if job.cancelled() or job.exception() is not None or job.result()[1] is None:
            return
        row = job.result()[1]
        if threading.get_ident() == self._worker_ident:  # before the worker runs its next acquire
            self._delete_row(row)
            return
        with self._lock:
            executor = None if self._closed or self._pid != os.getpid() else self._executor
        if executor is not None:
            with contextlib.suppress(RuntimeError):  # shut down meanwhile
                executor.submit(self._delete_row, row)

    def _delete_row(self, row: int | None) -> None:
        try:
            conn = self._connection()
            with self._transaction(conn):
                conn.execute("DELETE FROM moengage_quota_log WHERE rowid = ?", (row,))
        except QuotaStoreError:  # the slot stays taken: a request fewer in this window, nothing worse
            pass

    def _pause(self, key: str, seconds: float) -> None:
        conn = self._connection()
        with self._transaction(conn):
            conn.execute(
                "INSERT INTO moengage_quota_pause (key, until) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET until = max(until, excluded.until)",
                (key, time.time() + seconds),
            )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            except sqlite3.Error as exc:
                raise self._error("cannot be opened", exc) from None
            try:
                conn.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer
                conn.execute("PRAGMA synchronous = NORMAL")  # WAL stays consistent; no fsync per acquire
                conn.executescript(_SCHEMA)
            except sqlite3.Error as exc:
                conn.close()
                raise self._error_for(exc) from None
            self._conn = conn
            self._worker_ident = threading.get_ident()
        return self._conn

    @contextlib.contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` (the write lock, across processes) ... ``COMMIT``; errors name the file."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self._error_for(exc) from None

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _error_for(self, exc: sqlite3.Error) -> QuotaStoreError:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return self._error(f"is locked by another process for more than {self.timeout:g}s", exc)
        if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
            return self._error("is not a usable SQLite database (corrupt, or another kind of file)", exc)
        return self._error("cannot be used", exc)

    def _error(self, what: str, exc: BaseException) -> QuotaStoreError:
        return QuotaStoreError(f"quota store file {str(self.path)!r} {what}: {exc}")

    # --- on the caller's loop ---------------------------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        executor = self._worker()
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    def _worker(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._closed:
                raise QuotaStoreError(f"quota store file {str(self.path)!r} is closed")
            if self._pid != os.getpid():  # forked: the parent's thread and connection are not ours
                self._pid, self._executor, self._conn = os.getpid(), None, None
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="moengage-quota-sqlite")
            return self._executor
