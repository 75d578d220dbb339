"""``moengage-segments cohort add|remove``: push any number of uids from a file or stdin.

The engine does the work (packing by exact bytes, pacing, retries, the checkpoint journal); this module
reads the input, shows progress, writes the report and picks the exit code: 0 when every valid uid was
accepted, 3 when only some were, 1 when none were, 130 after Ctrl-C (what was and was not sent is printed
first, and ``--checkpoint`` lets the next run resume).

Example::

    $ moengage-segments cohort add uids.txt --cohort-id churn --partner warehouse \\
          --checkpoint churn.journal --report churn-report.json
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from moengage_segments._async.client import AsyncClient
from moengage_segments.cli.context import Context
from moengage_segments.cli.failures import ExitCode, UsageError
from moengage_segments.cli.output import Fields, Result, Table, Text, View
from moengage_segments.errors import ConfigurationError
from moengage_segments.models import Cohort, CohortAction
from moengage_segments.models.reports import CohortPlan, CohortSyncProgress, CohortSyncReport
from moengage_segments.uids import UidFile, read_uids

__all__ = ["cohort_push", "exit_code_for", "progress_detail", "report_views"]


def _column(text: str | None) -> str | int | None:
    """``--column``: digits are a 0-based index (files without a header), anything else a header name."""
    if text is None:
        return None
    return int(text) if text.isdigit() else text


def _stdin_uids(column: str | int | None) -> Iterator[str]:
    """uids from stdin with the rules of :func:`read_uids` (blank lines skipped, BOM dropped)."""
    stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="surrogateescape", newline="")
    if column is None:
        for line in stream:
            uid = line.rstrip("\r\n")
            if uid:
                yield uid
        return
    reader = csv.reader(stream)
    if isinstance(column, str):
        header = next(reader, None)
        if header is None or column not in header:
            raise ValueError(f"stdin: no column named {column!r} in the header row")
        column = header.index(column)
    for number, row in enumerate(reader, start=1):
        if row:
            if column >= len(row):
                raise ValueError(f"stdin:{number}: row has {len(row)} fields, no column {column}")
            yield row[column]


def _count(uids: UidFile) -> int:
    return sum(len(chunk) for chunk in uids.iter_chunks())


def progress_detail(p: CohortSyncProgress) -> tuple[int, str]:
    """``(items resolved, detail text)`` of a progress snapshot, for a progress bar.

    Example::

        done, detail = progress_detail(snapshot)
    """
    done = p.accepted + p.failed + p.skipped + p.invalid + p.duplicates
    detail = f"{p.requests:,} requests, {p.in_flight} in flight, {p.rate:,.0f} uids/s"
    if p.failed:
        detail += f", {p.failed:,} failed"
    return done, detail


def exit_code_for(report: CohortSyncReport) -> ExitCode:
    """0 when the push is complete, 1 when nothing got through, 3 when only part of it did.

    Example::

        assert exit_code_for(report) == ExitCode.OK if report.ok else True
    """
    if report.cancelled:
        return ExitCode.INTERRUPTED
    if report.ok:
        return ExitCode.OK
    if report.accepted + report.skipped == 0:
        return ExitCode.API_ERROR
    return ExitCode.PARTIAL


def report_views(report: CohortSyncReport, max_failures: int = 10) -> list[View]:
    """The report for people: totals, then the first failed batches and the invalid-uid reasons.

    Example::

        for view in report_views(report): renderer.render(view)
    """
    title = f"cohort {report.action.replace('_', ' ')} {report.cohort_id!r}"
    if report.cancelled:
        title += " (interrupted)"
    views: list[View] = [Fields((
        ("read", report.submitted), ("accepted", report.accepted),
        ("skipped (checkpoint)", report.skipped), ("failed", report.failed), ("invalid", report.invalid),
        ("duplicates", report.duplicates), ("not sent", report.not_sent), ("requests", report.requests),
        ("bytes", report.bytes), ("retries", report.retries), ("elapsed (s)", report.elapsed),
        ("uids/s", report.throughput),
    ), title=title)]
    failures = [b for b in report.batches if b.status in ("failed", "partial")]
    if failures:
        views.append(Table(("batch", "members", "failed", "error", "request id"),
                           [(b.index, b.members, b.failed, b.error, b.request_id) for b in failures[:max_failures]],
                           title=f"failed batches ({len(failures)}, first {min(len(failures), max_failures)})"))
    if report.invalid_reasons:
        views.append(Table(("reason", "uids"), sorted(report.invalid_reasons.items()), title="invalid uids"))
    if report.failed_uids_path and (report.failed or report.not_sent):
        views.append(Text(f"uids not accepted were written to {report.failed_uids_path}"))
    return views


def _plan_views(plan: CohortPlan) -> list[View]:
    return [Fields((
        ("read", plan.submitted), ("to send", plan.members), ("invalid", plan.invalid),
        ("duplicates", plan.duplicates), ("requests", plan.requests), ("bytes", plan.bytes),
        ("fill", f"{plan.fill:.1%} of {plan.max_request_bytes:,} bytes"), ("least time (s)", plan.eta),
    ), title="dry run: nothing was sent")]


def _plan_data(plan: CohortPlan) -> dict[str, Any]:
    return {"dry_run": True, "submitted": plan.submitted, "members": plan.members, "invalid": plan.invalid,
            "duplicates": plan.duplicates, "requests": plan.requests, "bytes": plan.bytes,
            "max_request_bytes": plan.max_request_bytes, "fill": plan.fill, "eta": plan.eta,
            "invalid_reasons": dict(plan.invalid_reasons)}


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def _client(ctx: Context) -> AsyncClient:
    """The client; a dry run needs no credentials (nothing is sent), so placeholders stand in."""
    try:
        return ctx.client()
    except ConfigurationError:
        if not ctx.args.dry_run:
            raise
        return ctx.client(workspace_id="dry-run", api_key="dry-run", data_center="01", base_url=None)


async def cohort_push(ctx: Context) -> Result:
    """``cohort add|remove``: dry run, or push with progress, report file and checkpoint."""
    a = ctx.args
    action: CohortAction = "add_members" if a.command[1] == "add" else "remove_members"
    if a.dry_run and (a.checkpoint or a.failed_uids):
        raise UsageError("--dry-run sends nothing: --checkpoint and --failed-uids do not apply")
    cohort = Cohort(id=a.cohort_id, name=a.cohort_name or a.cohort_id, partner=a.partner, description=a.description)
    column = _column(a.column)
    uids: Iterable[str] = _stdin_uids(column) if a.input == "-" else read_uids(a.input, column)
    total: int | None = None
    if isinstance(uids, UidFile):
        # One fast extra pass over the file gives the bar a total (and an early error for a bad path).
        try:
            total = await asyncio.to_thread(_count, uids)
        except ValueError as exc:  # a CSV without the --column
            raise UsageError(str(exc)) from None
    async with _client(ctx) as client:
        if a.dry_run:
            plan = await client.cohorts.plan(cohort, uids, action=action, max_request_bytes=a.max_request_bytes)
            data = _plan_data(plan)
            if a.report:
                _write(a.report, json.dumps(data, indent=2))
            return Result(data=data, views=_plan_views(plan))
        final: list[CohortSyncReport] = []
        options: dict[str, Any] = {"max_request_bytes": a.max_request_bytes, "checkpoint": a.checkpoint,
                                   "failed_uids_path": a.failed_uids, "on_report": final.append}
        if a.max_in_flight:
            options["max_in_flight"] = a.max_in_flight
        method = client.cohorts.add_members if action == "add_members" else client.cohorts.remove_members
        with ctx.out.progress(f"cohort {a.command[1]} {cohort.id}", total=total, unit="uids") as bar:

            def on_progress(p: CohortSyncProgress) -> None:
                done, detail = progress_detail(p)
                bar.update(done, total=total if total is not None else p.total, detail=detail)

            try:
                report = await method(cohort, uids, on_progress=on_progress, **options)
            except asyncio.CancelledError:
                if not final:  # cancelled before the engine started: nothing to report
                    raise
                report = final[0]
    if a.report:
        _write(a.report, report.to_json(indent=2))
    views = report_views(report)
    if report.cancelled:
        hint = " rerun with the same --checkpoint to resume" if a.checkpoint else ""
        views.append(Text(f"interrupted: {report.accepted:,} accepted, {report.not_sent:,} read but not sent "
                          f"(the rest of the input was not read).{hint}"))
    return Result(data=report.to_dict(), views=views, exit_code=exit_code_for(report))
