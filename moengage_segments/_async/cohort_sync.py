"""The cohort-sync engine behind ``client.cohorts.add_members`` / ``remove_members`` / ``plan``.

Shape of a run::

    input --(chunks; files and generators read in a worker thread)--> producer: validate + pack
          --(bounded queue, max_in_flight)--> max_in_flight sender tasks --> Transport (cohort limiter,
          retry policy) --> report tallies (+ checkpoint journal, failed-uids file, on_progress)

Memory stays flat: the producer blocks on the bounded queue, so at most about ``2 * max_in_flight``
batches plus one input chunk exist at any time, whatever the input size. Accounting is explicit: every
batch is registered the moment it is cut, and whatever is still registered when the run stops is
reported as ``not_sent``, so ``submitted == accepted + skipped + failed + invalid + duplicates + not_sent``
is a real check rather than a definition.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Sized,
)
from itertools import islice
from typing import Any, Literal

from moengage_segments._async import endpoints as ep
from moengage_segments._async.checkpoint import Journal, digest
from moengage_segments._async.packing import CohortEnvelope, PackedBatch, Packer, uid_from_wire, uids_from_wires
from moengage_segments._async.streaming import DEFAULT_LINGER, lingering_chunks
from moengage_segments._async.transport import Transport, logger
from moengage_segments.config import RateLimits
from moengage_segments.errors import (
    APIError,
    APIStatusError,
    AuthenticationError,
    CheckpointError,
    CohortSyncError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ValidationError,
)
from moengage_segments.models.cohorts import Cohort, CohortAction, check_action, check_cohort
from moengage_segments.models.reports import (
    BatchRecord,
    BatchStatus,
    CohortPlan,
    CohortSyncProgress,
    CohortSyncReport,
    WaitingFor,
)
from moengage_segments.uids import CHUNK_SIZE, FailedUidsWriter, UidFile, is_same_file

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_MAX_IN_FLIGHT",
    "ChunkStream",
    "CohortSync",
    "OnConfirmed",
    "OnError",
    "UidSource",
    "check_callable",
    "check_options",
    "new_packer",
    "pacing_time",
    "plan",
    "uid_chunks",
]

DEFAULT_MAX_IN_FLIGHT = 8

OnError = Literal["collect", "raise"]
#: A batch hook: awaited with the uids of a batch about to be sent, or of a request the service accepted.
OnConfirmed = Callable[[list[str]], Awaitable[object]]
UidSource = Iterable[Any] | AsyncIterable[Any]


async def uid_chunks(uids: UidSource, size: int = CHUNK_SIZE, linger: float | None = None) -> AsyncIterator[list[Any]]:
    """Yield the input in lists of ``size`` items without blocking the event loop for long.

    In-memory collections are sliced on the loop (yielding between chunks); files from
    :func:`read_uids` and any other iterator (a generator may do slow I/O) are read in a worker thread.
    With ``linger``, async iterables and iterators (which may trickle: a pipe, a queue) also yield a
    partial list once its oldest item has waited ``linger`` seconds (see :mod:`.streaming`).
    """
    if isinstance(uids, (str, bytes, bytearray)):
        raise ValidationError("uids", "must be an iterable of uid strings, not a single string")
    loop = asyncio.get_running_loop()
    if isinstance(uids, ChunkStream):
        async for page in uids.chunks():
            yield page
    elif isinstance(uids, UidFile):
        file_chunks = uids.iter_chunks(size)
        while True:
            chunk = await loop.run_in_executor(None, next, file_chunks, None)
            if chunk is None:
                return
            yield chunk
    elif linger is not None and (isinstance(uids, AsyncIterable) or not isinstance(uids, Collection)):
        if not isinstance(uids, (AsyncIterable, Iterable)):
            raise ValidationError("uids", f"must be an iterable or async iterable of uids, got {type(uids).__name__}")
        async for chunk in lingering_chunks(uids if isinstance(uids, AsyncIterable) else iter(uids), size, linger):
            yield chunk
    elif isinstance(uids, AsyncIterable):
        chunk = []
        async for uid in uids:
            chunk.append(uid)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    elif isinstance(uids, Collection):
        iterator = iter(uids)
        while chunk := list(islice(iterator, size)):
            yield chunk
            await asyncio.sleep(0)  # let senders and other tasks run between chunks
    elif isinstance(uids, Iterable):
        iterator = iter(uids)
        while chunk := await loop.run_in_executor(None, _take, iterator, size):
            yield chunk
    else:
        raise ValidationError("uids", f"must be an iterable or async iterable of uids, got {type(uids).__name__}")


def _one_shot(uids: UidSource) -> bool:
    """True for iterators and generators, which a second pass finds empty."""
    if isinstance(uids, AsyncIterable):
        return isinstance(uids, AsyncIterator)
    if isinstance(uids, UidFile):
        return not uids.regular  # a pipe or a device
    return isinstance(uids, Iterator)


def _take(iterator: Iterable[Any], size: int) -> list[Any]:
    return list(islice(iterator, size))


def _in_memory(uids: UidSource) -> bool:
    """True for the inputs :func:`uid_chunks` slices on the loop (its ``Collection`` branch)."""
    return isinstance(uids, Collection) and not isinstance(uids, (AsyncIterable, ChunkStream, UidFile, str, bytes))


def _check_linger(linger: float | None) -> None:
    if linger is not None and (isinstance(linger, bool) or not isinstance(linger, (int, float)) or not linger >= 0):
        raise ValidationError("linger", f"must be a number of seconds >= 0, or None, got {linger!r}")


def check_options(max_request_bytes: int, max_in_flight: int, on_error: str) -> None:
    """Validate the engine's options (a ValidationError naming the field)."""
    if isinstance(max_request_bytes, bool) or not isinstance(max_request_bytes, int) or max_request_bytes <= 0:
        raise ValidationError("max_request_bytes", "must be a positive number of bytes")
    if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
        raise ValidationError("max_in_flight", "must be an integer >= 1")
    if on_error not in ("collect", "raise"):
        raise ValidationError("on_error", f"must be 'collect' or 'raise', got {on_error!r}")


def check_callable(field: str, value: object) -> None:
    """A ValidationError naming ``field`` unless ``value`` is None or callable."""
    # Checked before the run: a bad on_progress would fail after requests went out, a bad on_report
    # after everything was sent, losing the report.
    if value is not None and not callable(value):
        raise ValidationError(field, f"must be a callable or None, got {type(value).__name__}")


def _path(field: str, value: str | os.PathLike[str] | None) -> str | None:
    if value is None:
        return None
    try:
        return os.fspath(value)
    except TypeError:
        raise ValidationError(field, f"must be a file path or None, got {type(value).__name__}") from None


def new_packer(cohort: Cohort, action: str, max_request_bytes: int, dedupe: bool) -> Packer:
    """A packer for this cohort and action (validated: a ValidationError naming the field)."""
    check_cohort(cohort)
    envelope = CohortEnvelope(cohort, check_action(action))
    try:
        return Packer(envelope, max_request_bytes, dedupe=dedupe)
    except ValueError as exc:
        raise ValidationError("max_request_bytes", str(exc)) from None


def pacing_time(limits: RateLimits | None, requests: int) -> float:
    """Least seconds ``requests`` cohort requests take under ``limits``, from a free window (0 without limits).

    A sliding window of ``limit`` per ``period`` lets the first ``limit`` start at once, the next ``limit``
    one period (plus the limiter's safety margin) later, and so on. ``plan()`` and the progress ETA both
    use this arithmetic.

    Example::

        assert pacing_time(RateLimits(), 301) == 60.25
    """
    if limits is None or requests <= 0:
        return 0.0
    return max(
        (((requests - 1) // window.limit) * (window.period + limits.margin) for window in limits.cohort),
        default=0.0,
    )


async def plan(
    transport: Transport,
    cohort: Cohort,
    action: CohortAction,
    uids: UidSource,
    *,
    max_request_bytes: int,
    dedupe: bool,
) -> CohortPlan:
    """Pack ``uids`` exactly as a push would, without sending; see ``AsyncCohorts.plan``."""
    check_options(max_request_bytes, 1, "collect")
    packer = new_packer(cohort, action, max_request_bytes, dedupe)
    if _one_shot(uids):
        logger.warning(
            "plan() is reading a one-shot iterator or pipe: a push of the same object afterwards will read nothing. "
            "Pass a list, a set or a read_uids() file to plan and then push."
        )
    requests = size = 0
    async for chunk in uid_chunks(uids):
        for batch in packer.feed(chunk):
            requests += 1
            size += len(batch.body)
    for batch in packer.finish():
        requests += 1
        size += len(batch.body)
    eta = pacing_time(transport.limiter.limits, requests)
    return CohortPlan(
        submitted=packer.read,
        members=packer.read - packer.invalid - packer.duplicates,
        invalid=packer.invalid,
        duplicates=packer.duplicates,
        requests=requests,
        bytes=size,
        max_request_bytes=max_request_bytes,
        eta=eta,
        invalid_reasons=dict(packer.invalid_reasons),
    )


class ChunkStream:
    """An async source of uids that hands the engine whole lists (a ledger's pages) and knows its total.

    Example::

        source = ChunkStream(lambda: run.chunks("add", CHUNK_SIZE), total=counts.to_add)
        report = await CohortSync(transport, cohort, "add_members", max_request_bytes=128_000).run(source)
    """

    def __init__(self, chunks: Callable[[], AsyncIterator[list[str]]], total: int) -> None:
        self.chunks = chunks
        self.total = total

    def __len__(self) -> int:
        return self.total

    async def __aiter__(self) -> AsyncIterator[str]:
        async for chunk in self.chunks():
            for uid in chunk:
                yield uid


class _Flight:
    """A batch between being cut and being resolved, with its running tallies."""

    __slots__ = (
        "accepted",
        "attempts",
        "batch",
        "digest",
        "error",
        "failed",
        "parts",
        "rejected",
        "remaining",
        "request_id",
        "sending",
        "unsent",
    )

    def __init__(self, batch: PackedBatch, body_digest: str) -> None:
        self.batch = batch
        self.digest = body_digest
        self.remaining = batch.members
        self.accepted = 0
        self.failed = 0
        self.attempts = 0
        self.parts = 1
        self.rejected = 0
        self.request_id: str | None = None
        self.error: str | None = None
        #: The parts not resolved yet, once a sender took the batch: (wires or None for all, count, body).
        self.unsent: list[tuple[list[str] | None, int, bytes]] | None = None
        #: True once the first unsent part went on the wire, until it is resolved (it may have reached the service).
        self.sending = False

    def unsent_wires(self) -> tuple[list[str], list[str]]:
        """The members neither accepted nor refused: (in a request when the run stopped, never sent)."""
        if self.unsent is None:
            return [], self.batch.wires
        parts = [self.batch.wires if wires is None else wires for wires, _, _ in self.unsent]
        if self.sending and parts:
            return parts[0], [w for part in parts[1:] for w in part]
        return [], [w for part in parts for w in part]

    def record(self) -> BatchRecord:
        status: BatchStatus
        if self.remaining:
            status = "not_sent" if not (self.accepted or self.failed) else "partial"
        elif self.failed:
            status = "partial" if self.accepted else "failed"
        else:
            status = "accepted"
        batch = self.batch
        return BatchRecord(
            index=batch.index,
            members=batch.members,
            bytes=len(batch.body),
            status=status,
            accepted=self.accepted,
            failed=self.failed,
            attempts=self.attempts,
            parts=self.parts,
            rejected=self.rejected,
            request_id=self.request_id,
            error=self.error,
            position=batch.position,
        )


class _Stop(Exception):
    """Raised inside the run by ``on_error="raise"`` at the first failed batch."""

    def __init__(self, cause: APIError, index: int) -> None:
        self.cause = cause
        self.index = index
        super().__init__(f"batch {index} failed: {cause}")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class CohortSync:
    """One add/remove run. Built by ``AsyncCohorts.add_members``/``remove_members``; use :meth:`run` once.

    The batch hooks (used by ``cohorts.sync`` to keep its ledger): ``on_sending`` is awaited with a batch's
    uids before its first request, ``on_confirmed`` with the uids of every request the service accepted,
    before they count as accepted and before that sender takes another batch. If a hook raises, the run
    stops with that error.

    Example::

        sync = CohortSync(transport, cohort, "add_members", max_in_flight=4)
        report = await sync.run(uids)
    """

    def __init__(
        self,
        transport: Transport,
        cohort: Cohort,
        action: CohortAction,
        *,
        max_request_bytes: int,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        on_error: OnError = "collect",
        dedupe: bool = False,
        on_progress: Callable[[CohortSyncProgress], object] | None = None,
        on_report: Callable[[CohortSyncReport], object] | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        failed_uids_path: str | os.PathLike[str] | None = None,
        progress_interval: float = 0.5,
        on_sending: OnConfirmed | None = None,
        on_confirmed: OnConfirmed | None = None,
        linger: float | None = DEFAULT_LINGER,
    ) -> None:
        check_options(max_request_bytes, max_in_flight, on_error)
        _check_linger(linger)
        check_callable("on_progress", on_progress)
        check_callable("on_report", on_report)
        self._packer = new_packer(cohort, action, max_request_bytes, dedupe)
        self._transport = transport
        self._cohort = cohort
        self._action = action
        self._max_request_bytes = max_request_bytes
        self._max_in_flight = max_in_flight
        self._on_error = on_error
        self._dedupe = dedupe
        self._on_progress = on_progress
        self._on_report = on_report
        self._checkpoint = _path("checkpoint", checkpoint)
        self._failed_path = _path("failed_uids_path", failed_uids_path)
        if self._checkpoint and self._failed_path and is_same_file(self._checkpoint, self._failed_path):
            raise ValidationError("failed_uids_path", "is the checkpoint file; give each its own path")
        self._on_sending = on_sending
        self._on_confirmed = on_confirmed
        self._progress_interval = progress_interval
        # A resumable run must cut the same batches every time, which time-dependent flushes would not.
        self._linger = None if checkpoint is not None else linger
        self._idle_flush = self._linger  # set per input by run()
        self._clock = time.monotonic
        self._journal: Journal | None = None
        self._failed_file: FailedUidsWriter | None = None
        self._outstanding: dict[int, _Flight] = {}
        self._records: list[BatchRecord] = []
        self._accepted = self._failed = self._skipped = 0
        self._requests = self._bytes = self._retries = 0
        self._on_wire = 0  # requests sent and not yet answered (see Transport.request's on_wire)
        self._cut_batches = self._cut_members = 0  # for the members-per-request of the ETA
        self._reading = False  # the producer waits for the next chunk of input
        self._input_done = False
        # Smallest body the server answered 413 to in this run: its real cap may be below ours.
        self._rejected_size = max_request_bytes + 1
        self._total: int | None = None
        self._file: UidFile | None = None
        self._started = 0.0
        self._last_progress = 0.0
        self._ran = False

    # -- the run -----------------------------------------------------------------------------------

    async def run(self, uids: UidSource) -> CohortSyncReport:
        """Push ``uids``; return the report (also passed to ``on_report``, whatever the outcome)."""
        if self._ran:
            raise RuntimeError("a CohortSync runs once; create a new one")
        self._ran = True
        if isinstance(uids, UidFile):
            # Opening either output empties it (or, for a journal, may): the input would be lost unread.
            for field, path in (("checkpoint", self._checkpoint), ("failed_uids_path", self._failed_path)):
                if path is not None and is_same_file(path, uids.path):
                    raise ValidationError(field, f"is the input file {uids.path!r}; give it another path")
        if isinstance(uids, Sized) and not isinstance(uids, (str, bytes, UidFile)):
            self._total = len(uids)
        elif isinstance(uids, UidFile):
            self._total = uids.counted
            if self._total is None and self._on_progress is not None and uids.regular:
                # Counted on the side, for the progress total; never a pipe, whose uids the count would take.
                self._file = uids
        source = uid_chunks(uids, linger=self._linger)
        # An in-memory collection is sliced on the loop and never idles: no idle flush to watch for, which
        # would cost a task and extra loop turns per chunk (see _next_chunk).
        self._idle_flush = None if _in_memory(uids) else self._linger
        self._started = self._clock()
        outcome: BaseException | None = None
        try:
            # Inside the try: a journal that cannot be opened (foreign, damaged, locked, unwritable) still
            # ends in a report passed to on_report.
            if self._checkpoint is not None:
                self._journal = Journal.open(self._checkpoint, self._journal_header())
            if self._failed_path is not None:
                # Opened (and emptied) up front so that an empty file means "nothing failed"; a one-off
                # open is not worth a thread hop.
                self._failed_file = FailedUidsWriter(self._failed_path)
            await self._run(source)
        except BaseException as exc:  # including CancelledError: report, then re-raise
            outcome = exc
        finally:
            try:
                self._write_not_sent(outcome)
            finally:
                self._close_files()
        cancelled = isinstance(outcome, asyncio.CancelledError)
        stopped_by = (
            None
            if outcome is None or cancelled
            else _describe(outcome.cause if isinstance(outcome, _Stop) else outcome)
        )
        report = self._report(cancelled=cancelled, stopped_by=stopped_by)
        try:
            if outcome is None:
                self._progress(force=True, done=True)
        finally:
            if self._on_report is not None:
                self._on_report(report)
        if isinstance(outcome, _Stop) and self._on_error == "raise":
            raise CohortSyncError(
                f"cohort {self._action} stopped at the first failed batch ({outcome}); "
                f"{report.accepted} accepted, {report.failed} failed, {report.not_sent} not sent",
                report,
            ) from outcome.cause
        if outcome is not None and not isinstance(outcome, _Stop):
            raise outcome
        return report  # with on_error="collect" a fatal error ends the run early: stopped_by says why

    async def _run(self, source: AsyncIterator[list[Any]]) -> None:
        queue: asyncio.Queue[_Flight | None] = asyncio.Queue(self._max_in_flight)
        tasks = [asyncio.ensure_future(self._produce(source, queue))]
        tasks += [asyncio.ensure_future(self._send_loop(queue)) for _ in range(self._max_in_flight)]
        workers = list(tasks)
        if self._on_progress is not None:
            tasks.append(asyncio.ensure_future(self._tick()))  # never ends: cancelled below
        if self._file is not None:
            tasks.append(asyncio.ensure_future(self._count_file(self._file)))
        try:
            pending: set[asyncio.Future[None]] = set(tasks)
            while not all(task.done() for task in workers):
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    error = task.exception()
                    if error is not None:
                        raise error
        finally:
            for task in tasks:
                task.cancel()
            # Wait for the tasks to unwind so nothing is resolved after the report is built.
            await asyncio.gather(*tasks, return_exceptions=True)
            await _aclose(source)

    async def _tick(self) -> None:
        """Progress at the interval even while nothing resolves (a rate-limit wait, a slow input)."""
        while True:
            await asyncio.sleep(max(self._progress_interval, 0.05))
            self._progress()

    async def _count_file(self, uids: UidFile) -> None:
        """Count a file input in a worker thread while the push runs, so that progress gets a total."""
        stop = threading.Event()  # a cancelled run must not leave the thread reading a huge file

        def count() -> int | None:
            n = 0
            for chunk in uids.iter_chunks():
                if stop.is_set():
                    return None
                n += len(chunk)
            return n

        try:
            total = await asyncio.get_running_loop().run_in_executor(None, count)
        except Exception:  # the producer reads the same file and reports its errors
            return
        finally:
            stop.set()
        if total is not None and self._total is None:
            self._total = uids.counted = total

    async def _produce(self, source: AsyncIterator[list[Any]], queue: asyncio.Queue[_Flight | None]) -> None:
        packer = self._packer
        while True:
            self._reading = True
            try:
                chunk = await self._next_chunk(source, queue)
            except StopAsyncIteration:
                break
            finally:
                self._reading = False
            await self._enqueue(queue, packer.feed(chunk))
        self._input_done = True
        await self._enqueue(queue, packer.finish())
        missing = self._journal.unmatched() if self._journal is not None else []
        if missing:
            raise CheckpointError(
                f"the checkpoint journal {self._checkpoint!r} confirms {len(missing)} batch(es) that this input "
                f"does not produce (first: {missing[0]}); was the input shortened or changed?"
            )
        for _ in range(self._max_in_flight):
            await queue.put(None)  # one stop marker per sender

    async def _next_chunk(self, source: AsyncIterator[list[Any]], queue: asyncio.Queue[_Flight | None]) -> list[Any]:
        """The next chunk of input; while it is late by ``linger``, the partial batch is sent meanwhile."""
        if self._idle_flush is None:
            return await source.__anext__()
        pending = asyncio.ensure_future(source.__anext__())
        try:
            while self._packer.pending and not pending.done():
                done, _ = await asyncio.wait({pending}, timeout=self._idle_flush)
                if not done:  # the input is idle: send what is packed rather than hold it
                    await self._enqueue(queue, self._packer.finish())
            return await pending
        finally:
            if not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)

    async def _enqueue(self, queue: asyncio.Queue[_Flight | None], batches: list[PackedBatch]) -> None:
        # Register every batch before the first await, so that a cancellation while waiting for queue
        # space still finds them (as not sent).
        flights = [self._register(b) for b in batches]
        for flight in flights:
            if flight is not None:
                await queue.put(flight)

    def _register(self, batch: PackedBatch) -> _Flight | None:
        self._cut_batches += 1
        self._cut_members += batch.members
        body_digest = digest(batch.body) if self._journal is not None else ""
        if self._journal is not None and self._journal.is_confirmed(batch.index, batch.position, body_digest):
            members = batch.members
            self._skipped += members
            self._records.append(
                BatchRecord(
                    index=batch.index,
                    members=members,
                    bytes=len(batch.body),
                    status="skipped",
                    accepted=0,
                    attempts=0,
                    position=batch.position,
                )
            )
            self._progress()
            return None
        flight = _Flight(batch, body_digest)
        self._outstanding[batch.index] = flight
        return flight

    async def _send_loop(self, queue: asyncio.Queue[_Flight | None]) -> None:
        while True:
            flight = await queue.get()
            if flight is None:
                return
            await self._deliver(flight)

    async def _deliver(self, flight: _Flight) -> None:
        """Send one batch; on 413 split it in two and send the halves (recursively).

        After a 413, bodies at least that large are split before sending, so a server whose cap is below
        ours costs one rejected request per run rather than one per batch.
        """
        # (members in wire form, or None for "the whole batch": decoded only when needed), count, body
        # A part leaves the list once resolved, so after a stop the list holds exactly what was not sent.
        parts: list[tuple[list[str] | None, int, bytes]] = [(None, flight.batch.members, flight.batch.body)]
        flight.unsent = parts
        stop: _Stop | None = None
        # The batch's uids for the hooks: decoded once (the body is the only copy the batch keeps).
        batch_uids = uids_from_wires(flight.batch.wires) if self._on_sending or self._on_confirmed else []

        def on_wire(change: int) -> None:
            self._on_wire += change
            if change > 0:
                # Only now may the part reach the service: a part still waiting for a rate-limit slot stays
                # "not sent" in the failed-uids file if the run stops.
                flight.sending = True

        if self._on_sending is not None:
            await self._on_sending(batch_uids)
        while parts:
            wires, count, body = parts[0]
            if count > 1 and len(body) >= self._rejected_size:
                # The server refused a body this large before: split without spending a request on it.
                parts[0:1] = self._halves(flight, wires, count)
                continue
            try:
                response = await self._transport.request(ep.COHORT_SYNC, body=body, on_wire=on_wire)
            except PayloadTooLargeError as exc:
                flight.sending = False
                self._count(exc.attempts, len(body))
                flight.attempts += exc.attempts
                if count > 1:
                    flight.rejected += 1
                    self._rejected_size = min(self._rejected_size, len(body))
                    parts[0:1] = self._halves(flight, wires, count)
                    continue
                parts.pop(0)
                stop = self._fail(flight, flight.batch.wires if wires is None else wires, exc)
            except APIError as exc:
                flight.sending = False
                self._count(exc.attempts, len(body))
                flight.attempts += exc.attempts
                parts.pop(0)
                stop = self._fail(flight, flight.batch.wires if wires is None else wires, exc)
            else:
                self._count(response.attempts, len(body))
                flight.attempts += response.attempts
                if self._on_confirmed is not None:
                    # Awaited before the members count as accepted, and before this sender takes another
                    # batch: a crash loses at most the confirmations of the requests in flight.
                    await self._on_confirmed(batch_uids if wires is None else uids_from_wires(wires))
                parts.pop(0)
                flight.sending = False  # only now: the service accepted it, the hook above may be cancelled
                flight.accepted += count
                flight.remaining -= count
                self._accepted += count
                flight.request_id = response.request_id or flight.request_id
            if stop is not None:
                break  # on_error="raise": the other parts stay not sent
        if stop is None:
            self._resolve(flight)
        else:
            raise stop

    def _halves(
        self, flight: _Flight, wires: list[str] | None, count: int
    ) -> list[tuple[list[str] | None, int, bytes]]:
        wires = flight.batch.wires if wires is None else wires
        half = count // 2
        first, second = wires[:half], wires[half:]
        flight.parts += 1
        return [(first, len(first), self._packer.body(first)), (second, len(second), self._packer.body(second))]

    def _count(self, attempts: int, size: int) -> None:
        self._requests += attempts
        # attempts is 0 when the client-side limiter refused a slot: nothing was sent, nothing retried.
        self._retries += max(attempts - 1, 0)
        self._bytes += attempts * size

    def _fail(self, flight: _Flight, wires: list[str], exc: APIError) -> _Stop | None:
        flight.failed += len(wires)
        flight.remaining -= len(wires)
        self._failed += len(wires)
        flight.error = _describe(exc)
        flight.request_id = getattr(exc, "request_id", None) or flight.request_id
        if self._failed_file is not None:
            self._failed_file.write((uid_from_wire(w) for w in wires), f"refused: {_short(exc)}")
        if self._on_error == "raise" or _fatal(exc):
            return _Stop(exc, flight.batch.index)
        return None

    def _resolve(self, flight: _Flight) -> None:
        del self._outstanding[flight.batch.index]
        self._records.append(flight.record())
        if self._journal is not None and flight.accepted == flight.batch.members:
            self._journal.confirm(flight.batch.index, flight.batch.position, flight.accepted, flight.digest)
        self._progress()

    # -- reporting ---------------------------------------------------------------------------------

    def _journal_header(self) -> dict[str, Any]:
        cohort = self._cohort
        return {
            "action": self._action,
            "cohort_id": cohort.id,
            "cohort_name": cohort.name,
            "partner": cohort.partner,
            "max_request_bytes": self._max_request_bytes,
            "dedupe": self._dedupe,
            "chunk": CHUNK_SIZE,
        }

    def _progress(self, *, force: bool = False, done: bool = False) -> None:
        if self._on_progress is None:
            return
        now = self._clock()
        if not force and now - self._last_progress < self._progress_interval:
            return
        self._last_progress = now
        packer = self._packer
        elapsed = now - self._started
        resolved = self._accepted + self._failed + self._skipped
        rate = resolved / elapsed if elapsed > 0 else 0.0
        queued = max(len(self._outstanding) - self._on_wire, 0)
        next_slot = self._transport.limiter.next_slot(ep.COHORT_SYNC.limit_family)
        waiting_for: WaitingFor | None = None
        if done:
            next_slot = 0.0
        elif queued and next_slot > 0:
            waiting_for = "rate_limit"
        elif self._reading and not self._outstanding:
            waiting_for = "input"
        total = self._total if self._total is not None or not self._input_done else packer.read
        eta: float | None = None
        if total is not None:
            left = max(total - resolved - packer.invalid - packer.duplicates, 0)
            eta = 0.0 if left == 0 else self._eta(left, rate, next_slot)
        self._on_progress(
            CohortSyncProgress(
                submitted=packer.read,
                accepted=self._accepted,
                failed=self._failed,
                invalid=packer.invalid,
                duplicates=packer.duplicates,
                skipped=self._skipped,
                requests=self._requests,
                in_flight=self._on_wire,
                elapsed=elapsed,
                rate=rate,
                total=total,
                eta=eta,
                done=done,
                queued=queued,
                waiting_for=waiting_for,
                next_slot=next_slot,
            )
        )

    def _eta(self, left: int, rate: float, next_slot: float) -> float | None:
        """Seconds for ``left`` members: the slower of the observed rate and the rate limit's pace."""
        by_rate = left / rate if rate > 0 else None
        limits = self._transport.limiter.limits
        if limits is None or not self._cut_batches:
            return by_rate
        per_request = self._cut_members / self._cut_batches
        requests = math.ceil(left / per_request) if per_request > 0 else 0
        by_limit = next_slot + pacing_time(limits, requests)
        return by_limit if by_rate is None else max(by_rate, by_limit)

    def _report(self, *, cancelled: bool, stopped_by: str | None) -> CohortSyncReport:
        for flight in self._outstanding.values():
            self._records.append(flight.record())
        not_sent = self._packer.pending + sum(f.remaining for f in self._outstanding.values())
        packer = self._packer
        return CohortSyncReport(
            action=self._action,
            cohort_id=self._cohort.id,
            submitted=packer.read,
            accepted=self._accepted,
            failed=self._failed,
            invalid=packer.invalid,
            duplicates=packer.duplicates,
            not_sent=not_sent,
            skipped=self._skipped,
            requests=self._requests,
            bytes=self._bytes,
            retries=self._retries,
            elapsed=self._clock() - self._started,
            batches=tuple(sorted(self._records, key=lambda r: r.index)),
            invalid_reasons=dict(packer.invalid_reasons),
            failed_uids_path=self._failed_path,
            cancelled=cancelled,
            stopped_by=stopped_by,
        )

    def _write_not_sent(self, outcome: BaseException | None) -> None:
        """Add what a stopped run read but did not get accepted or refused to the failed-uids file."""
        if self._failed_file is None or outcome is None:
            return
        if isinstance(outcome, asyncio.CancelledError):
            why = "cancelled"
        elif isinstance(outcome, _Stop) and self._on_error == "raise":
            why = "stopped at the first failed batch (on_error='raise')"
        else:
            why = f"stopped by {type(outcome.cause if isinstance(outcome, _Stop) else outcome).__name__}"
        write = self._failed_file.write
        for flight in sorted(self._outstanding.values(), key=lambda f: f.batch.index):
            in_request, never_sent = flight.unsent_wires()
            # A request abandoned mid-way may have reached the service: sending it again is safe.
            write((uid_from_wire(w) for w in in_request), f"not confirmed: {why} during its request")
            write((uid_from_wire(w) for w in never_sent), f"not sent: {why}")
        write((uid_from_wire(w) for w in self._packer.pending_wires()), f"not sent: {why}")

    def _close_files(self) -> None:
        journal, self._journal = self._journal, None
        failed, self._failed_file = self._failed_file, None
        try:
            if journal is not None:
                journal.close()
        finally:
            if failed is not None:
                failed.close()


def _short(exc: APIError) -> str:
    """``HTTP 400 Bad Request`` or the error's class name: the reason column of the failed-uids file."""
    if isinstance(exc, APIStatusError):
        return f"HTTP {exc.status}" + (f" {exc.code}" if exc.code else "")
    return type(exc).__name__


def _fatal(exc: APIError) -> bool:
    """Errors that every later batch would get too (bad credentials, a suspended account): stop the run.

    Pushing on would spend quota on requests certain to fail, so even ``on_error="collect"`` stops.
    """
    return isinstance(exc, (AuthenticationError, PermissionDeniedError))


async def _aclose(source: AsyncIterator[list[Any]]) -> None:
    close = getattr(source, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception, asyncio.CancelledError):  # best effort after the run ended
            await close()
