"""The SQLite quota store: one file, every process on the host, windows remembered across runs."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from moengage_segments import AsyncClient, QuotaStoreError, RateLimitError, SQLiteQuotaStore, Window
from moengage_segments._async.quota import open_quota
from moengage_segments.errors import ConfigurationError
from moengage_segments.testing import Emulator
from tests.quota._support import COHORT, MP_REQUESTS_EACH, REPO, quota_share, requests_per_client, run_pushers

KEY = "host/WS/cohort"
MINUTE = (Window(3, 60),)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "quota.db"


async def test_two_stores_on_one_file_share_the_window(db: Path) -> None:
    """Two store objects are two connections, as two processes would have."""
    one, two = SQLiteQuotaStore(db), SQLiteQuotaStore(db)
    try:
        assert [await s.acquire(KEY, MINUTE, 0.0) for s in (one, two, one)] == [0.0, 0.0, 0.0]
        wait = await two.acquire(KEY, MINUTE, 0.0)
        assert 59.0 < wait <= 60.0  # the 4th waits for the first to leave the window
        assert await two.acquire("host/WS/list", MINUTE, 0.0) == 0.0  # other keys are apart
        assert await one.acquire(KEY, (Window(4, 60),), 0.0) == 0.0  # windows are the caller's policy
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_pause_is_shared_through_the_file(db: Path) -> None:
    one, two = SQLiteQuotaStore(db), SQLiteQuotaStore(db)
    try:
        await one.pause(KEY, 30.0)
        await one.pause(KEY, 5.0)  # a shorter pause does not cut a longer one
        assert 29.0 < await two.acquire(KEY, MINUTE, 0.0) <= 30.0
    finally:
        await one.aclose()
        await two.aclose()


async def test_all_windows_are_checked_in_one_step(db: Path) -> None:
    store = SQLiteQuotaStore(db)
    try:
        windows = (Window(5, 60), Window(2, 3600))
        assert [await store.acquire(KEY, windows, 0.0) for _ in range(2)] == [0.0, 0.0]
        assert await store.acquire(KEY, windows, 0.0) > 3500  # the hour is full: the minute slot is not taken
        rows = sqlite3.connect(db).execute("SELECT count(*) FROM moengage_quota_log").fetchone()[0]
        assert rows == 2
    finally:
        await store.aclose()


@pytest.fixture
def corrupt_db(db: Path) -> Path:
    db.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    return db


async def test_a_corrupt_file_is_a_clear_error_naming_it(corrupt_db: Path) -> None:
    db = corrupt_db
    store = SQLiteQuotaStore(db)
    with pytest.raises(QuotaStoreError, match="not a usable SQLite database") as caught:
        await store.acquire(KEY, MINUTE, 0.0)
    assert str(db) in str(caught.value)
    await store.aclose()


async def test_a_push_stops_with_that_error_instead_of_hanging(corrupt_db: Path) -> None:
    async with Emulator(accept_any_uid=True) as emu:
        async with AsyncClient(
            emu.workspace_id, emu.api_key, base_url=emu.base_url, quota=f"sqlite://{corrupt_db}"
        ) as client:
            with pytest.raises(QuotaStoreError, match="not a usable SQLite database"):
                await asyncio.wait_for(client.cohorts.add_members(COHORT, ["u1", "u2"]), 10)
        assert emu.counters.requests == 0  # nothing was sent without a slot


async def test_a_file_locked_too_long_is_a_clear_error_naming_it(db: Path) -> None:
    store = SQLiteQuotaStore(db, timeout=0.2)
    await store.acquire(KEY, MINUTE, 0.0)  # creates the tables
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(QuotaStoreError, match="locked by another process") as caught:
            await store.acquire(KEY, MINUTE, 0.0)
        assert str(db) in str(caught.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert await store.acquire(KEY, MINUTE, 0.0) == 0.0  # usable again once the lock is gone
    await store.aclose()


async def test_waiting_for_the_file_lock_does_not_block_the_event_loop(db: Path) -> None:
    store = SQLiteQuotaStore(db, timeout=5.0)
    await store.acquire(KEY, MINUTE, 0.0)
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    threading.Timer(0.3, lambda: holder.execute("ROLLBACK")).start()
    tick_task = asyncio.create_task(ticker())
    try:
        assert await store.acquire(KEY, MINUTE, 0.0) == 0.0  # waited ~0.3 s for the lock...
        assert ticks >= 10  # ...while the loop kept running other tasks
    finally:
        tick_task.cancel()
        holder.close()
        await store.aclose()


async def test_an_unopenable_path_is_a_clear_error(tmp_path: Path) -> None:
    store = SQLiteQuotaStore(tmp_path)  # a directory
    with pytest.raises(QuotaStoreError, match="cannot be opened") as caught:
        await store.acquire(KEY, MINUTE, 0.0)
    assert str(tmp_path) in str(caught.value)


def test_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, owned = open_quota(f"sqlite://{tmp_path}/q.db", {})
    assert isinstance(store, SQLiteQuotaStore) and owned and store.path == tmp_path / "q.db"
    monkeypatch.chdir(tmp_path)
    store, _ = open_quota("sqlite://relative.db", {})
    assert isinstance(store, SQLiteQuotaStore) and str(store.path) == "relative.db"
    with pytest.raises(ConfigurationError, match="names no file"):
        open_quota("sqlite://", {})
    with pytest.raises(ConfigurationError, match=r"folder of the quota store file .*/missing/q\.db"):
        open_quota(f"sqlite://{tmp_path}/missing/q.db", {})


async def test_a_client_closes_the_store_it_made_but_not_one_it_was_given(db: Path) -> None:
    made = AsyncClient("WS", "key", data_center="01", quota=f"sqlite://{db}")
    store = made._transport.limiter.store
    await store.acquire(KEY, MINUTE, 0.0)
    await made.aclose()
    with pytest.raises(QuotaStoreError, match="is closed"):
        await store.acquire(KEY, MINUTE, 0.0)
    given = SQLiteQuotaStore(db)
    client = AsyncClient("WS", "key", data_center="01", quota=given)
    await client.aclose()
    assert await given.acquire(KEY, MINUTE, 0.0) == 0.0
    await given.aclose()


_FILL_HOUR = """
import asyncio, sys
from moengage_segments import AsyncClient
async def main(base_url, db, file_url):
    async with AsyncClient("EMULATOR_WORKSPACE", "emulator-api-key", base_url=base_url, db_name="emulator_db",
                           quota="sqlite://" + db) as client:
        for i in range(10):
            await client.file_segments.create(f"seg-{i}", file_url=file_url, expiry_days=1)
asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.slow
async def test_an_hourly_window_filled_by_one_process_is_respected_by_the_next(db: Path) -> None:
    async with Emulator(accept_any_uid=True) as emu:
        file_url = emu.host_file("users.csv", ["u1"])
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _FILL_HOUR, emu.base_url, str(db), file_url, cwd=REPO, stderr=subprocess.PIPE
        )
        _, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()[-2000:]
        assert emu.counters.requests_by_endpoint["create_file_segment"] == 10  # the hour's 10 file operations
        async with AsyncClient(
            emu.workspace_id, emu.api_key, base_url=emu.base_url, db_name=emu.db_name, quota=f"sqlite://{db}"
        ) as client:
            with pytest.raises(RateLimitError) as caught:
                await client.file_segments.create("one-too-many", file_url=file_url, expiry_days=1)
        assert caught.value.details["client_side"] is True and caught.value.retry_after > 3000
        assert emu.counters.requests_by_endpoint["create_file_segment"] == 10  # nothing was sent
        assert emu.counters.rate_limited == 0


@pytest.mark.slow
def test_four_processes_share_one_quota_through_a_sqlite_file(mp_emulator: Emulator, db: Path) -> None:
    results = run_pushers(mp_emulator.base_url, [f"sqlite://{db}"] * 4, MP_REQUESTS_EACH)
    assert [r["accepted"] for r in results] == [MP_REQUESTS_EACH] * 4  # two windows' worth
    assert requests_per_client(mp_emulator.requests) == [MP_REQUESTS_EACH] * 4  # each pusher had its part
    assert mp_emulator.counters.rate_limited == 0
    assert quota_share(mp_emulator.requests) >= 0.95


@pytest.mark.slow
def test_four_processes_without_a_shared_store_draw_429s(mp_emulator: Emulator) -> None:
    """The control: each process paces itself alone at the full quota, so together they overrun it.

    Eight requests each (all in flight at once, so no pause can hold any back): 32 for a window of 30.
    """
    run_pushers(mp_emulator.base_url, [None] * 4, 8, no_retry=True)
    assert mp_emulator.counters.rate_limited > 0


async def test_an_acquire_cancelled_while_it_waits_for_the_file_takes_no_slot(db: Path) -> None:
    """The worker thread cannot be stopped mid-transaction: a slot it takes for a cancelled caller is given back."""
    store = SQLiteQuotaStore(db, timeout=5.0)
    await store.acquire(KEY, MINUTE, 0.0)
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        cancelled = asyncio.create_task(store.acquire(KEY, MINUTE, 0.0))
        await asyncio.sleep(0.05)  # the worker waits for the file lock
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert await store.acquire(KEY, MINUTE, 0.0) == 0.0
    assert await store.acquire(KEY, MINUTE, 0.0) == 0.0  # the window's 3rd: the cancelled call's was given back
    await store.aclose()


async def test_a_sharer_with_shorter_windows_does_not_erase_a_longer_window(db: Path) -> None:
    """Pruning keeps what the longest window any sharer asked for needs, not only the asker's."""
    hourly, brief = SQLiteQuotaStore(db), SQLiteQuotaStore(db)
    hour = (Window(2, 3600),)
    try:
        assert [await hourly.acquire(KEY, hour, 0.0) for _ in range(2)] == [0.0, 0.0]
        await asyncio.sleep(0.01)
        assert await brief.acquire(KEY, (Window(5, 0.001),), 0.0) == 0.0  # its own window has room
        assert await hourly.acquire(KEY, hour, 0.0) > 3500  # the hour is still full
    finally:
        await hourly.aclose()
        await brief.aclose()


async def test_a_host_clock_set_back_holds_a_call_for_at_most_one_window(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Times are the host's wall clock: after it is set back an hour, the file's times lie in the future.
    They count as "just now", not as an hour of waiting (which would fail every call meanwhile)."""
    store = SQLiteQuotaStore(db)
    await store.acquire("host/WS/list", MINUTE, 0.0)  # creates the tables
    now = time.time()
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO moengage_quota_log (key, t) VALUES (?, ?)", [(KEY, now + 3600)] * 3)
    try:
        assert 59 < await store.acquire(KEY, MINUTE, 0.25) <= 60.25
        monkeypatch.setattr(time, "time", lambda: now + 61)
        assert await store.acquire(KEY, MINUTE, 0.25) == 0.0  # one window later
    finally:
        await store.aclose()
