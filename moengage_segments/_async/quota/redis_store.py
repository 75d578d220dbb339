"""The Redis quota store: one quota per workspace for every process on every host.

Each acquire is one Lua script, run atomically by Redis over *all* windows of a family: check every window
and the shared pause, then record the request or report the wait, on the Redis server's clock (``TIME``),
so the hosts' clocks never matter. Keys expire with their longest window.

Why not the ``limits`` package (whose moving window on Redis is the same log idea): its ``hit`` takes one
window at a time, so a family with a minute, an hour and a day window would take the minute slot and then
fail the hour (or race between the two); it stamps entries with the caller's clock; and it answers yes/no,
so a waiter would have to poll. This script checks every window in one step, uses the server's clock and
returns how long to wait, so a waiting process sleeps until its slot.

When Redis is unreachable or slower than ``timeout``, the store logs one WARNING and paces this process
alone, with a share of each window, until Redis answers again (tried every ``retry_interval`` seconds):
a push never stops or hangs because of the store. The slots taken alone meanwhile are then merged into
Redis, so the other pushers count them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from moengage_segments._async.quota.base import horizon, longest_limit, safe_url
from moengage_segments._async.quota.memory import InProcessQuotaStore
from moengage_segments.config import Window, describe_value
from moengage_segments.errors import ConfigurationError

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

__all__ = ["RedisQuotaStore"]

logger = logging.getLogger("moengage_segments")

#: KEYS: log (newest first), pause, peers, shape (the most entries and longest span any sharer needs).
#: ARGV: margin, peer id, then limit, period for each window.
#: Returns {wait as a string (0 = the slot was taken), pushers seen in the last minute, the entry taken}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[3], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - 60)
redis.call('EXPIRE', KEYS[3], 120)
local peers = redis.call('ZCARD', KEYS[3])
local margin = tonumber(ARGV[1])
local wait = 0
local paused = redis.call('GET', KEYS[2])
if paused then wait = tonumber(paused) - now end
local keep, span = 0, 0
for i = 3, #ARGV, 2 do
  local limit, period = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if limit > keep then keep = limit end
  if period > span then span = period end
  local entry = redis.call('LINDEX', KEYS[1], limit - 1)
  if entry and tonumber(entry) + period + margin - now > wait then
    wait = tonumber(entry) + period + margin - now
  end
end
if wait > 0 then return {tostring(wait), peers} end
if keep > 0 then
  -- Sharers may ask with different windows: keep what the longest window any of them uses needs.
  local shape = redis.call('HMGET', KEYS[4], 'keep', 'span')
  keep = math.max(keep, tonumber(shape[1]) or 0)
  span = math.max(span + margin, tonumber(shape[2]) or 0)
  local ttl = math.ceil(span * 1000)
  redis.call('HSET', KEYS[4], 'keep', tostring(keep), 'span', string.format('%.6f', span))
  redis.call('PEXPIRE', KEYS[4], ttl)
  local stamp = string.format('%.6f', now)
  redis.call('LPUSH', KEYS[1], stamp)
  redis.call('LTRIM', KEYS[1], 0, keep - 1)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {'0', peers, stamp}
end
return {'0', peers}
"""

#: KEYS: log. ARGV: the entry a cancelled caller's acquire added. Gives its slot back.
_GIVE_BACK = """
return redis.call('LREM', KEYS[1], 1, ARGV[1])
"""

#: KEYS: pause. ARGV: seconds. Keeps the later of the current pause and now + seconds.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local seconds = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + seconds > current then
  redis.call('SET', KEYS[1], string.format('%.6f', now + seconds), 'PX', math.ceil(seconds * 1000) + 1000)
end
return 1
"""

#: KEYS: log, shape. ARGV: the asker's limit and span, then the ages (seconds) of slots taken while Redis was
#: away. Merges them into the log, newest first, so that every sharer counts them.
_MERGE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local shape = redis.call('HMGET', KEYS[2], 'keep', 'span')
local keep = math.max(tonumber(ARGV[1]), tonumber(shape[1]) or 0)
local span = math.max(tonumber(ARGV[2]), tonumber(shape[2]) or 0)
local times = {}
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do table.insert(times, tonumber(entry)) end
for i = 3, #ARGV do
  local age = tonumber(ARGV[i])
  if age < span then table.insert(times, now - age) end
end
table.sort(times, function(a, b) return a > b end)
redis.call('DEL', KEYS[1])
for i = 1, math.min(#times, keep) do redis.call('RPUSH', KEYS[1], string.format('%.6f', times[i])) end
local ttl = math.ceil(span * 1000)
redis.call('HSET', KEYS[2], 'keep', tostring(keep), 'span', string.format('%.6f', span))
redis.call('PEXPIRE', KEYS[2], ttl)
if #times > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""

_OPTIONS = ("prefix", "timeout", "fallback_share", "retry_interval")


class RedisQuotaStore:
    """Rate-limit state in Redis: every process on every host that uses it shares one quota per workspace.

    ``url`` is a ``redis://`` (or ``rediss://``) URL; options may also be given as its query parameters
    (``redis://host:6379/0?prefix=app:quota:&fallback_share=0.25``). ``prefix`` starts every key;
    ``timeout`` bounds each call to Redis; ``fallback_share`` is the share of each window this process uses
    alone while Redis is unreachable (default: an equal share among the pushers Redis last saw, or all of
    it if Redis never answered); ``retry_interval`` is how often Redis is tried again meanwhile.

    Needs the ``redis`` package: ``pip install 'moengage-segments[redis]'``.

    Example::

        store = RedisQuotaStore("redis://quota.internal:6379/0", fallback_share=0.25)
        async with AsyncClient(quota=store) as client:   # or quota="redis://quota.internal:6379/0"
            ...
        await store.aclose()
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str | None = None,
        timeout: float | None = None,
        fallback_share: float | None = None,
        retry_interval: float | None = None,
    ) -> None:
        try:
            import redis.asyncio  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                "quota: a redis:// quota store needs the redis package: pip install 'moengage-segments[redis]'"
            ) from None
        url, options = _split_options(url)
        from redis.asyncio.connection import parse_url

        try:  # a URL redis-py cannot read fails here, not at the first request of a push
            parse_url(url)
            unreadable = False
        except ValueError:
            unreadable = True
        if unreadable:
            # Not echoed (nor redis-py's message, raised outside the except block so it is not the context):
            # "redis://host:KEY/0" puts a secret where the port goes.
            raise ConfigurationError(
                f"quota: unusable Redis URL ({describe_value(url)}); expected "
                "redis://[:password@]host[:port][/db] with a numeric port and db"
            )
        self.url = url
        self.prefix = prefix if prefix is not None else options.get("prefix", "moengage:quota:")
        self.timeout = _positive("timeout", timeout if timeout is not None else options.get("timeout", 0.25))
        self.retry_interval = _positive(
            "retry_interval", retry_interval if retry_interval is not None else options.get("retry_interval", 5.0)
        )
        share = fallback_share if fallback_share is not None else options.get("fallback_share")
        self.fallback_share = None if share is None else _share(share)
        self._peer = uuid.uuid4().hex
        # redis-py's asyncio connections belong to one loop: one client (and its two scripts) per loop.
        self._scripts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Scripts] = weakref.WeakKeyDictionary()
        self._local = InProcessQuotaStore()
        # Slots taken alone while Redis was away (monotonic times), with the limit and span they were taken
        # under: put into Redis once it answers, so the other pushers count them too.
        self._unshared: dict[str, tuple[deque[float], int, float]] = {}
        self._unshared_lock = threading.Lock()  # held for microseconds, never across an await
        self._giving_back: set[asyncio.Future[Any]] = set()
        self._peers = 0  # pushers Redis last reported for a key (0: never answered)
        self._down_until = 0.0  # while degraded: when to try Redis again (monotonic)
        self._degraded = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<RedisQuotaStore {self._safe_url()} prefix={self.prefix!r}>"

    @property
    def degraded(self) -> bool:
        """True while Redis is unreachable and this process paces itself alone.

        Example::

            if store.degraded:
                print("pacing locally until Redis answers again")
        """
        return self._degraded

    async def acquire(self, key: str, windows: Sequence[Window], margin: float) -> float:
        """Take a slot and return 0.0, or return the seconds until one may be free (one script run).

        Example::

            wait = await store.acquire("api-01.moengage.com/WS/cohort", RateLimits().cohort, 0.25)
        """
        if self._use_redis() and await self._share_unshared():
            args: list[Any] = [repr(margin), self._peer]
            for window in windows:
                args += [window.limit, repr(window.period)]
            keys = [self._key(key, part) for part in ("log", "pause", "peers", "shape")]
            call = asyncio.ensure_future(self._call("acquire", keys, args))
            try:
                reply = await asyncio.shield(call)
            except asyncio.CancelledError:
                # Redis may run the script all the same: a slot it takes for a caller that has gone is given back.
                call.add_done_callback(functools.partial(self._give_back, keys[0]))
                raise
            if reply is not None:
                wait, self._peers = float(reply[0]), int(reply[1])
                if wait <= 0:
                    # Remember our own requests here too: if Redis goes away, local pacing starts from them.
                    self._local.record(key, windows)
                return max(wait, 0.0)
        wait = self._local.take(key, self._fallback(windows), margin)
        if wait <= 0 and windows:
            self._remember_unshared(key, windows, margin)
        return wait

    async def pause(self, key: str, seconds: float) -> None:
        """Hold ``key`` for ``seconds`` from now, for every process using this Redis.

        Example::

            await store.pause("api-01.moengage.com/WS/cohort", 10.0)
        """
        await self._local.pause(key, seconds)  # also held here, should Redis fail before it expires
        if self._use_redis():
            await self._call("pause", [self._key(key, "pause")], [repr(seconds)])

    async def aclose(self) -> None:
        """Close this event loop's connections (others are closed on their own loops); idempotent.

        Example::

            await store.aclose()
        """
        self._closed = True
        loop = asyncio.get_running_loop()
        scripts, self._scripts = dict(self._scripts), weakref.WeakKeyDictionary()
        for owner, those in scripts.items():
            if owner is loop:
                await those.client.aclose()
            elif owner.is_running() and not owner.is_closed():
                asyncio.run_coroutine_threadsafe(those.client.aclose(), owner)

    # --- internals -------------------------------------------------------------------------------------
    def _give_back(self, log: str, call: asyncio.Future[Any]) -> None:
        if call.cancelled() or call.exception() is not None:
            return
        reply = call.result()
        if reply is None or len(reply) < 3:  # no slot was taken
            return
        task = asyncio.ensure_future(self._call("give_back", [log], [reply[2]]))
        self._giving_back.add(task)  # a reference, so that the task is not collected before it runs
        task.add_done_callback(self._giving_back.discard)

    def _remember_unshared(self, key: str, windows: Sequence[Window], margin: float) -> None:
        with self._unshared_lock:
            times, keep, span = self._unshared.get(key) or (deque[float](), 0, 0.0)
            keep, span = max(keep, longest_limit(windows)), max(span, horizon(windows, margin))
            times = deque(times, maxlen=keep)
            times.append(time.monotonic())
            self._unshared[key] = (times, keep, span)

    async def _share_unshared(self) -> bool:
        """Put the slots taken alone while Redis was away into Redis; False when it does not answer."""
        with self._unshared_lock:
            pending = [(key, list(times), keep, span) for key, (times, keep, span) in self._unshared.items()]
        for key, sent, keep, span in pending:
            now = time.monotonic()
            args = [keep, repr(span), *(repr(now - t) for t in sent)]
            if await self._call("merge", [self._key(key, "log"), self._key(key, "shape")], args) is None:
                return False
            shared = set(sent)
            with self._unshared_lock:  # keep what another loop added meanwhile
                times, keep, span = self._unshared.pop(key, (deque[float](), 0, 0.0))
                left = deque((t for t in times if t not in shared), maxlen=keep)
                if left:
                    self._unshared[key] = (left, keep, span)
        return True

    def _key(self, key: str, part: str) -> str:
        # The braces keep a key's three parts in one Redis Cluster slot (a script may only touch one).
        return f"{self.prefix}{{{key}}}:{part}"

    def _use_redis(self) -> bool:
        return not self._closed and (not self._degraded or time.monotonic() >= self._down_until)

    async def _call(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run a script; on failure switch to local pacing (one WARNING per outage) and return None."""
        import redis

        try:
            script: AsyncScript = getattr(self._loop_scripts(), name)
            reply = await asyncio.wait_for(script(keys=keys, args=args), self.timeout)
        except (redis.RedisError, OSError, asyncio.TimeoutError) as exc:
            self._down_until = time.monotonic() + self.retry_interval
            self._degraded = True
            if _outage_begins(self.url):  # once per outage, however many stores (clients) use the URL
                logger.warning(
                    "quota store %s is unreachable (%s); pacing this process alone at %.0f%% of the quota "
                    "until it answers again",
                    self._safe_url(),
                    _describe(exc),
                    self._share() * 100,
                )
            return None
        self._degraded = False
        if self.url in _OUTAGES and _outage_ends(self.url):
            logger.info("quota store %s answers again; sharing the quota through it", self._safe_url())
        return reply

    def _loop_scripts(self) -> _Scripts:
        loop = asyncio.get_running_loop()
        scripts = self._scripts.get(loop)
        if scripts is None:
            scripts = self._scripts[loop] = _Scripts(self.url, self.timeout)
        return scripts

    def _share(self) -> float:
        if self.fallback_share is not None:
            return self.fallback_share
        return 1.0 / self._peers if self._peers > 0 else 1.0

    def _fallback(self, windows: Sequence[Window]) -> tuple[Window, ...]:
        share = self._share()
        return tuple(Window(max(1, math.floor(w.limit * share)), w.period) for w in windows)

    def _safe_url(self) -> str:
        return safe_url(self.url)


class _Scripts:
    """One loop's Redis client and the two scripts, sent once and then run by their SHA."""

    def __init__(self, url: str, timeout: float) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # No retries inside redis-py: a failure must reach the fallback within `timeout`, not after reconnects.
        self.client = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        self.acquire = self.client.register_script(_ACQUIRE)
        self.pause = self.client.register_script(_PAUSE)
        self.merge = self.client.register_script(_MERGE)
        self.give_back = self.client.register_script(_GIVE_BACK)


#: Redis URLs this process has logged as unreachable and not yet as answering again.
_OUTAGES: set[str] = set()
_OUTAGES_LOCK = threading.Lock()


def _forget_outages_after_fork() -> None:
    # A thread of the parent may have held the lock at fork(); the child logs its own outages.
    global _OUTAGES_LOCK
    _OUTAGES_LOCK = threading.Lock()
    _OUTAGES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_outages_after_fork)


def _outage_begins(url: str) -> bool:
    """True for the first store to find ``url`` unreachable since it last answered: that one logs it."""
    with _OUTAGES_LOCK:
        first = url not in _OUTAGES
        _OUTAGES.add(url)
        return first


def _outage_ends(url: str) -> bool:
    """True for the first store to find ``url`` answering again after a logged outage."""
    with _OUTAGES_LOCK:
        logged = url in _OUTAGES
        _OUTAGES.discard(url)
        return logged


def _split_options(url: str) -> tuple[str, dict[str, str]]:
    """The URL without this store's own query parameters, and those parameters."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in query if k in _OPTIONS}
    rest = urlencode([(k, v) for k, v in query if k not in _OPTIONS])
    return parts._replace(query=rest).geturl(), ours


def _positive(name: str, value: float | str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not number > 0 or math.isinf(number):
        raise ConfigurationError(f"quota: {name} must be a positive number of seconds, got {value!r}")
    return number


def _share(value: float | str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0 < number <= 1:
        raise ConfigurationError(f"quota: fallback_share must be more than 0 and at most 1, got {value!r}")
    return number


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
