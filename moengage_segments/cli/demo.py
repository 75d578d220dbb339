"""``moengage-segments demo``: a tour of the SDK on the built-in emulator, no account needed.

It starts the emulator in-process and a small "your side" web app (serving a CSV file and receiving
file-segment callbacks, as your own service would), then: creates a file segment from the CSV and waits
for its callback, creates a filter segment, pushes a cohort of 200,000 uids with a live progress bar,
removes some, archives a segment, and ends with a summary table.

Rate-limit windows are time-scaled on both sides (emulator ``time_scale`` and the client's
``RateLimits().scaled(1 / time_scale)``): with the default 60 a one-minute window lasts one second, so
the documented 300 requests a minute become 300 a second and the tour finishes in seconds.

Example::

    $ moengage-segments demo                # the full tour
    $ moengage-segments demo --uids 20000 --json
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from moengage_segments.callbacks import CallbackReceiver
from moengage_segments.cli.cohort import progress_detail, report_views
from moengage_segments.cli.commands import callback_fields
from moengage_segments.cli.context import Context
from moengage_segments.cli.failures import ExitCode
from moengage_segments.cli.output import Fields, Result, Table, Text, View, jsonable
from moengage_segments.config import DEFAULT_MAX_REQUEST_BYTES, RateLimits
from moengage_segments.filters import all_of, attr
from moengage_segments.models import Cohort
from moengage_segments.models.reports import CohortSyncProgress, CohortSyncReport

__all__ = ["run_demo"]

SEEDED_USERS = 1_000
FILE_SEGMENT = "demo-vip-customers"
FILTER_SEGMENT = "demo-new-york"
COHORT = Cohort(
    id="demo-churn-risk",
    name="Demo churn risk",
    partner="demo-warehouse",
    description="pushed by moengage-segments demo",
)


def _csv(uids: list[str]) -> bytes:
    # Two lines the service skips as corrupted (quotes, a comma) show values_found vs values_processed.
    return ("\n".join([*uids, '"quoted"', "a,b"]) + "\n").encode()


@asynccontextmanager
async def _your_side(csv: bytes, receiver: CallbackReceiver) -> AsyncIterator[str]:
    """A loopback web app standing in for your service: serves the CSV, receives the callbacks."""

    async def serve_csv(_: web.Request) -> web.Response:
        return web.Response(body=csv, content_type="text/csv")

    app = web.Application()
    app.router.add_get("/files/vip.csv", serve_csv)
    receiver.mount(app, "/hooks/moengage")
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _summary_row(label: str, report: CohortSyncReport) -> tuple[object, ...]:
    fill = report.bytes / (report.requests * DEFAULT_MAX_REQUEST_BYTES) if report.requests else 0.0
    return (
        label,
        report.accepted,
        report.requests,
        report.bytes,
        f"{fill:.1%}",
        f"{report.throughput:,.0f}",
        report.failed + report.not_sent,
        report.retries,
    )


async def run_demo(ctx: Context) -> Result:
    """Run the tour; exit 0 when every step did what it should."""
    from moengage_segments.testing import Emulator

    a = ctx.args
    out = ctx.out
    started = time.monotonic()
    problems: list[str] = []
    data: dict[str, Any] = {}
    # accept_any_uid: the cohort push adds 200,000 uids without seeding 200,000 users first.
    async with Emulator(time_scale=a.time_scale, accept_any_uid=True) as emu:
        seeded = emu.generate_users(SEEDED_USERS, with_email=True)
        out.show(Text(f"1. emulator on {emu.base_url} (time scale {a.time_scale:g}), {SEEDED_USERS:,} users seeded"))
        receiver = CallbackReceiver(token=secrets.token_urlsafe(16))  # as in production: no token, no callback
        async with (
            _your_side(_csv(seeded[:600]), receiver) as your_url,
            ctx.client(
                workspace_id=emu.workspace_id,
                api_key=emu.api_key,
                base_url=emu.base_url,
                db_name=emu.db_name,
                data_center=None,
                rate_limits=RateLimits().scaled(1 / a.time_scale),
            ) as client,
        ):
            # 2. File segment from a CSV URL; the result arrives later, by callback.
            ack = await client.file_segments.create(
                FILE_SEGMENT,
                file_url=f"{your_url}/files/vip.csv",
                expiry_days=30,
                callback_url=receiver.url_for(f"{your_url}/hooks/moengage"),
            )
            out.show(
                Text(
                    f"2. file segment {FILE_SEGMENT!r} accepted (id {ack.segment_id}); "
                    "waiting for the processing callback"
                )
            )
            with out.progress("waiting for the callback") as bar:
                callback = await receiver.wait_for(FILE_SEGMENT, timeout=30)
                bar.finish(f"status {callback.status}, {callback.user_count} users")
            out.show(callback_fields(callback))
            if not callback.succeeded:
                problems.append(f"file segment processing failed: {callback.error_message}")
            data["file_segment"] = {"ack": jsonable(ack), "callback": jsonable(callback)}

            # 3. Filter segment, built with the typed filter builders.
            segment = await client.filter_segments.create(
                FILTER_SEGMENT, included=all_of(attr("city").is_in(["New York"]))
            )
            out.show(Text(f"3. filter segment {segment.name!r} created (id {segment.id})"))
            data["filter_segment"] = jsonable(segment)

            summaries = await client.segments.list()
            out.show(
                Table(
                    ("id", "name", "type"),
                    [(s.id, s.name, s.type) for s in summaries],
                    title=f"4. segments ({len(summaries)})",
                )
            )

            # 5. The main job: a large cohort push, then removing part of it.
            uids = [f"demo-{i:07d}" for i in range(a.uids)]
            reports: dict[str, CohortSyncReport] = {}
            for label, method, batch in (
                ("add", client.cohorts.add_members, uids),
                ("remove", client.cohorts.remove_members, uids[: len(uids) // 10]),
            ):
                with out.progress(f"cohort {label}", total=len(batch), unit="uids") as progress:

                    def on_progress(p: CohortSyncProgress, progress: Any = progress) -> None:
                        done, detail = progress_detail(p)
                        progress.update(done, detail=detail)

                    reports[label] = await method(COHORT, batch, on_progress=on_progress)
                if not reports[label].ok:
                    problems.append(f"cohort {label}: {reports[label].failed} failed")
            members = emu.cohort_segment(COHORT.id)
            out.show(
                *report_views(reports["add"]),
                Text(
                    f"5. cohort {COHORT.id!r}: {a.uids:,} pushed, {len(uids) // 10:,} removed, "
                    f"{members.member_count if members else 0:,} members now"
                ),
            )
            data["cohort"] = {
                label: {k: v for k, v in r.to_dict().items() if k != "batches"} for label, r in reports.items()
            }

            # 6. Archive the file segment.
            archived = await client.segments.archive(FILE_SEGMENT)
            out.show(Text(f"6. archived {FILE_SEGMENT!r} (HTTP {archived.status})"))
            data["archived"] = jsonable(archived)

    elapsed = time.monotonic() - started
    counters = emu.counters
    rows = [_summary_row(label, r) for label, r in reports.items()]
    summary = Table(
        ("cohort", "accepted", "requests", "bytes", "fill", "uids/s", "errors", "retries"), rows, title="summary"
    )
    totals = Fields(
        (
            ("API requests (emulator)", counters.requests),
            ("bytes received", counters.bytes_received),
            ("rate limited (429)", counters.rate_limited),
            ("demo time (s)", elapsed),
        )
    )
    data.update(
        summary=[dict(zip(summary.columns, row, strict=True)) for row in rows],
        requests=counters.requests,
        bytes=counters.bytes_received,
        rate_limited=counters.rate_limited,
        elapsed=elapsed,
        ok=not problems,
        problems=problems,
    )
    views: list[View] = [summary, totals, *(Text(f"problem: {p}") for p in problems)]
    return Result(data=data, views=views, exit_code=ExitCode.API_ERROR if problems else ExitCode.OK)
