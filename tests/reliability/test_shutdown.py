"""Cancellation and shutdown: a push stops promptly when cancelled and reports what was and was not sent;
Ctrl-C in a sync script or in the CLI ends cleanly with the partial report; a process that exits without
closing its client leaves no warnings and no hung threads."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from moengage_segments import Client, Cohort, CohortSyncProgress, CohortSyncReport
from moengage_segments.testing import Emulator, Fault
from tests.reliability._support import ROOT, assert_accounted, async_client, cohort_members

COHORT = Cohort(id="stop", name="Stop", partner="reliability")
SLOW = 0.2  # every cohort request takes this long: a push of 240 batches takes seconds


@pytest.fixture
def no_resource_warnings() -> Iterator[None]:
    gc.collect()  # what earlier tests in this worker left behind is theirs, not this test's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []


def uids(n: int) -> list[str]:
    return [f"stop-{i:06d}" for i in range(n)]


def check_partial(report: CohortSyncReport, emu: Emulator, total: int) -> None:
    """A cancelled run's report: every read uid accounted, the service holds at least the accepted ones."""
    assert report.cancelled and not report.ok and report.stopped_by is None
    assert_accounted(report, finished=False)
    assert report.accepted > 0 and report.not_sent > 0
    assert report.submitted < total  # the rest of the input was never read
    in_doubt = sum(b.members - b.accepted for b in report.batches if b.status == "not_sent")
    members = cohort_members(emu, COHORT)
    # Accepted ones landed; beyond those, only batches in flight at the cancel may have been applied.
    assert report.accepted <= len(members) <= report.accepted + in_doubt


async def test_cancelling_a_push_stops_promptly_and_reports(
    caplog: pytest.LogCaptureFixture, no_resource_warnings: None
) -> None:
    sent = uids(40_000)
    reports: list[CohortSyncReport] = []
    async with Emulator(accept_any_uid=True, rate_limits=False) as emu:
        emu.faults.set_random(Fault.slow(SLOW), 1.0, target="cohort")
        first_answer = asyncio.Event()

        def on_progress(progress: CohortSyncProgress) -> None:
            if progress.accepted:
                first_answer.set()

        async with async_client(emu) as client:
            task = asyncio.create_task(
                client.cohorts.add_members(
                    COHORT,
                    sent,
                    max_request_bytes=4_000,
                    max_in_flight=4,
                    on_progress=on_progress,
                    on_report=reports.append,
                )
            )
            await first_answer.wait()
            loop = asyncio.get_running_loop()
            cancelled_at = loop.time()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            stopped_in = loop.time() - cancelled_at
            # The client stays usable after a cancelled push.
            assert (await client.cohorts.send_batch(COHORT, "add_members", ["after-cancel"])).status == 200
    # Exiting the emulator waited for the requests still in flight: the membership is final.
    [report] = reports
    assert stopped_in < SLOW  # did not even wait for the requests in flight to be answered
    check_partial(report, emu, len(sent) + 1)
    assert "Unclosed" not in caplog.text


async def test_a_timeout_around_a_push_is_a_cancellation_with_a_report(no_resource_warnings: None) -> None:
    reports: list[CohortSyncReport] = []
    async with Emulator(accept_any_uid=True, rate_limits=False) as emu:
        emu.faults.set_random(Fault.slow(SLOW), 1.0, target="cohort")
        async with async_client(emu) as client:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(
                    client.cohorts.add_members(COHORT, uids(40_000), max_request_bytes=4_000, on_report=reports.append),
                    3 * SLOW,
                )
    check_partial(reports[0], emu, 40_000)


def script_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


async def interrupt_after_answers(
    emu: Emulator, command: list[str], answers: int = 9, timeout: float = 10.0
) -> tuple[int, str, str, float]:
    """Run ``command``, send it SIGINT (Ctrl-C) once the emulator answered ``answers`` requests.

    The default is one more than the 8 requests in flight: a 9th request is only sent by a sender that has
    read its first answer, so by then the client has accepted something (the emulator counts an answer
    before the client reads it).
    """
    proc = await asyncio.create_subprocess_exec(
        *command, env=script_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        while emu.counters.statuses[200] < answers:
            assert proc.returncode is None, "finished before the interrupt"
            await asyncio.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        interrupted = time.perf_counter()
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
        return proc.returncode or 0, out.decode(), err.decode(), time.perf_counter() - interrupted
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


SYNC_PUSH = """
import json, sys
from moengage_segments import Client, Cohort, RetryPolicy
reports = []
client = Client({ws!r}, {key!r}, base_url={url!r}, rate_limits=None)
try:
    client.cohorts.add_members(Cohort(id="stop", name="Stop", partner="reliability"),
                               (f"stop-{{i:06d}}" for i in range(40_000)), max_request_bytes=4_000,
                               on_report=reports.append)
except KeyboardInterrupt:
    print(reports[0].to_json())
    sys.exit(130)
"""


@pytest.mark.slow  # a subprocess and a real SIGINT
async def test_ctrl_c_in_a_sync_push(tmp_path: Path) -> None:
    async with Emulator(accept_any_uid=True, rate_limits=False) as emu:
        emu.faults.set_random(Fault.slow(SLOW), 1.0, target="cohort")
        code = SYNC_PUSH.format(ws=emu.workspace_id, key=emu.api_key, url=emu.base_url)
        status, out, err, took = await interrupt_after_answers(
            emu, [sys.executable, "-W", "error::ResourceWarning", "-c", code]
        )
    assert status == 130 and err == "", err
    assert took < 2.0
    report = json.loads(out)  # printed by the script from on_report
    assert report["cancelled"] and not report["ok"] and report["accepted"] > 0 and report["not_sent"] > 0
    assert (
        report["submitted"]
        == report["accepted"]
        + report["failed"]
        + report["invalid"]
        + report["duplicates"]
        + report["skipped"]
        + report["not_sent"]
    )
    assert report["accepted"] <= len(cohort_members(emu, COHORT))


@pytest.mark.slow  # two subprocesses and a real SIGINT
async def test_ctrl_c_in_the_cli_push_then_resume(tmp_path: Path) -> None:
    uid_file, journal, report_file = tmp_path / "uids.txt", tmp_path / "j", tmp_path / "report.json"
    sent = uids(40_000)
    uid_file.write_text("\n".join(sent) + "\n")
    async with Emulator(accept_any_uid=True, rate_limits=False) as emu:
        emu.faults.set_random(Fault.slow(SLOW), 1.0, target="cohort")
        command = [
            sys.executable,
            "-W",
            "error::ResourceWarning",
            "-m",
            "moengage_segments",
            "cohort",
            "add",
            str(uid_file),
            "--cohort-id",
            COHORT.id,
            "--partner",
            COHORT.partner,
            "--workspace-id",
            emu.workspace_id,
            "--api-key",
            emu.api_key,
            "--base-url",
            emu.base_url,
            "--checkpoint",
            str(journal),
            "--report",
            str(report_file),
            "--max-request-bytes",
            "4000",
            "--plain",
        ]
        status, out, err, took = await interrupt_after_answers(emu, command)
        assert status == 130, (out, err)
        assert took < 2.0
        assert "interrupted" in out and "Traceback" not in err and "Unclosed" not in err
        report = json.loads(report_file.read_text())
        assert report["cancelled"] and report["accepted"] > 0 and report["not_sent"] > 0
        assert f"{report['accepted']:,}" in out  # the partial report is printed

        emu.faults.clear()
        resumed = await asyncio.create_subprocess_exec(
            *command, env=script_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out2, err2 = await asyncio.wait_for(resumed.communicate(), 60)
        assert resumed.returncode == 0, (out2, err2)
        final = json.loads(report_file.read_text())
        assert final["ok"] and final["skipped"] >= report["accepted"] - 4_000 and final["skipped"] > 0
        assert final["skipped"] + final["accepted"] == len(sent)
        assert cohort_members(emu, COHORT) == frozenset(sent)


# -- interpreter exit without close() ---------------------------------------------------------------------

EXIT_SCRIPTS: dict[str, tuple[str, int]] = {
    "async client used, never closed": (
        """
        import asyncio
        from moengage_segments import AsyncClient, Cohort
        async def main():
            client = AsyncClient(WS, KEY, base_url=URL, rate_limits=None)
            await client.segments.list()
            await client.cohorts.add_members(Cohort(id="x", name="X", partner="p"), ["a", "b"])
        asyncio.run(main())
        print("done")
    """,
        0,
    ),
    "async client dropped while the loop runs": (
        """
        import asyncio, gc
        from moengage_segments import AsyncClient
        async def use_and_drop():
            await AsyncClient(WS, KEY, base_url=URL, rate_limits=None).segments.list()
        async def main():
            await use_and_drop()
            gc.collect()
            await asyncio.sleep(0.1)  # the loop closes the dropped session meanwhile
        asyncio.run(main())
        print("done")
    """,
        0,
    ),
    "async client never used": (
        """
        import asyncio
        from moengage_segments import AsyncClient
        async def main():
            AsyncClient(WS, KEY, base_url=URL)
        asyncio.run(main())
        print("done")
    """,
        0,
    ),
    "SystemExit in the middle of an async push": (
        """
        import asyncio, sys
        from moengage_segments import AsyncClient, Cohort
        async def main():
            client = AsyncClient(WS, KEY, base_url=URL, rate_limits=None)
            uids = [f"u{i}" for i in range(200_000)]
            asyncio.create_task(client.cohorts.add_members(Cohort(id="x", name="X", partner="p"), uids,
                                                           max_request_bytes=2_000))
            await asyncio.sleep(0.3)
            print("done")
            sys.exit(3)
        asyncio.run(main())
    """,
        3,
    ),
    "sync client used, never closed": (
        """
        from moengage_segments import Client, Cohort
        client = Client(WS, KEY, base_url=URL, rate_limits=None)
        client.segments.list()
        client.cohorts.add_members(Cohort(id="x", name="X", partner="p"), (f"u{i}" for i in range(20_000)))
        print("done")
    """,
        0,
    ),
    "sync client used from threads, never closed": (
        """
        import threading
        from moengage_segments import Client
        client = Client(WS, KEY, base_url=URL, rate_limits=None)
        threads = [threading.Thread(target=client.segments.list) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        print("done")
    """,
        0,
    ),
    "sync client: exit while a push runs in a daemon thread": (
        """
        import threading, time
        from moengage_segments import Client, ClientStateError, Cohort
        client = Client(WS, KEY, base_url=URL, rate_limits=None)
        def push():
            try:
                client.cohorts.add_members(Cohort(id="x", name="X", partner="p"),
                                           [f"u{i}" for i in range(300_000)], max_request_bytes=2_000)
            except ClientStateError:
                pass  # documented: at exit the client closes, and a call still running says so
        threading.Thread(target=push, daemon=True).start()
        time.sleep(0.3)
        print("done")
    """,
        0,
    ),
}


@pytest.fixture(scope="module")
def exit_emulator() -> Iterator[Emulator]:
    with Emulator.in_thread(accept_any_uid=True, rate_limits=False) as emu:
        emu.faults.set_random(Fault.slow(0.01), 1.0, target="cohort")
        yield emu


@pytest.mark.slow  # an interpreter per case
@pytest.mark.parametrize("name", list(EXIT_SCRIPTS))
def test_interpreter_exit_without_close(exit_emulator: Emulator, name: str) -> None:
    body, expected = EXIT_SCRIPTS[name]
    prelude = f"WS, KEY, URL = {exit_emulator.workspace_id!r}, {exit_emulator.api_key!r}, {exit_emulator.base_url!r}\n"
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", prelude + textwrap.dedent(body)],
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    took = time.perf_counter() - started
    assert (result.returncode, result.stdout.strip(), result.stderr) == (expected, "done", ""), result.stderr
    assert took < 15  # no thread kept the interpreter alive


def test_no_portal_thread_outlives_a_closed_sync_client(exit_emulator: Emulator) -> None:
    before = set(threading.enumerate())
    with Client(
        exit_emulator.workspace_id, exit_emulator.api_key, base_url=exit_emulator.base_url, rate_limits=None
    ) as client:
        client.segments.list()
        assert set(threading.enumerate()) - before  # the loop thread ran
    assert set(threading.enumerate()) - before == set()
