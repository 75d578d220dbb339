"""Delta sync behind ``client.cohorts.sync``: make a cohort match a desired list by sending only the changes.

Shape of a run::

    lock the cohort's ledger record
    desired list --(chunks, validated as add_members does)--> ledger staging area
    diff in the ledger's database: to_add = desired - confirmed, to_remove = confirmed - desired
    to_remove pages --> cohort engine (remove_members): mark in doubt, send, accepted --> delete the rows
    to_add pages    --> cohort engine (add_members):    insert in doubt, send, accepted --> settle the rows
    release the lock

Before each request its uids are marked in doubt in the ledger; the success answer settles them (one
transaction, awaited before the sender takes another batch). So a crash at any point leaves the settled
rows equal to a state the service confirmed, plus in-doubt rows that the next run re-sends in the direction
of its list: it converges, re-sending at most the requests that were in flight. Failed changes stay in
doubt (or, for adds, absent), so the next diff finds them again.

Drift (the API cannot read a cohort back) is handled by policy: a full refresh re-sends the whole list
(asked for, or when the last one is older than ``refresh_after``), also for a cohort idle for longer than the
service's 60-day auto-archive (its segment may be a new, empty one; its leavers are still removed, in case the
service had not archived it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from functools import partial
from typing import Any

from moengage_segments._async import cohort_sync
from moengage_segments._async.cohort_sync import (
    CHUNK_SIZE,
    ChunkStream,
    CohortSync,
    OnError,
    UidSource,
    pacing_time,
    uid_chunks,
)
from moengage_segments._async.ledger import Ledger, LedgerRun, LedgerSide
from moengage_segments._async.ledger._base import DEFAULT_STALE_AFTER, check_lock_options
from moengage_segments._async.packing import Packer
from moengage_segments._async.transport import Transport, logger
from moengage_segments.errors import CohortSyncError, ValidationError
from moengage_segments.models.cohorts import Cohort, CohortAction
from moengage_segments.models.reports import (
    CohortDeltaProgress,
    CohortDeltaReport,
    CohortSyncProgress,
    CohortSyncReport,
    DeltaPhase,
    RefreshReason,
)

__all__ = [
    "DEFAULT_REFRESH_AFTER",
    "INACTIVITY_ARCHIVE",
    "MAX_COHORT_MEMBERS",
    "WARN_COHORT_MEMBERS",
    "sync",
]

#: A full refresh (the whole list re-sent) at least this often by default: it repairs drift such as uids
#: that were not yet users when they were added.
DEFAULT_REFRESH_AFTER = timedelta(days=7)
#: The service archives a cohort segment after 60 days without an update; an archived cohort cannot be
#: unarchived, and the next push starts a new, empty one.
INACTIVITY_ARCHIVE = timedelta(days=60)
#: The documented size of a cohort: above it, a warning.
WARN_COHORT_MEMBERS = 5_000_000
#: The service stops updating a cohort above this size: above it, a refusal (unless ``max_members`` is raised).
MAX_COHORT_MEMBERS = 10_000_000

ProgressHook = Callable[[CohortDeltaProgress], object]
#: The passes in the order they run: removals first, then additions.
_ACTIONS: dict[LedgerSide, CohortAction] = {"remove": "remove_members", "add": "add_members"}


def _check(
    ledger: object, refresh_after: timedelta | None, max_members: int | None, lock_timeout: float, stale_after: float
) -> None:
    if not all(callable(getattr(ledger, name, None)) for name in ("run", "entries", "describe")):
        raise ValidationError("ledger", f"must be a ledger such as SQLiteLedger(path), got {type(ledger).__name__}")
    if refresh_after is not None and (not isinstance(refresh_after, timedelta) or refresh_after <= timedelta(0)):
        raise ValidationError("refresh_after", "must be a positive datetime.timedelta, or None for never")
    if max_members is not None and (
        isinstance(max_members, bool) or not isinstance(max_members, int) or max_members < 1
    ):
        raise ValidationError("max_members", "must be a positive integer, or None for no limit")
    check_lock_options(lock_timeout, stale_after)


def _refresh_reason(
    run: LedgerRun, full_refresh: bool, refresh_after: timedelta | None, now: float
) -> RefreshReason | None:
    entry = run.entry
    if entry.last_push is not None and now - entry.last_push.timestamp() > INACTIVITY_ARCHIVE.total_seconds():
        return "inactive"
    if entry.refreshing:
        return "resumed"
    if full_refresh:
        return "requested"
    if entry.last_full_refresh is None:
        return "first"
    if refresh_after is not None and now - entry.last_full_refresh.timestamp() >= refresh_after.total_seconds():
        return "refresh_after"
    return None


class _Run:
    """One ``cohorts.sync`` call: the state shared by its phases and its report."""

    def __init__(
        self,
        transport: Transport,
        cohort: Cohort,
        *,
        max_request_bytes: int,
        max_in_flight: int,
        on_error: OnError,
        on_progress: ProgressHook | None,
    ) -> None:
        self.transport = transport
        self.cohort = cohort
        self.max_request_bytes = max_request_bytes
        self.max_in_flight = max_in_flight
        self.on_error = on_error
        self.on_progress = on_progress
        self.clock = time.monotonic
        self.started = self.clock()
        self.phase: DeltaPhase = "diff"
        self.read = 0
        self.to_add: int | None = None
        self.to_remove: int | None = None
        self.reports: dict[LedgerSide, CohortSyncReport] = {}
        self.live: CohortSyncProgress | None = None
        self.last_progress = 0.0

    # -- progress ----------------------------------------------------------------------------------

    def tally(self, side: LedgerSide, field: str) -> int:
        report = self.reports.get(side)
        if report is not None:
            return int(getattr(report, field))
        if self.live is not None and self.phase == side:
            return int(getattr(self.live, field))
        return 0

    def progress(self, *, force: bool = False, finished: bool = False) -> None:
        if self.on_progress is None:
            return
        now = self.clock()
        if not force and now - self.last_progress < 0.5:
            return
        self.last_progress = now
        live = self.live
        self.on_progress(
            CohortDeltaProgress(
                phase=self.phase,
                read=self.read,
                to_add=self.to_add,
                to_remove=self.to_remove,
                added=self.tally("add", "accepted"),
                removed=self.tally("remove", "accepted"),
                failed=self.tally("add", "failed") + self.tally("remove", "failed"),
                requests=self.tally("add", "requests") + self.tally("remove", "requests"),
                in_flight=live.in_flight if live is not None and not finished else 0,
                elapsed=now - self.started,
                finished=finished,
            )
        )

    def engine_progress(self, p: CohortSyncProgress) -> None:
        self.live = p
        self.progress(force=p.done)

    def all_settled(self, changes: int) -> bool:
        """Whether every change of the diff was accepted."""
        return sum(r.accepted for r in self.reports.values()) == changes

    # -- the passes --------------------------------------------------------------------------------

    async def push(self, run: LedgerRun, side: LedgerSide, total: int, gen: int) -> CohortSyncReport:
        """Send one side of the diff through the cohort engine, recording each accepted request."""
        self.phase = side
        self.live = None

        async def sending(uids: list[str]) -> None:
            await run.intend(side, uids, gen)

        async def confirmed(uids: list[str]) -> None:
            await run.confirm(side, uids, gen)

        reports: list[CohortSyncReport] = []
        engine = CohortSync(
            self.transport,
            self.cohort,
            _ACTIONS[side],
            max_request_bytes=self.max_request_bytes,
            max_in_flight=self.max_in_flight,
            on_error=self.on_error,
            on_progress=self.engine_progress if self.on_progress is not None else None,
            on_report=reports.append,
            linger=None,  # ledger pages are not a trickle: a slow page must not cut a batch short
            on_sending=sending,
            on_confirmed=confirmed,
        )
        try:
            report = await engine.run(ChunkStream(partial(run.chunks, side, CHUNK_SIZE), total))
        finally:
            if reports:  # also when cancelled or stopped: what the pass did goes into the sync's report
                self.reports[side] = reports[0]
                self.live = None
        return report


async def _stage(run: LedgerRun, chunks: AsyncIterator[list[Any]], screen: Packer, state: _Run) -> None:
    """Validate the desired list and stage it; the next chunk is read while the ledger stores this one."""
    storing: asyncio.Future[None] | None = None
    try:
        async for chunk in chunks:
            valid = screen.screen(chunk)
            state.read = screen.read
            if storing is not None:
                await storing
                storing = None
            if valid:
                storing = asyncio.ensure_future(run.stage(valid))
            state.progress()
        if storing is not None:
            await storing
    finally:
        if storing is not None and not storing.done():
            storing.cancel()
            await asyncio.gather(storing, return_exceptions=True)


def _failures(*reports: CohortSyncReport | None) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for report in reports:
        for batch in report.batches if report is not None else ():
            if batch.failed:
                reason = batch.error or "failed"
                reasons[reason] = reasons.get(reason, 0) + batch.failed
    return reasons


async def sync(
    transport: Transport,
    cohort: Cohort,
    desired: UidSource,
    *,
    ledger: Ledger,
    full_refresh: bool,
    dry_run: bool,
    max_request_bytes: int,
    max_in_flight: int,
    on_error: OnError,
    on_progress: ProgressHook | None,
    on_report: Callable[[CohortDeltaReport], object] | None,
    refresh_after: timedelta | None,
    max_members: int | None,
    lock_timeout: float,
    stale_after: float = DEFAULT_STALE_AFTER,
) -> CohortDeltaReport:
    """Make ``cohort`` match ``desired``; see ``AsyncCohorts.sync``."""
    cohort_sync.check_options(max_request_bytes, max_in_flight, on_error)
    cohort_sync.check_callable("on_progress", on_progress)
    cohort_sync.check_callable("on_report", on_report)
    _check(ledger, refresh_after, max_members, lock_timeout, stale_after)
    # The screen uses the longer envelope, so a uid it lets through fits in a request of either action.
    screen = cohort_sync.new_packer(cohort, "remove_members", max_request_bytes, dedupe=False)
    state = _Run(
        transport,
        cohort,
        max_request_bytes=max_request_bytes,
        max_in_flight=max_in_flight,
        on_error=on_error,
        on_progress=on_progress,
    )
    workspace = transport.settings.workspace_id
    async with ledger.run(
        workspace, cohort.id, exclusive=not dry_run, lock_timeout=lock_timeout, stale_after=stale_after
    ) as run:
        before = run.entry
        reason = _refresh_reason(run, full_refresh, refresh_after, time.time())
        # Generations: a refresh stamps epoch + 1 on what it confirms (see the ledger), a delta run the epoch.
        gen = before.epoch + 1 if reason is not None else before.epoch
        await _stage(run, uid_chunks(desired), screen, state)
        counts = await run.diff(fresh_from=gen if reason is not None else 0)
        state.to_add, state.to_remove = counts.to_add, counts.to_remove
        warnings: list[str] = []
        if max_members is not None and counts.desired > max_members:
            raise ValidationError(
                "desired",
                f"{counts.desired:,} distinct uids, over max_members={max_members:,}: MoEngage stops updating a "
                f"cohort above {MAX_COHORT_MEMBERS:,} members. Split the list, or raise max_members (None: no "
                "limit) if your account allows more. Nothing was sent.",
            )
        if counts.desired > WARN_COHORT_MEMBERS:
            warnings.append(
                f"{counts.desired:,} desired members: over the {WARN_COHORT_MEMBERS:,} a cohort is documented to "
                f"hold (updates stop above {MAX_COHORT_MEMBERS:,})"
            )
            logger.warning("cohort %r: %s", cohort.id, warnings[-1])
        common: dict[str, Any] = {
            "cohort_id": cohort.id,
            "submitted": screen.read,
            "desired": counts.desired,
            "invalid": screen.invalid,
            "duplicates": screen.read - screen.invalid - counts.desired,
            "to_add": counts.to_add,
            "to_remove": counts.to_remove,
            "unchanged": counts.desired - counts.to_add,
            "ledger_before": before.members,
            "full_refresh": reason is not None,
            "refresh_reason": reason,
            "invalid_reasons": dict(screen.invalid_reasons),
            "warnings": tuple(warnings),
        }
        if dry_run:
            return await _plan(state, run, common)
        if reason is not None:
            gen = await run.begin_refresh()
        outcome: BaseException | None = None
        try:
            if counts.to_remove:
                await state.push(run, "remove", counts.to_remove, gen)
            removals = state.reports.get("remove")
            if counts.to_add and (removals is None or removals.stopped_by is None):
                await state.push(run, "add", counts.to_add, gen)
        except BaseException as exc:  # cancelled, on_error="raise", a ledger failure: report, then re-raise
            outcome = exc
        if outcome is None and state.all_settled(counts.to_add + counts.to_remove):
            await run.resolve_doubts()
            if reason is not None:
                await run.end_refresh()
        report = _report(state, common, ledger_after=(await run.reload()).members, outcome=outcome)
    state.progress(force=True, finished=True)
    if on_report is not None:
        on_report(report)
    if isinstance(outcome, CohortSyncError):
        raise CohortSyncError(f"cohort sync stopped at the first failed batch: {outcome}", report) from outcome
    if outcome is not None:
        raise outcome
    return report


def _report(
    state: _Run, common: dict[str, Any], *, ledger_after: int, outcome: BaseException | None
) -> CohortDeltaReport:
    removals, additions = state.reports.get("remove"), state.reports.get("add")
    added = additions.accepted if additions is not None else 0
    removed = removals.accepted if removals is not None else 0
    failed = sum(r.failed for r in (removals, additions) if r is not None)
    resolved = added + removed + failed
    stopped_by = next((r.stopped_by for r in (removals, additions) if r is not None and r.stopped_by), None)
    if stopped_by is None and outcome is not None and not isinstance(outcome, CohortSyncError):
        stopped_by = f"{type(outcome).__name__}: {outcome}"
    return CohortDeltaReport(
        **common,
        added=added,
        removed=removed,
        failed=failed,
        not_sent=common["to_add"] + common["to_remove"] - resolved,
        requests=sum(r.requests for r in (removals, additions) if r is not None),
        bytes=sum(r.bytes for r in (removals, additions) if r is not None),
        retries=sum(r.retries for r in (removals, additions) if r is not None),
        ledger_after=ledger_after,
        elapsed=state.clock() - state.started,
        failures=_failures(removals, additions),
        removals=removals,
        additions=additions,
        cancelled=any(r.cancelled for r in (removals, additions) if r is not None),
        stopped_by=stopped_by,
    )


async def _plan(state: _Run, run: LedgerRun, common: dict[str, Any]) -> CohortDeltaReport:
    """A dry run: pack both sides exactly as the passes would, send nothing."""
    requests = size = 0
    for side, action in _ACTIONS.items():
        total = common["to_add"] if side == "add" else common["to_remove"]
        if not total:
            continue
        plan = await cohort_sync.plan(
            state.transport,
            state.cohort,
            action,
            ChunkStream(partial(run.chunks, side, CHUNK_SIZE), total),
            max_request_bytes=state.max_request_bytes,
            dedupe=False,
        )
        requests += plan.requests
        size += plan.bytes
    return CohortDeltaReport(
        **common,
        added=0,
        removed=0,
        failed=0,
        not_sent=common["to_add"] + common["to_remove"],
        requests=requests,
        bytes=size,
        retries=0,
        ledger_after=common["ledger_before"],
        dry_run=True,
        eta=pacing_time(state.transport.limiter.limits, requests),
        elapsed=state.clock() - state.started,
    )
