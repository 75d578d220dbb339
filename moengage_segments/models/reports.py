"""What a cohort push reports: per-run totals, one record per batch, progress snapshots and plans.

None of these objects holds user IDs or credentials: counts, sizes, statuses, request ids and error
descriptions only (failed uids go to the ``failed_uids_path`` file when one is asked for).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from moengage_segments._frozen import FrozenMap, freeze_map

__all__ = [
    "BatchRecord",
    "BatchStatus",
    "CohortDeltaProgress",
    "CohortDeltaReport",
    "CohortPlan",
    "CohortSyncProgress",
    "CohortSyncReport",
    "DeltaPhase",
    "RefreshReason",
    "WaitingFor",
]

#: ``accepted``: every member accepted; ``failed``: none accepted; ``partial``: split after a 413 and
#: only some parts accepted; ``skipped``: confirmed by an earlier run (checkpoint), not re-sent;
#: ``not_sent``: the run stopped (cancelled, or ``on_error="raise"``) before the batch was confirmed.
BatchStatus = Literal["accepted", "failed", "partial", "skipped", "not_sent"]

#: What a push is waiting for when nothing moves: ``rate_limit``: batches are ready but the cohort rate
#: limit has no slot yet (see ``next_slot``); ``input``: everything read so far is sent and more input has
#: not arrived yet (a slow pipe or generator).
WaitingFor = Literal["rate_limit", "input"]


@attrs.frozen
class BatchRecord:
    """The outcome of one batch (one packed request body, possibly split after a 413).

    ``members``/``bytes`` describe the batch as packed; ``accepted``/``failed`` count its members by
    outcome; ``attempts`` counts HTTP attempts over all its parts; ``parts`` is 1 unless it was split
    because the service's size cap is below ours; ``rejected`` counts the 413 answers that made it split
    (once the run has seen a 413, bodies that large are split before sending, so ``rejected`` stays small);
    ``request_id`` is the last one the service returned; ``error`` describes the failure, if any.

    Example::

        for record in report.batches:
            if record.status == "failed":
                print(record.index, record.members, record.error, record.request_id)
    """

    index: int
    members: int
    bytes: int
    status: BatchStatus
    accepted: int = 0
    failed: int = 0
    attempts: int = 0
    parts: int = 1
    rejected: int = 0
    request_id: str | None = None
    error: str | None = None
    #: Input items read when this batch was cut (the position journaled for resumable runs).
    position: int = 0


@attrs.frozen
class CohortSyncProgress:
    """A snapshot passed to ``on_progress`` while a push runs (and once more at the end, ``done=True``).

    Snapshots come every ``progress_interval`` (0.5 s) while the push runs, also while it only waits
    (for the rate limit or for input): ``waiting_for`` says what it waits for and ``next_slot`` when the
    cohort rate limit has its next free slot (seconds from now; 0 when one is free).

    ``in_flight`` counts requests on the wire (sent, no answer yet); ``queued`` the batches packed and
    waiting to be sent (for a sender, a rate-limit slot or a retry's back-off). ``rate`` is members
    resolved (accepted, failed or skipped) per second since the start. ``eta`` is the seconds left: the
    slower of that rate and what the rate limit allows for the requests still to send (the arithmetic of
    ``plan()``, from the next free slot); ``None`` while the input's length is unknown (``total`` is
    ``None`` until a generator or a file has been read to its end).

    Example::

        def show(p: CohortSyncProgress) -> None:
            if p.waiting_for == "rate_limit":
                print(f"waiting for the rate limit, next slot in {p.next_slot:.0f}s")
            print(f"{p.accepted:,} accepted, {p.rate:,.0f}/s, eta {p.eta or 0:.0f}s")

        await client.cohorts.add_members(cohort, uids, on_progress=show)
    """

    submitted: int
    accepted: int
    failed: int
    invalid: int
    duplicates: int
    skipped: int
    requests: int
    in_flight: int
    elapsed: float
    rate: float
    total: int | None = None
    eta: float | None = None
    done: bool = False
    queued: int = 0
    waiting_for: WaitingFor | None = None
    next_slot: float = 0.0


@attrs.frozen
class CohortSyncReport:
    """The outcome of ``add_members``/``remove_members``: every input uid is counted exactly once.

    ``submitted == accepted + skipped + failed + invalid + duplicates + not_sent``, where ``submitted``
    counts the items read from the input, ``skipped`` those confirmed by an earlier run of the same
    checkpoint, and ``not_sent`` those read but not confirmed when the run stopped early (cancelled, or
    ``on_error="raise"``; the rest of the input was never read). ``requests`` counts HTTP attempts,
    ``bytes`` the body bytes of all attempts and ``retries`` the attempts beyond the first of each
    request. ``batches`` has one :class:`BatchRecord` per packed batch.

    Example::

        report = await client.cohorts.add_members(cohort, uids)
        assert report.ok, report.to_json()
        print(report.accepted, report.throughput)
    """

    action: str
    cohort_id: str
    submitted: int
    accepted: int
    failed: int
    invalid: int
    duplicates: int
    not_sent: int
    skipped: int
    requests: int
    bytes: int
    retries: int
    elapsed: float
    batches: tuple[BatchRecord, ...] = ()
    invalid_reasons: Mapping[str, int] = attrs.field(factory=FrozenMap, converter=freeze_map)
    #: Where the uids not accepted were written, when ``failed_uids_path`` was given: the ``failed`` ones
    #: and, after an early stop, the ``not_sent`` ones (CSV, columns ``uid`` and ``reason``).
    failed_uids_path: str | None = None
    cancelled: bool = False
    #: Why the run stopped early (``on_error="raise"`` or an unexpected error), if it did.
    stopped_by: str | None = None

    @property
    def throughput(self) -> float:
        """Accepted members per second of the run (0 when ``elapsed`` is 0).

        Example::

            print(f"{report.throughput:,.0f} members/s")
        """
        return self.accepted / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def ok(self) -> bool:
        """True when every valid, non-duplicate uid was accepted (now or by an earlier run).

        Example::

            if not report.ok:
                print(report.failed, "failed,", report.not_sent, "not sent:", report.stopped_by)
        """
        return self.failed == 0 and self.not_sent == 0 and not self.cancelled

    @property
    def accounted(self) -> int:
        """``accepted + skipped + failed + invalid + duplicates + not_sent`` (always ``submitted``).

        Example::

            assert report.accounted == report.submitted
        """
        return self.accepted + self.skipped + self.failed + self.invalid + self.duplicates + self.not_sent

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the report, derived figures included.

        Example::

            json.dump(report.to_dict(), sys.stdout)
        """
        data = attrs.asdict(self, recurse=True)
        data["batches"] = [attrs.asdict(b) for b in self.batches]
        data["invalid_reasons"] = dict(self.invalid_reasons)
        data["throughput"] = self.throughput
        data["ok"] = self.ok
        return data

    def to_json(self, *, indent: int | None = None) -> str:
        """The report as JSON text (see :meth:`to_dict`).

        Example::

            Path("report.json").write_text(report.to_json(indent=2))
        """
        return json.dumps(self.to_dict(), indent=indent)


@attrs.frozen
class CohortPlan:
    """What a push would do, computed by ``client.cohorts.plan`` without sending anything.

    ``eta`` is the least time the requests take under the client's cohort rate limit (0 when limits are
    off), request latency not included.

    Example::

        plan = await client.cohorts.plan(cohort, read_uids("uids.txt"))
        print(f"{plan.requests} requests, {plan.bytes:,} bytes, at least {plan.eta:.0f}s")
    """

    submitted: int
    members: int
    invalid: int
    duplicates: int
    requests: int
    bytes: int
    max_request_bytes: int
    eta: float
    invalid_reasons: Mapping[str, int] = attrs.field(factory=FrozenMap, converter=freeze_map)

    @property
    def fill(self) -> float:
        """Average fill of the request bodies, as a fraction of ``max_request_bytes`` (0 with no requests).

        Example::

            plan = await client.cohorts.plan(cohort, uids)
            print(f"bodies {plan.fill:.0%} full")
        """
        return self.bytes / (self.requests * self.max_request_bytes) if self.requests else 0.0


#: Why a sync re-sent the whole list: asked for (``full_refresh=True``), the first sync of the cohort, the
#: last full one older than ``refresh_after``, an interrupted one resumed, or the cohort inactive for longer
#: than the service's auto-archive period (its segment is probably gone: the whole list is added again and the
#: uids the record holds that the list does not are still removed).
RefreshReason = Literal["requested", "first", "refresh_after", "resumed", "inactive"]
DeltaPhase = Literal["diff", "remove", "add"]


@attrs.frozen
class CohortDeltaProgress:
    """A snapshot passed to ``on_progress`` while ``cohorts.sync`` runs (and once more at the end).

    ``phase`` is ``"diff"`` while the desired list is read and compared with the ledger (``read`` grows,
    the totals are still unknown), then ``"remove"`` and ``"add"`` while the changes are sent.

    Example::

        def show(p: CohortDeltaProgress) -> None:
            print(p.phase, p.read, f"{p.done}/{p.total}", p.requests)

        await client.cohorts.sync(cohort, uids, ledger=ledger, on_progress=show)
    """

    phase: DeltaPhase
    read: int
    to_add: int | None
    to_remove: int | None
    added: int
    removed: int
    failed: int
    requests: int
    in_flight: int
    elapsed: float
    #: True on the last snapshot.
    finished: bool = False

    @property
    def total(self) -> int | None:
        """Changes to send (adds + removes), once the diff is known.

        Example::

            print(progress.total)
        """
        if self.to_add is None or self.to_remove is None:
            return None
        return self.to_add + self.to_remove

    @property
    def done(self) -> int:
        """Changes resolved so far (accepted or failed).

        Example::

            print(f"{progress.done:,} of {progress.total:,}")
        """
        return self.added + self.removed + self.failed


@attrs.frozen
class CohortDeltaReport:
    """The outcome of ``cohorts.sync``: what the diff found, what was sent, what the ledger holds now.

    The desired list: ``submitted == desired + invalid + duplicates`` (duplicates are counted over the
    whole list; invalid uids are reported with the reasons ``add_members`` gives). The diff:
    ``desired == to_add + unchanged``; ``to_remove`` are the ledger's uids missing from the list. The
    changes: ``to_add + to_remove == added + removed + failed + not_sent``; failed changes (``failures``
    counts them by reason) are tried again by the next sync. ``requests``, ``bytes`` and ``retries`` cover
    both passes (``removals`` and ``additions`` are the engine's reports of each). ``ledger_before`` and
    ``ledger_after`` are the ledger's member counts. ``full_refresh`` says whether the whole list was
    re-sent, and ``refresh_reason`` why. A dry run (``dry_run=True``) sends nothing: ``requests``/``bytes``
    are then what the changes would take, and ``eta`` the least time at the client's rate limits.

    Example::

        report = await client.cohorts.sync(cohort, read_uids("today.txt"), ledger=SQLiteLedger("cohorts.db"))
        print(report.to_add, report.to_remove, report.unchanged, report.requests)
        assert report.ok, report.failures
    """

    cohort_id: str
    submitted: int
    desired: int
    invalid: int
    duplicates: int
    to_add: int
    to_remove: int
    unchanged: int
    added: int
    removed: int
    failed: int
    not_sent: int
    requests: int
    bytes: int
    retries: int
    ledger_before: int
    ledger_after: int
    full_refresh: bool
    refresh_reason: RefreshReason | None = None
    dry_run: bool = False
    eta: float | None = None
    elapsed: float = 0.0
    failures: Mapping[str, int] = attrs.field(factory=dict)
    invalid_reasons: Mapping[str, int] = attrs.field(factory=dict)
    warnings: tuple[str, ...] = ()
    removals: CohortSyncReport | None = None
    additions: CohortSyncReport | None = None
    cancelled: bool = False
    #: Why the run stopped early (``on_error="raise"`` or a fatal error such as bad credentials), if it did.
    stopped_by: str | None = None

    @property
    def ok(self) -> bool:
        """True when every change was accepted (a dry run, which sends nothing, is always ok).

        Example::

            if not report.ok:
                print(report.failed, "failed,", report.not_sent, "not sent:", report.stopped_by)
        """
        if self.dry_run:
            return True
        return self.failed == 0 and self.not_sent == 0 and not self.cancelled and self.stopped_by is None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the report (the two passes' reports nested).

        Example::

            json.dump(report.to_dict(), sys.stdout)
        """
        data = {f.name: getattr(self, f.name) for f in attrs.fields(CohortDeltaReport)}
        data["failures"] = dict(self.failures)
        data["invalid_reasons"] = dict(self.invalid_reasons)
        data["warnings"] = list(self.warnings)
        data["removals"] = self.removals.to_dict() if self.removals is not None else None
        data["additions"] = self.additions.to_dict() if self.additions is not None else None
        data["ok"] = self.ok
        return data

    def to_json(self, *, indent: int | None = None) -> str:
        """The report as JSON text (see :meth:`to_dict`).

        Example::

            Path("sync-report.json").write_text(report.to_json(indent=2))
        """
        return json.dumps(self.to_dict(), indent=indent)
