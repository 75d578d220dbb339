"""What ``cohorts.sync`` needs from a store of confirmed cohort membership, and what the stores share.

A ledger keeps, per (workspace id, cohort id), the uids whose add the service confirmed and whose removal
it has not confirmed since. Each backend implements a handful of primitives (claim the lock, stage the
desired list, diff, page through a side of the diff, record a confirmed request); the run's lifecycle
(taking the lock, waiting for it, taking over an abandoned one, heartbeats, releasing it even when the
run is cancelled) lives here, once.

Before a request is sent, its batch is recorded as an *intent* (one row holding the batch's uids): its uids
are in doubt. Only the success answer settles them, in one transaction: an add inserts their member rows,
a removal deletes them, and the intent goes. Whatever else happens to the request (a crash, a cancel, an
ambiguous failure: the service may or may not have applied it) leaves the intent, and the next diff re-sends
every uid in doubt in the direction of the list it is given; once that run has settled all its changes,
it drops those old intents. So the member rows are always a state the service confirmed, and no outcome
the client did not hear can leave a member behind. (One row per batch rather than a flag per uid: the
bookkeeping of a batch is then one row, not thousands.)

Rows carry a generation (``gen``): a full refresh with number ``R`` re-sends every desired uid whose row
has ``gen < R`` and stamps ``R`` on the rows it confirms, so an interrupted refresh resumes where it
stopped instead of starting again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timezone
from typing import Any, Literal, Protocol, TypeVar

import attrs

from moengage_segments.errors import LedgerError, LedgerLockedError, ValidationError

__all__ = [
    "DEFAULT_STALE_AFTER",
    "ENTRY_COLUMNS",
    "SCHEMA_VERSION",
    "DiffCounts",
    "Holder",
    "Ledger",
    "LedgerEntry",
    "LedgerRun",
    "LedgerSide",
    "RunBase",
    "check_lock_options",
]

#: The columns of a cohort's record that :func:`entry_from_row` reads, in order.
ENTRY_COLUMNS = (
    "workspace_id, cohort_id, members, in_doubt, epoch, refreshing, last_push, last_full_refresh, created, "
    "lock_token, lock_host, lock_pid, lock_started, lock_heartbeat"
)
#: The version of the tables a ledger creates; a ledger refuses tables written by a newer version.
SCHEMA_VERSION = 1
#: Seconds without a heartbeat after which a lock holder on another host counts as gone (a holder on this
#: host whose process has exited is gone at once).
DEFAULT_STALE_AFTER = 60.0
#: Seconds between two attempts of a run waiting (``lock_timeout``) for a cohort's lock.
LOCK_POLL = 0.25

LedgerSide = Literal["add", "remove"]
R = TypeVar("R", bound="RunBase")


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


@attrs.frozen
class Holder:
    """The run holding a cohort's lock: a random token, where it runs, since when, its last heartbeat."""

    token: str
    host: str
    pid: int
    started: float
    heartbeat: float

    @classmethod
    def new(cls) -> Holder:
        now = time.time()
        return cls(uuid.uuid4().hex, socket.gethostname(), os.getpid(), now, now)

    def abandoned(self, now: float, stale_after: float) -> bool:
        """True when the holder is certainly or probably gone: its process exited (same host), or silent."""
        if self.host == socket.gethostname() and not _alive(self.pid):
            return True
        return now - self.heartbeat > stale_after

    def describe(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        since = _when(self.started)
        assert since is not None
        return (
            f"pid {self.pid} on {self.host} (since {since:%Y-%m-%d %H:%M:%S} UTC, "
            f"last heartbeat {max(now - self.heartbeat, 0.0):.0f}s ago)"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: it exists
        return True
    return True


@attrs.frozen
class LedgerEntry:
    """What a ledger knows about one cohort.

    ``members`` counts the uids the service confirmed (and whose removal it has not); ``in_doubt`` those
    whose last request got no answer (a crash, a cancel, a failure after which the service may or may not
    have applied it): the next sync re-sends them in the direction of its list. ``last_push`` is the
    time of the last confirmed request, ``last_full_refresh`` the end of the last complete full refresh;
    ``refreshing`` is true while a full refresh has started and not yet completed (the next sync resumes
    it). ``holder`` describes the run holding the cohort's lock, if any.

    Example::

        for entry in await SQLiteLedger("cohorts.db").entries():
            print(entry.cohort_id, entry.members, entry.last_push)
    """

    workspace_id: str
    cohort_id: str
    members: int = 0
    in_doubt: int = 0
    epoch: int = 0
    refreshing: bool = False
    last_push: datetime | None = None
    last_full_refresh: datetime | None = None
    created: datetime | None = None
    holder: str | None = None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (times as ISO 8601 text).

        Example::

            print(json.dumps(entry.to_dict()))
        """
        data = attrs.asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data


def entry_from_row(row: Sequence[Any]) -> LedgerEntry:
    """A :class:`LedgerEntry` from the 14 columns both backends select (see ``ENTRY_COLUMNS``)."""
    workspace_id, cohort_id, members, in_doubt, epoch, refreshing, last_push, last_full_refresh, created = row[:9]
    holder = holder_from_row(*row[9:14])
    return LedgerEntry(
        workspace_id=workspace_id,
        cohort_id=cohort_id,
        members=int(members),
        in_doubt=int(in_doubt),
        epoch=int(epoch),
        refreshing=refreshing is not None,
        last_push=_when(last_push),
        last_full_refresh=_when(last_full_refresh),
        created=_when(created),
        holder=holder.describe() if holder is not None else None,
    )


def holder_from_row(
    token: str | None, host: str | None, pid: int | None, started: float | None, heartbeat: float | None
) -> Holder | None:
    if token is None:
        return None
    return Holder(token, host or "?", int(pid or 0), float(started or 0.0), float(heartbeat or 0.0))


@attrs.frozen
class DiffCounts:
    """Sizes of one diff: distinct desired uids, and how many to add and to remove."""

    desired: int
    to_add: int
    to_remove: int


class LedgerRun(Protocol):
    """One sync's view of one cohort's record; exclusive runs hold the cohort's lock for their lifetime."""

    @property
    def entry(self) -> LedgerEntry:
        """The cohort's record as it was when the run started (or after :meth:`reload`)."""
        ...

    async def stage(self, uids: Sequence[str]) -> None:
        """Add valid uids of the desired list to the run's staging area (duplicates allowed)."""
        ...

    async def diff(self, *, fresh_from: int) -> DiffCounts:
        """Compare the staged list with the record. Rows with ``gen >= fresh_from`` count as present."""
        ...

    def chunks(self, side: LedgerSide, size: int) -> AsyncIterator[list[str]]:
        """The uids to add or to remove, in lists of at most ``size``, in a fixed order."""
        ...

    async def intend(self, side: LedgerSide, uids: Sequence[str], gen: int) -> None:
        """Record a batch about to be sent to add or remove ``uids``: they are in doubt until confirmed.

        ``uids`` (here and in :meth:`confirm`) are one batch (or part of one) cut from :meth:`chunks` of
        ``side``, as the cohort engine sends them."""
        ...

    async def confirm(self, side: LedgerSide, uids: Sequence[str], gen: int) -> None:
        """Settle ``uids`` after the service accepted adding (stamping ``gen``) or removing them."""
        ...

    async def resolve_doubts(self) -> None:
        """Drop the doubts of earlier runs that this run's diff re-sent; call once all its changes settled."""
        ...

    async def begin_refresh(self) -> int:
        """Start (or resume) a full refresh; return its generation."""
        ...

    async def end_refresh(self) -> None:
        """Mark the refresh in progress complete."""
        ...

    async def reload(self) -> LedgerEntry:
        """Read the record again."""
        ...


class Ledger(Protocol):
    """Where ``cohorts.sync`` keeps confirmed membership: :class:`SQLiteLedger` or :class:`PostgresLedger`.

    Example::

        ledger: Ledger = SQLiteLedger("cohorts.db")
        report = await client.cohorts.sync(cohort, read_uids("today.txt"), ledger=ledger)
    """

    def describe(self) -> str:
        """Where the ledger lives, for messages (never a password).

        Example::

            print(ledger.describe())  # sqlite:cohorts.db
        """
        ...

    def run(
        self,
        workspace_id: str,
        cohort_id: str,
        *,
        exclusive: bool = True,
        lock_timeout: float = 0.0,
        stale_after: float = DEFAULT_STALE_AFTER,
    ) -> contextlib.AbstractAsyncContextManager[LedgerRun]:
        """Open one sync's view of a cohort's record; ``exclusive`` runs take the cohort's lock.

        Example::

            async with ledger.run("WS", "churn") as run:
                print(run.entry.members)
        """
        ...

    async def entries(self, workspace_id: str | None = None) -> list[LedgerEntry]:
        """Every cohort the ledger holds (of one workspace, when given).

        Example::

            entries = await ledger.entries("WS")
        """
        ...

    async def entry(self, workspace_id: str, cohort_id: str) -> LedgerEntry | None:
        """One cohort's record, or None.

        Example::

            entry = await ledger.entry("WS", "churn")
        """
        ...

    async def forget(self, workspace_id: str, cohort_id: str) -> bool:
        """Drop one cohort's record (its next sync sends the whole list); False if there was none.

        Example::

            await ledger.forget("WS", "churn")
        """
        ...


def check_lock_options(lock_timeout: float, stale_after: float) -> None:
    """Validate the lock options (a ValidationError naming the field)."""
    for name, value in (("lock_timeout", lock_timeout), ("stale_after", stale_after)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValidationError(name, "must be a number of seconds >= 0")
    if stale_after <= 0:
        raise ValidationError("stale_after", "must be > 0 seconds")


class RunBase:
    """The lifecycle of a run, over a backend's primitives: lock, heartbeat, release.

    Subclasses implement ``_open``/``_close`` (connection), ``_claim`` (atomically: create the cohort's row
    if missing, take the lock if free or held by ``replace``, and return the current holder otherwise),
    ``_beat`` (refresh the heartbeat; False when the lock is no longer ours), ``_release`` and ``_load``.
    """

    def __init__(
        self, target: str, workspace_id: str, cohort_id: str, exclusive: bool, lock_timeout: float, stale_after: float
    ) -> None:
        check_lock_options(lock_timeout, stale_after)
        self.target = target  # the ledger's description, for messages
        self.workspace_id = workspace_id
        self.cohort_id = cohort_id
        self.exclusive = exclusive
        self.lock_timeout = float(lock_timeout)
        self.stale_after = float(stale_after)
        self.me = Holder.new()
        self._entry = LedgerEntry(workspace_id, cohort_id)
        self._heart: asyncio.Task[None] | None = None
        self._held = False

    @property
    def entry(self) -> LedgerEntry:
        """The cohort's record as last read."""
        return self._entry

    # -- primitives --------------------------------------------------------------------------------

    async def _open(self) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError

    async def _claim(self, replace: str | None) -> Holder | None:
        raise NotImplementedError

    async def _beat(self) -> bool:
        raise NotImplementedError

    async def _release(self) -> None:
        raise NotImplementedError

    async def _load(self) -> LedgerEntry | None:
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------------------

    def _what(self) -> str:
        return f"cohort {self.cohort_id!r} of workspace {self.workspace_id!r} in {self.target}"

    def lost(self) -> LedgerError:
        return LedgerError(
            f"this run lost the lock of {self._what()}: another run took it over (no heartbeat for "
            f"{self.stale_after:.0f}s?); nothing more was recorded"
        )

    async def _acquire(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_timeout
        while True:
            current = await self._claim(None)
            if current is not None and current.abandoned(time.time(), self.stale_after):
                current = await self._claim(current.token)  # take over from a run that is gone
            if current is None:
                self._held = True
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise LedgerLockedError(
                    f"{self._what()} is locked by another sync: {current.describe()}; it counts as gone once "
                    f"its process exits (same host) or after {self.stale_after:.0f}s without a heartbeat. "
                    "Wait for it, or pass lock_timeout= to wait here.",
                    current.describe(),
                )
            await asyncio.sleep(min(LOCK_POLL, remaining))

    async def _heartbeat(self) -> None:
        interval = self.stale_after / 4
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):  # a failed beat is retried; confirm() fences every write
                if not await self._beat():
                    return

    async def __aenter__(self: R) -> R:
        await self._open()
        try:
            if self.exclusive:
                await self._acquire()
                self._heart = asyncio.ensure_future(self._heartbeat())
            await self.reload()
        except BaseException:
            await self._finish()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._finish()

    async def _finish(self) -> None:
        heart, self._heart = self._heart, None
        if heart is not None:
            heart.cancel()
            with contextlib.suppress(BaseException):
                await heart
        # Shielded: a cancelled run still releases its lock (else the next run in this process waits for
        # the heartbeat to go stale) and closes its connection.
        await asyncio.shield(self._release_and_close())

    async def _release_and_close(self) -> None:
        try:
            if self._held:
                self._held = False
                await self._release()
        finally:
            await self._close()

    async def reload(self) -> LedgerEntry:
        """Read the record again (an empty one if the cohort has none)."""
        entry = await self._load()
        self._entry = entry if entry is not None else LedgerEntry(self.workspace_id, self.cohort_id)
        return self._entry
