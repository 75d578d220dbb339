"""The Redis quota store: one atomic script over all windows, the server's clock, shared pauses, and a push
that survives Redis going away.

The shared Redis (``require_redis``) is used with a key prefix of each test's own; tests that stop Redis
start a server of their own (``own_redis_server``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from moengage_segments import AsyncClient, RedisQuotaStore, Window
from moengage_segments._async.quota import open_quota
from moengage_segments.errors import ConfigurationError
from moengage_segments.testing import Emulator
from tests._services import RedisServer, own_redis_server, require_redis, unique_name
from tests.quota._support import (
    COHORT,
    MP_LIMIT,
    MP_REQUESTS_EACH,
    SCALE,
    SMALL_BODY,
    quota_share,
    requests_per_client,
    run_pushers,
    scaled_limits,
    uids_for,
)

KEY = "host/WS/cohort"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own on the shared Redis; its keys are deleted afterwards."""
    url = require_redis()
    name = unique_name("mq") + ":"
    yield name
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    keys = [key async for key in client.scan_iter(match=name + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def store(prefix: str, **options: object) -> RedisQuotaStore:
    return RedisQuotaStore(require_redis(), prefix=prefix, **options)  # type: ignore[arg-type]


async def test_two_stores_share_every_window_in_one_step(prefix: str) -> None:
    one, two = store(prefix), store(prefix)
    windows = (Window(5, 60), Window(2, 3600))
    try:
        assert [await one.acquire(KEY, windows, 0.0), await two.acquire(KEY, windows, 0.0)] == [0.0, 0.0]
        wait = await one.acquire(KEY, windows, 0.0)
        assert 3590 < wait <= 3600  # the hour is full...
        client = one._loop_scripts().client
        assert await client.llen(f"{prefix}{{{KEY}}}:log") == 2  # ...and the minute slot was not taken
        assert await two.acquire("host/WS/list", windows, 0.0) == 0.0  # other keys are apart
    finally:
        await one.aclose()
        await two.aclose()


async def test_concurrent_acquires_never_take_more_than_the_window(prefix: str) -> None:
    stores = [store(prefix) for _ in range(5)]
    try:
        waits = await asyncio.gather(*(s.acquire(KEY, (Window(20, 60),), 0.0) for s in stores for _ in range(10)))
        assert waits.count(0.0) == 20
    finally:
        for s in stores:
            await s.aclose()


async def test_a_pause_is_shared_and_keys_expire_on_their_own(prefix: str) -> None:
    one, two = store(prefix), store(prefix)
    try:
        await one.acquire(KEY, (Window(3, 60),), 0.25)
        await one.pause(KEY, 30.0)
        await one.pause(KEY, 5.0)  # a shorter pause does not cut a longer one
        assert 29 < await two.acquire(KEY, (Window(3, 60),), 0.25) <= 30
        client = one._loop_scripts().client
        ttls = {part: await client.pttl(f"{prefix}{{{KEY}}}:{part}") for part in ("log", "pause", "peers", "shape")}
        assert 0 < ttls["log"] <= 60_250 and 0 < ttls["pause"] <= 31_000 and 0 < ttls["peers"] <= 120_000
        assert 0 < ttls["shape"] <= 60_250
    finally:
        await one.aclose()
        await two.aclose()


async def test_waits_are_measured_on_the_redis_server_clock(prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store never reads this host's clock for a window: a host a day ahead gets the same answer."""
    import time

    one = store(prefix)
    try:
        await one.acquire(KEY, (Window(1, 60),), 0.0)
        monkeypatch.setattr(time, "time", lambda: 86_400 * 365 * 100.0)
        assert 59 < await one.acquire(KEY, (Window(1, 60),), 0.0) <= 60
    finally:
        await one.aclose()


def test_redis_urls_and_options() -> None:
    made, owned = open_quota("redis://:pw-secret@127.0.0.1:6379/2?prefix=app:q:&fallback_share=0.25", {})
    assert isinstance(made, RedisQuotaStore) and owned
    assert made.prefix == "app:q:" and made.fallback_share == 0.25 and made.url == "redis://:pw-secret@127.0.0.1:6379/2"
    assert "pw-secret" not in repr(made) and ":***@127.0.0.1" in repr(made)
    in_query = RedisQuotaStore("redis://127.0.0.1:6379/0?password=qs-secret&prefix=a:")  # redis-py reads it too
    assert "qs-secret" not in repr(in_query) and "password=***" in repr(in_query)
    with pytest.raises(ConfigurationError, match="fallback_share must be more than 0 and at most 1"):
        RedisQuotaStore("redis://h/0?fallback_share=2")
    with pytest.raises(ConfigurationError, match="timeout must be a positive number"):
        RedisQuotaStore("redis://h/0", timeout=0)
    for bad in (
        "redis://:pw-secret@127.0.0.1:notaport/0",
        "redis://:pw-secret@h:99999/0",
        "redis://h/0?socket_timeout=x",
    ):
        with pytest.raises(ConfigurationError, match=r"^quota: unusable Redis URL") as caught:  # at once, not mid-push
            open_quota(bad, {})
        assert "pw-secret" not in str(caught.value)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there any more


async def test_unreachable_redis_falls_back_to_local_pacing_with_one_warning(
    closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "moengage_segments")
    down = RedisQuotaStore(f"redis://:pw-secret@127.0.0.1:{closed_port}/0?password=qs-secret", fallback_share=0.5)
    waits = [await asyncio.wait_for(down.acquire(KEY, (Window(8, 60),), 0.0), 5) for _ in range(5)]
    assert waits[:4] == [0.0] * 4 and waits[4] > 59  # half of the window, paced here
    assert down.degraded
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage() and "50%" in warnings[0].getMessage()
    assert "pw-secret" not in caplog.text and "qs-secret" not in caplog.text
    await down.aclose()


async def test_clients_on_one_unreachable_redis_url_warn_once(
    closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Every client given the URL (quota=, MOENGAGE_QUOTA_URL) opens a store of its own: one WARNING still."""
    caplog.set_level(logging.WARNING, "moengage_segments")
    url = f"redis://127.0.0.1:{closed_port}/0"
    stores = [RedisQuotaStore(url), RedisQuotaStore(url)]
    for down in stores:
        assert await asyncio.wait_for(down.acquire(KEY, (Window(8, 60),), 0.0), 5) == 0.0
        assert down.degraded
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    for down in stores:
        await down.aclose()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers (a Redis that hangs)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


async def test_a_redis_slower_than_the_timeout_falls_back_instead_of_hanging(
    silent_server: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "moengage_segments")
    slow = RedisQuotaStore(f"redis://127.0.0.1:{silent_server}/0", timeout=0.1)
    assert await asyncio.wait_for(slow.acquire(KEY, (Window(8, 60),), 0.0), 5) == 0.0
    assert slow.degraded and "TimeoutError" in caplog.text
    await asyncio.wait_for(slow.pause(KEY, 1.0), 5)  # no new wait on Redis before retry_interval
    await slow.aclose()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    with own_redis_server() as server:
        yield server


async def test_redis_is_used_again_once_it_answers(own_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "moengage_segments")
    peers = [RedisQuotaStore(own_redis.url, retry_interval=0.05) for _ in range(4)]
    for peer in peers:  # four pushers seen by Redis: the fallback share is a quarter
        assert await peer.acquire(KEY, (Window(100, 60),), 0.0) == 0.0
    lone = peers[0]
    assert await lone.acquire(KEY, (Window(100, 60),), 0.0) == 0.0  # its latest answer counted four pushers
    own_redis.stop()
    # Alone, it paces at a quarter of the window (8 -> 2) and counts the 2 slots it took through Redis.
    assert await lone.acquire(KEY, (Window(8, 60),), 0.0) > 59
    assert await lone.acquire("host/WS/other", (Window(8, 60),), 0.0) == 0.0
    assert await lone.acquire("host/WS/other", (Window(8, 60),), 0.0) == 0.0
    assert await lone.acquire("host/WS/other", (Window(8, 60),), 0.0) > 59
    own_redis.start()  # empty again: nothing persisted
    await asyncio.sleep(0.1)
    assert await lone.acquire(KEY, (Window(8, 60),), 0.0) == 0.0
    assert not lone.degraded
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unreachable" in m for m in messages) == 1 and sum("answers again;" in m for m in messages) == 1
    for peer in peers:
        await peer.aclose()


@pytest.mark.slow
async def test_redis_stopped_in_the_middle_of_a_push(own_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    """The push completes, with one warning and every uid accepted."""
    caplog.set_level(logging.WARNING, "moengage_segments")
    uids = uids_for("r", 12_000)  # ~450 requests: one and a half scaled windows
    async with Emulator(time_scale=SCALE, accept_any_uid=True) as emu:

        async def stop_redis_midway() -> None:
            while emu.counters.requests < 150:  # noqa: ASYNC110 - the emulator has no event for this
                await asyncio.sleep(0.005)
            await asyncio.to_thread(own_redis.stop)

        async with AsyncClient(
            emu.workspace_id,
            emu.api_key,
            base_url=emu.base_url,
            db_name=emu.db_name,
            rate_limits=scaled_limits(),
            quota=own_redis.url,
        ) as client:
            stopper = asyncio.create_task(stop_redis_midway())
            report = await client.cohorts.add_members(COHORT, uids, max_request_bytes=SMALL_BODY)
            await stopper
            assert client._transport.limiter.store.degraded  # type: ignore[attr-defined]
        assert report.accepted == len(uids) and report.failed == 0 and report.requests > 300
        segment = emu.cohort_segment(COHORT.id)
        assert segment is not None and emu.members(segment.id) == frozenset(uids)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "unreachable" in warnings[0], warnings


@pytest.mark.slow
def test_four_processes_share_one_quota_through_redis(mp_emulator: Emulator, prefix: str) -> None:
    url = f"{require_redis()}?prefix={prefix}"
    results = run_pushers(mp_emulator.base_url, [url] * 4, MP_REQUESTS_EACH)
    assert [r["accepted"] for r in results] == [MP_REQUESTS_EACH] * 4  # two windows' worth
    assert requests_per_client(mp_emulator.requests) == [MP_REQUESTS_EACH] * 4  # each pusher had its part
    assert mp_emulator.counters.rate_limited == 0
    assert quota_share(mp_emulator.requests) >= 0.95


@pytest.mark.slow
def test_clock_skew_between_processes_does_not_matter(mp_emulator: Emulator, prefix: str) -> None:
    """Two pushers whose clocks are two hours apart (one an hour behind, one ahead): Redis's clock decides.

    Together a little more than one window, so the second window is reached: still no 429. (The same two
    pushers on a store that uses the hosts' clocks, SQLite, draw 429s: this test can fail.)
    """
    url = f"{require_redis()}?prefix={prefix}"
    each = MP_LIMIT // 2 + 1
    results = run_pushers(mp_emulator.base_url, [url] * 2, each, offsets=[-3600.0, 3600.0])
    assert [r["accepted"] for r in results] == [each] * 2
    assert mp_emulator.counters.rate_limited == 0


async def test_a_sharer_with_shorter_windows_does_not_erase_a_longer_window(prefix: str) -> None:
    """Trimming and expiry keep what the longest window any sharer asked for needs, not only the asker's."""
    hourly, brief = store(prefix), store(prefix)
    hour = (Window(2, 3600),)
    try:
        assert [await hourly.acquire(KEY, hour, 0.0) for _ in range(2)] == [0.0, 0.0]
        await asyncio.sleep(0.01)
        assert await brief.acquire(KEY, (Window(1, 0.001),), 0.0) == 0.0  # its own window has room
        assert await hourly.acquire(KEY, hour, 0.0) > 3500  # the hour is still full...
        client = hourly._loop_scripts().client
        assert await client.pttl(f"{prefix}{{{KEY}}}:log") > 3_500_000  # ...and kept for the hour
    finally:
        await hourly.aclose()
        await brief.aclose()


async def test_slots_taken_while_redis_was_away_are_put_into_it_once_it_answers(own_redis: RedisServer) -> None:
    """Redis refuses for a while and keeps its data: what one pusher took alone then counts for the others."""
    import redis.asyncio

    admin = redis.asyncio.Redis.from_url(own_redis.url)
    lone = RedisQuotaStore(own_redis.url, retry_interval=0.01, fallback_share=1.0)
    other = RedisQuotaStore(own_redis.url)
    minute = (Window(4, 60),)
    try:
        assert await lone.acquire(KEY, minute, 0.0) == 0.0  # through Redis
        await admin.acl_setuser("default", enabled=True, nopass=True, categories=["+@all", "-@scripting"])
        assert [await lone.acquire(KEY, minute, 0.0) for _ in range(2)] == [0.0, 0.0]  # alone, while refused
        assert lone.degraded
        await admin.acl_setuser("default", enabled=True, nopass=True, categories=["+@all"])
        await asyncio.sleep(0.02)
        assert await lone.acquire("host/WS/list", minute, 0.0) == 0.0  # Redis answers again (another key)
        assert not lone.degraded
        assert await other.acquire(KEY, minute, 0.0) == 0.0  # the window's 4th...
        assert await other.acquire(KEY, minute, 0.0) > 59  # ...and the 5th waits: Redis knows of all four
    finally:
        await admin.acl_setuser("default", reset=False, enabled=True, nopass=True, categories=["+@all"])
        await admin.aclose()
        await lone.aclose()
        await other.aclose()


_BUSY = "local t = redis.call('TIME') local stop = t[1] * 1e6 + t[2] + ARGV[1] * 1e6 repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] >= stop return 1"  # noqa: E501


async def test_an_acquire_cancelled_while_redis_runs_it_takes_no_slot(own_redis: RedisServer) -> None:
    """Redis is busy (another script) while the acquire waits for its answer; the caller is cancelled, then
    Redis runs the acquire: the slot it took is given back."""
    import redis.asyncio

    admin = redis.asyncio.Redis.from_url(own_redis.url)
    pusher = RedisQuotaStore(own_redis.url, timeout=2.0)
    pair = (Window(2, 60),)
    try:
        assert await pusher.acquire(KEY, pair, 0.0) == 0.0  # connected, script loaded
        busy = asyncio.create_task(admin.eval(_BUSY, 0, "0.3"))
        await asyncio.sleep(0.05)
        cancelled = asyncio.create_task(pusher.acquire(KEY, pair, 0.0))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        await busy
        await asyncio.sleep(0.1)
        assert await pusher.acquire(KEY, pair, 0.0) == 0.0  # the window's 2nd: the cancelled call took none
        assert await pusher.acquire(KEY, pair, 0.0) > 59
    finally:
        await admin.aclose()
        await pusher.aclose()
