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
import codecs
import contextlib
import csv
import json
import os
import sys
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from moengage_segments._async.client import AsyncClient
from moengage_segments.cli.context import Context
from moengage_segments.cli.failures import ExitCode, UsageError, hint_for
from moengage_segments.cli.output import Fields, Result, Table, Text, View
from moengage_segments.cli.progress import ProgressBar
from moengage_segments.errors import ConfigurationError, ValidationError
from moengage_segments.models import Cohort, CohortAction
from moengage_segments.models.cohorts import check_cohort
from moengage_segments.models.reports import CohortPlan, CohortSyncProgress, CohortSyncReport
from moengage_segments.uids import FAILED_UIDS_COLUMN, is_same_file, line_chunks, read_uids

__all__ = [
    "MAX_ERROR_WIDTH",
    "check_output_paths",
    "cohort_push",
    "duration",
    "exit_code_for",
    "open_input",
    "progress_detail",
    "report_views",
]

#: Longest error text in the failed-batch table (the report file and ``--json`` keep it whole).
MAX_ERROR_WIDTH = 80


def _column(text: str | None) -> str | int | None:
    """``--column``: digits are a 0-based index (files without a header), anything else a header name."""
    if text is None:
        return None
    return int(text) if text.isdigit() else text


class _StdinUids:
    """uids from stdin with the rules of :func:`read_uids` (blank lines skipped, BOM dropped).

    An async iterable fed by a daemon thread that reads the file descriptor with ``os.read``: a Ctrl-C
    then never waits for a producer that keeps the pipe open (a worker thread blocked in a read would
    hold up the event loop's shutdown). Call :meth:`start` first: with a named ``--column`` it reads the
    header row, so a missing column is reported before anything is sent. ``exhausted`` turns true at the
    end of the input; ``count`` is the number of uids handed out.
    """

    _BATCH = 4096

    def __init__(self, column: str | int | None, fd: int | None = None) -> None:
        self._column = column
        self._fd = sys.stdin.fileno() if fd is None else fd
        self._queue: asyncio.Queue[list[str] | BaseException | None] | None = None
        self._first: list[str] | BaseException | None = None
        self._peeked = False
        self.exhausted = False
        self.count = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue(maxsize=4)
        threading.Thread(target=self._read, args=(loop, self._queue), name="moengage-stdin", daemon=True).start()
        if isinstance(self._column, str):  # the header row decides whether the column exists
            self._first = await self._queue.get()
            self._peeked = True
            if isinstance(self._first, BaseException):
                raise self._first

    def _lines(self, read: Callable[[int], bytes]) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8-sig")("surrogateescape")
        rest = ""
        while True:
            data = read(1 << 16)
            text = rest + decoder.decode(data, final=not data)
            lines = text.split("\n")
            rest = lines.pop()
            for line in lines:
                yield line + "\n"
            if not data:
                if rest:
                    yield rest
                return

    def _rows(self, read: Callable[[int], bytes]) -> Iterator[str]:
        """The uids; with a named column the header row is read (and checked) before this returns."""
        column = self._column
        if column is None:
            return (uid for chunk in line_chunks(read, 1 << 16) for uid in chunk)
        reader = csv.reader(self._lines(read))
        if isinstance(column, str):
            header = next(reader, None)
            if header is None or column not in header:
                raise UsageError(f"--column {column}: stdin has no column named {column!r}{_available(header)}")
            column = header.index(column)
        return self._cells(reader, column)

    @staticmethod
    def _cells(reader: Iterator[list[str]], column: int) -> Iterator[str]:
        for number, row in enumerate(reader, start=1):
            if row:
                if column >= len(row):
                    raise UsageError(f"--column {column}: stdin row {number} has {len(row)} fields")
                yield row[column]

    def _read(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[list[str] | BaseException | None]) -> None:
        batch: list[str] = []

        def put(item: list[str] | BaseException | None) -> None:
            asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

        def read(size: int) -> bytes:
            # Hand over what was read before a read that may block: a slow pipe's uids move now, not
            # when _BATCH of them have arrived.
            nonlocal batch
            if batch:
                put(batch)
                batch = []
            return os.read(self._fd, size)

        try:
            try:
                rows = self._rows(read)
                if isinstance(self._column, str):
                    put([])  # the header row has the column: let start() return
                for uid in rows:
                    batch.append(uid)
                    if len(batch) >= self._BATCH:
                        put(batch)
                        batch = []
                if batch:
                    put(batch)
                put(None)
            except (UsageError, OSError) as exc:
                put(exc)
        except BaseException:  # the loop is gone (the command ended): nobody is listening any more
            return

    async def __aiter__(self) -> AsyncIterator[str]:
        assert self._queue is not None, "call start() first"
        while True:
            if self._peeked:
                item, self._first, self._peeked = self._first, None, False
            else:
                item = await self._queue.get()
            if item is None:
                self.exhausted = True
                return
            if isinstance(item, BaseException):
                raise item
            for uid in item:
                self.count += 1
                yield uid


def _available(header: list[str] | None) -> str:
    """``"; the header row has: a, b, c"`` (or ``"; the input is empty"``), for a missing-column error."""
    if not header:
        return "; the input is empty"
    shown = ", ".join(repr(h) for h in header[:20])
    return f"; the header row has: {shown}" + (f" and {len(header) - 20} more" if len(header) > 20 else "")


def _file_header(path: str) -> list[str] | None:
    try:
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
            return next(csv.reader(f), None)
    except OSError:
        return None


def progress_detail(p: CohortSyncProgress) -> tuple[int, str]:
    """``(items resolved, detail text)`` of a progress snapshot, for a progress bar.

    The detail names requests on the wire and queued, the rate, the ETA (which accounts for the rate
    limit) and, while the push only waits, what it waits for.

    Example::

        done, detail = progress_detail(snapshot)
        # detail: "12 requests, 0 in flight, 4 queued, 9,800 uids/s, eta 1m02s,
        #          waiting for the rate limit, next slot in 42s"
    """
    done = p.accepted + p.failed + p.skipped + p.invalid + p.duplicates
    detail = f"{p.requests:,} requests, {p.in_flight} in flight"
    if p.queued:
        detail += f", {p.queued} queued"
    detail += f", {p.rate:,.0f} uids/s"
    if p.eta and not p.done:  # 0 once every uid is resolved
        detail += f", eta {duration(p.eta)}"
    if p.failed:
        detail += f", {p.failed:,} failed"
    if p.waiting_for == "rate_limit":
        detail += f", waiting for the rate limit, next slot in {duration(p.next_slot)}"
    elif p.waiting_for == "input":
        detail += ", waiting for input"
    return done, detail


def duration(seconds: float) -> str:
    """A short human duration: ``0.4s``, ``42s``, ``1m02s``, ``2h05m``.

    Example::

        assert duration(62) == "1m02s"
    """
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


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
    views: list[View] = [
        Fields(
            (
                ("read", report.submitted),
                ("accepted", report.accepted),
                ("skipped (checkpoint)", report.skipped),
                ("failed", report.failed),
                ("invalid", report.invalid),
                ("duplicates", report.duplicates),
                ("not sent", report.not_sent),
                ("requests", report.requests),
                ("bytes", report.bytes),
                ("retries", report.retries),
                ("elapsed (s)", report.elapsed),
                ("uids/s", report.throughput),
            ),
            title=title,
        )
    ]
    failures = [b for b in report.batches if b.status in ("failed", "partial")]
    if failures:
        views.append(
            Table(
                ("batch", "members", "failed", "error", "request id"),
                [(b.index, b.members, b.failed, _shorten(b.error), b.request_id) for b in failures[:max_failures]],
                title=f"failed batches ({len(failures)}, first {min(len(failures), max_failures)})",
            )
        )
    if report.invalid_reasons:
        views.append(Table(("reason", "uids"), sorted(report.invalid_reasons.items()), title="invalid uids"))
    if report.stopped_by:
        # The whole error (the table above shortens it), and what to check, as for any other command.
        views.append(Text(f"stopped early: {report.stopped_by}{hint_for(report.stopped_by.split(':', 1)[0])}"))
    if report.failed_uids_path and (report.failed or report.not_sent):
        # Exactly what the file holds: the refused uids and, after an early stop, those read but not sent.
        kinds = ((report.failed, "refused by the service"), (report.not_sent, "read but not sent or not confirmed"))
        parts = [f"{n:,} {what}" for n, what in kinds if n]
        views.append(
            Text(
                f"wrote {report.failed + report.not_sent:,} uids to {report.failed_uids_path} ({', '.join(parts)}; "
                f"CSV with a reason column: push them again with --column {FAILED_UIDS_COLUMN})"
            )
        )
    return views


def _shorten(text: str | None, width: int = MAX_ERROR_WIDTH) -> str | None:
    """One line of at most ``width`` characters (the full text stays in ``--json`` and ``--report``)."""
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def _plan_views(plan: CohortPlan) -> list[View]:
    return [
        Fields(
            (
                ("read", plan.submitted),
                ("to send", plan.members),
                ("invalid", plan.invalid),
                ("duplicates", plan.duplicates),
                ("requests", plan.requests),
                ("bytes", plan.bytes),
                ("fill", f"{plan.fill:.1%} of {plan.max_request_bytes:,} bytes"),
                ("least time (s)", plan.eta),
            ),
            title="dry run: nothing was sent",
        )
    ]


def _plan_data(plan: CohortPlan) -> dict[str, Any]:
    return {
        "dry_run": True,
        "submitted": plan.submitted,
        "members": plan.members,
        "invalid": plan.invalid,
        "duplicates": plan.duplicates,
        "requests": plan.requests,
        "bytes": plan.bytes,
        "max_request_bytes": plan.max_request_bytes,
        "fill": plan.fill,
        "eta": plan.eta,
        "invalid_reasons": dict(plan.invalid_reasons),
    }


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def check_output_paths(input_path: str, flags: Iterable[tuple[str, str | None]]) -> None:
    """Check the output paths given (``(flag, path)``) before anything is read or sent: each writable, none
    the input file (``-`` is stdin) and no two the same file. A :class:`UsageError` names the flags.

    Example::

        check_output_paths("uids.txt", (("--failed-uids", "failed.csv"), ("--report", None)))
    """
    seen: list[tuple[str, str]] = []
    for flag, path in flags:
        if not path:
            continue
        _check_output_path(flag, path)
        if input_path != "-" and is_same_file(path, input_path):
            # Writing it would empty the input before it is read (pushing a failed-uids file again with the
            # same --failed-uids lost every uid in it).
            raise UsageError(f"{flag} {path}: that is the input file; give {flag} another path")
        for other_flag, other in seen:
            if is_same_file(path, other):
                raise UsageError(f"{other_flag} and {flag} name the same file ({path}); give each its own path")
        seen.append((flag, path))


def _check_output_path(flag: str, path: str) -> None:
    """Fail before anything is sent if ``path`` cannot be written (an existing file is left as it is)."""
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path}: is a directory")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"{flag} {path}: directory {parent} does not exist")
    existed = os.path.exists(path)
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {path}: {exc.strerror or exc}") from None
    if not existed:
        with contextlib.suppress(OSError):
            os.remove(path)


def _check_cohort(cohort: Cohort, name_given: bool) -> None:
    """Validate the cohort before any output, naming the flag rather than the SDK's field."""
    flags = {
        "cohort.id": "--cohort-id",
        "cohort.partner": "--partner",
        "cohort.description": "--description",
        "cohort.name": "--cohort-name" if name_given else "--cohort-name (defaults to --cohort-id)",
    }
    try:
        check_cohort(cohort)
    except ValidationError as exc:
        raise UsageError(f"{flags.get(exc.field, exc.field)}: {exc.reason}") from None


def _path_flags(a: Any) -> dict[str, str]:
    """Output paths given on the command line -> the flag that named them (two flags on one path are refused)."""
    flags = (("--checkpoint", a.checkpoint), ("--failed-uids", a.failed_uids), ("--report", a.report))
    check_output_paths(a.input, flags)
    return {path: flag for flag, path in flags if path}


def _final_detail(report: CohortSyncReport) -> str:
    detail = f"{report.requests:,} requests"
    if report.failed:
        detail += f", {report.failed:,} failed"
    return detail + (", interrupted" if report.cancelled else ", done")


def _client(ctx: Context) -> AsyncClient:
    """The client; a dry run needs no credentials (nothing is sent), so placeholders stand in."""
    try:
        return ctx.client()
    except ConfigurationError:
        if not ctx.args.dry_run:
            raise
        return ctx.client(workspace_id="dry-run", api_key="dry-run", data_center="01", base_url=None)


async def open_input(a: Any) -> tuple[Iterable[str] | AsyncIterable[str], _StdinUids | None, int | None]:
    """The uids of ``FILE``/``--column`` (stdin for ``-``), the stdin reader if any, and the file's count.

    Errors (no such file, no such column) are :class:`UsageError` naming the flag, before anything is sent.
    """
    column = _column(a.column)
    if a.input == "-":
        stdin = _StdinUids(column)
        await stdin.start()
        return stdin, stdin, None
    try:
        uids = read_uids(a.input, column)
    except ValidationError as exc:  # the SDK names its parameter ("path"); the user gave FILE
        raise UsageError(f"input file: {exc.reason}") from None
    if not uids.regular:  # a pipe (`<(zcat uids.gz)`): read once, by the push; counting would consume it
        return uids, None, None
    # One fast extra pass over the file gives the bar a total (and an early error for a bad path).
    try:
        total = await asyncio.to_thread(uids.count)
    except ValueError as exc:  # a CSV without the --column
        reason = exc.reason if isinstance(exc, ValidationError) else str(exc)
        if isinstance(column, str) and "no column named" in reason:
            reason += _available(_file_header(a.input))
        raise UsageError(f"--column {a.column}: {reason}") from None
    return uids, None, total


async def cohort_push(ctx: Context) -> Result:
    """``cohort add|remove``: dry run, or push with progress, report file and checkpoint."""
    a = ctx.args
    action: CohortAction = "add_members" if a.command[1] == "add" else "remove_members"
    if a.dry_run and (a.checkpoint or a.failed_uids):
        raise UsageError("--dry-run sends nothing: --checkpoint and --failed-uids do not apply")
    cohort = Cohort(id=a.cohort_id, name=a.cohort_name or a.cohort_id, partner=a.partner, description=a.description)
    _check_cohort(cohort, name_given=bool(a.cohort_name))
    paths = _path_flags(a)
    uids, stdin, total = await open_input(a)
    async with _client(ctx) as client:
        if a.dry_run:
            plan = await client.cohorts.plan(cohort, uids, action=action, max_request_bytes=a.max_request_bytes)
            data = _plan_data(plan)
            if a.report:
                _write(a.report, json.dumps(data, indent=2))
            return Result(data=data, views=_plan_views(plan))
        final: list[CohortSyncReport] = []
        options: dict[str, Any] = {
            "max_request_bytes": a.max_request_bytes,
            "checkpoint": a.checkpoint,
            "failed_uids_path": a.failed_uids,
            "on_report": final.append,
            "linger": a.linger,
        }
        if a.max_in_flight:
            options["max_in_flight"] = a.max_in_flight
        method = client.cohorts.add_members if action == "add_members" else client.cohorts.remove_members
        with contextlib.ExitStack() as stack:
            # The bar opens with the first snapshot: a push refused before it starts (a checkpoint of
            # another run, say) prints its error alone, not after a "0/1,002 uids (0%)" line.
            bars: list[ProgressBar] = []

            def bar() -> ProgressBar:
                if not bars:
                    label = f"cohort {a.command[1]} {cohort.id}"
                    bars.append(stack.enter_context(ctx.out.progress(label, total=total, unit="uids")))
                return bars[0]

            def on_progress(p: CohortSyncProgress) -> None:
                done, detail = progress_detail(p)
                bar().update(done, total=total if total is not None else p.total, detail=detail)

            try:
                report = await method(cohort, uids, on_progress=on_progress, **options)
            except asyncio.CancelledError:
                if not final:  # cancelled before the engine started: nothing to report
                    raise
                report = final[0]
            except OSError as exc:  # a path named by a flag, e.g. the journal of --checkpoint
                named = paths.get(str(exc.filename)) if exc.filename is not None else None
                if named is None:
                    raise
                raise UsageError(f"{named} {exc.filename}: {exc.strerror or exc}") from None
            # The final counts, not the last throttled snapshot (the engine sends none after Ctrl-C).
            bar().finish(_final_detail(report), completed=report.submitted - report.not_sent)
    report_error: str | None = None
    if a.report:
        try:
            _write(a.report, report.to_json(indent=2))
        except OSError as exc:
            report_error = f"{exc.strerror or exc}: {a.report}"
    views = report_views(report)
    if report.cancelled:
        if stdin is not None:
            whole_input = stdin.exhausted and stdin.count == report.submitted
        else:
            whole_input = total is not None and report.submitted >= total
        rest = "" if whole_input else " (the rest of the input was not read)"
        hint = " rerun with the same --checkpoint to resume" if a.checkpoint else ""
        views.append(
            Text(f"interrupted: {report.accepted:,} accepted, {report.not_sent:,} read but not sent{rest}.{hint}")
        )
    data = report.to_dict()
    code = exit_code_for(report)
    if report_error is None:
        return Result(data=data, views=views, exit_code=code)
    # The push itself is over: show its summary anyway, then say what is missing.
    data["report_not_written"] = report_error
    ctx.out.emit(Result(data=data, views=views))
    ctx.out.error(f"push done, report not written: {report_error}")
    return Result(data=None, quiet=True, exit_code=ExitCode.API_ERROR if code == ExitCode.OK else code)
