"""``moengage-segments cohort sync`` (delta sync with a ledger) and ``cohort ledger list|show|forget``.

``--ledger`` is a SQLite file path (the default kind; created on first use) or a ``postgresql://`` URL.
Exit codes as for ``cohort add``: 0 when every change was accepted (or a dry run), 3 when only some were,
1 when none were (or the ledger is locked by another sync), 130 after Ctrl-C (the summary says what was
sent; the next sync converges).

Example::

    $ moengage-segments cohort sync churn-today.txt --cohort-id churn --partner warehouse --ledger cohorts.db
    $ moengage-segments cohort ledger list --ledger cohorts.db
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta
from typing import Any

from moengage_segments._async.ledger import LedgerEntry, open_ledger
from moengage_segments.cli.cohort import _check_cohort, _client, _shorten, _write, check_output_paths, open_input
from moengage_segments.cli.context import Context
from moengage_segments.cli.failures import ExitCode, UsageError
from moengage_segments.cli.output import Fields, Result, Table, Text, View
from moengage_segments.config import ENV_WORKSPACE_ID
from moengage_segments.errors import ValidationError
from moengage_segments.models import Cohort
from moengage_segments.models.reports import CohortDeltaProgress, CohortDeltaReport

__all__ = ["cohort_sync", "delta_views", "ledger_command"]


def _ledger(a: Any) -> Any:
    try:
        return open_ledger(a.ledger)
    except ValidationError as exc:
        raise UsageError(f"--ledger {a.ledger}: {exc.reason}") from None


def delta_exit_code(report: CohortDeltaReport) -> ExitCode:
    """0 when every change went through (or a dry run), 1 when none did, 3 when only some did."""
    if report.cancelled:
        return ExitCode.INTERRUPTED
    if report.ok:
        return ExitCode.OK
    return ExitCode.API_ERROR if report.added + report.removed == 0 else ExitCode.PARTIAL


def delta_views(report: CohortDeltaReport, max_failures: int = 10) -> list[View]:
    """The report for people: the diff, what was sent, the ledger, then failures and invalid uids.

    Example::

        for view in delta_views(report): renderer.render(view)
    """
    title = f"cohort sync {report.cohort_id!r}"
    if report.dry_run:
        title += " (dry run: nothing was sent)"
    elif report.cancelled:
        title += " (interrupted)"
    refresh = f"yes ({report.refresh_reason})" if report.full_refresh else "no"
    items: list[tuple[str, object]] = [
        ("read", report.submitted),
        ("desired", report.desired),
        ("invalid", report.invalid),
        ("duplicates", report.duplicates),
        ("unchanged", report.unchanged),
        ("to add", report.to_add),
        ("to remove", report.to_remove),
        ("full refresh", refresh),
    ]
    if report.dry_run:
        items += [("requests", report.requests), ("bytes", report.bytes), ("least time (s)", report.eta)]
    else:
        items += [
            ("added", report.added),
            ("removed", report.removed),
            ("failed", report.failed),
            ("not sent", report.not_sent),
            ("requests", report.requests),
            ("bytes", report.bytes),
            ("retries", report.retries),
        ]
    items += [("ledger before", report.ledger_before), ("ledger after", report.ledger_after)]
    items.append(("elapsed (s)", report.elapsed))
    views: list[View] = [Fields(tuple(items), title=title)]
    views += [Text(f"warning: {w}") for w in report.warnings]
    if report.failures:
        rows = sorted(report.failures.items(), key=lambda kv: -kv[1])[:max_failures]
        views.append(Table(("uids", "reason"), [(n, _shorten(r)) for r, n in rows], title="failed changes"))
        views.append(Text("failed changes stay pending: the next sync tries them again"))
    if report.invalid_reasons:
        views.append(Table(("reason", "uids"), sorted(report.invalid_reasons.items()), title="invalid uids"))
    return views


async def cohort_sync(ctx: Context) -> Result:
    """``cohort sync``: diff FILE with the ledger, send the changes, print the summary."""
    a = ctx.args
    cohort = Cohort(id=a.cohort_id, name=a.cohort_name or a.cohort_id, partner=a.partner, description=a.description)
    _check_cohort(cohort, name_given=bool(a.cohort_name))
    check_output_paths(a.input, (("--report", a.report),))
    ledger = _ledger(a)
    uids, _, total = await open_input(a)
    options: dict[str, Any] = {
        "ledger": ledger,
        "full_refresh": a.full_refresh,
        "dry_run": a.dry_run,
        "max_request_bytes": a.max_request_bytes,
        "refresh_after": None if a.refresh_after_days == 0 else timedelta(days=a.refresh_after_days),
        "max_members": None if a.max_members == 0 else a.max_members,
        "lock_timeout": a.lock_timeout,
    }
    if a.max_in_flight:
        options["max_in_flight"] = a.max_in_flight
    final: list[CohortDeltaReport] = []
    async with _client(ctx) as client:
        with ctx.out.progress(f"cohort sync {cohort.id}", total=total, unit="uids") as bar:

            def on_progress(p: CohortDeltaProgress) -> None:
                if p.phase == "diff":
                    bar.update(p.read, total=total, detail="reading the list and comparing it with the ledger")
                else:
                    detail = f"{p.to_add:,} to add, {p.to_remove:,} to remove, {p.requests:,} requests"
                    bar.update(p.done, total=p.total, detail=detail + (f", {p.failed:,} failed" if p.failed else ""))

            try:
                report = await client.cohorts.sync(
                    cohort, uids, on_progress=on_progress, on_report=final.append, **options
                )
            except asyncio.CancelledError:
                if not final:  # cancelled before the diff was done: nothing was sent
                    raise
                report = final[0]
            bar.finish(
                "dry run" if report.dry_run else f"{report.requests:,} requests",
                completed=report.submitted if report.dry_run else report.added + report.removed + report.failed,
            )
    data = report.to_dict()
    views = delta_views(report)
    if report.cancelled:
        views.append(Text("interrupted: the ledger holds what was confirmed; run the same sync again to converge."))
    if a.report:
        _write(a.report, json.dumps(data, indent=2))
    return Result(data=data, views=views, exit_code=delta_exit_code(report))


def _workspace(a: Any) -> str:
    workspace = a.workspace_id or os.environ.get(ENV_WORKSPACE_ID)
    if not workspace:
        raise UsageError(f"the ledger is kept per workspace: give --workspace-id or set {ENV_WORKSPACE_ID}")
    return str(workspace)


def _entry_fields(entry: LedgerEntry) -> Fields:
    return Fields(
        (
            ("workspace", entry.workspace_id),
            ("cohort", entry.cohort_id),
            ("members", entry.members),
            ("in doubt", entry.in_doubt),
            ("last push", entry.last_push),
            ("last full refresh", entry.last_full_refresh),
            ("full refreshes", entry.epoch),
            ("refresh in progress", "yes" if entry.refreshing else "no"),
            ("created", entry.created),
            ("locked by", entry.holder),
        ),
        title=f"ledger record of cohort {entry.cohort_id!r}",
    )


async def ledger_command(ctx: Context) -> Result:
    """``cohort ledger list|show|forget``: inspect or drop the ledger's records."""
    a = ctx.args
    ledger = _ledger(a)
    action = a.command[2]
    if action == "list":
        entries = await ledger.entries(a.workspace_id)
        rows = [
            (e.workspace_id, e.cohort_id, e.members, e.in_doubt, e.last_push, e.last_full_refresh, e.holder)
            for e in entries
        ]
        columns = ("workspace", "cohort", "members", "in doubt", "last push", "last full refresh", "locked by")
        views: list[View] = [Table(columns, rows, title=f"{len(entries)} cohort(s) in {ledger.describe()}")]
        return Result(data=[e.to_dict() for e in entries], views=views)
    workspace = _workspace(a)
    if action == "show":
        entry = await ledger.entry(workspace, a.cohort_id)
        if entry is None:
            raise UsageError(f"no record of cohort {a.cohort_id!r} (workspace {workspace!r}) in {ledger.describe()}")
        return Result(data=entry.to_dict(), views=[_entry_fields(entry)])
    forgotten = await ledger.forget(workspace, a.cohort_id)
    text = (
        f"forgot cohort {a.cohort_id!r}: its next sync sends the whole list (and removes nothing)"
        if forgotten
        else f"no record of cohort {a.cohort_id!r} (workspace {workspace!r}): nothing to forget"
    )
    return Result(data={"forgotten": forgotten, "cohort_id": a.cohort_id}, views=[Text(text)])
