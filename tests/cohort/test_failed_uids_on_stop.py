"""After an early stop (cancellation, on_error="raise", a wrong key) the failed-uids file holds every uid read and
not accepted, refused or not sent, with the reason, and reads back with read_uids(path, column="uid")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from moengage_segments import (
    AsyncClient,
    Cohort,
    CohortSyncError,
    CohortSyncReport,
    RateLimits,
    ValidationError,
    Window,
    read_uids,
)
from tests.cohort._sink import Sink

COHORT = Cohort(id="churn", name="Churn risk", partner="warehouse")


def _rows(path: Path) -> list[tuple[str, str]]:
    return list(zip(read_uids(path, column="uid"), read_uids(path, column="reason"), strict=True))


def _check_file(path: Path, report: CohortSyncReport, uids: list[str], delivered: set[str], why: str) -> None:
    rows = _rows(path)
    refused = [uid for uid, reason in rows if reason.startswith("refused: ")]
    unsent = [uid for uid, reason in rows if reason == f"not sent: {why}"]
    unconfirmed = [uid for uid, reason in rows if reason == f"not confirmed: {why} during its request"]
    assert len(rows) == len(refused) + len(unsent) + len(unconfirmed)
    assert len(refused) == report.failed and len(unsent) + len(unconfirmed) == report.not_sent
    # Every uid read is accepted or in the file, exactly once.
    read = uids[: report.submitted]
    accepted = delivered - set(unconfirmed)  # a request abandoned mid-way may have reached the service
    assert len(accepted) == report.accepted
    assert sorted(accepted | set(refused) | set(unsent) | set(unconfirmed)) == sorted(read)
    assert not delivered & set(unsent)  # "not sent" is never in the service


async def test_cancelled_push_writes_the_unsent_uids(tmp_path: Path) -> None:
    path = tmp_path / "failed.csv"
    uids = [f"k{i:06d}" for i in range(20_000)]
    reports: list[CohortSyncReport] = []
    async with Sink(delay=0.05) as sink, AsyncClient("ws", "key", base_url=sink.url, rate_limits=None) as client:
        task = asyncio.ensure_future(
            client.cohorts.add_members(
                COHORT, uids, max_request_bytes=4_000, max_in_flight=2, failed_uids_path=path, on_report=reports.append
            )
        )
        while sink.received < 300:  # noqa: ASYNC110  # polling a counter of the test sink
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        delivered = set(sink.members[COHORT.id])
    (report,) = reports
    assert report.cancelled and report.not_sent > 0 and report.failed == 0
    assert report.failed_uids_path == str(path)
    _check_file(path, report, uids, delivered, "cancelled")


async def test_raise_writes_the_refused_batch_and_what_was_left(tmp_path: Path) -> None:
    path = tmp_path / "failed.csv"
    uids = [f"r{i:05d}" for i in range(5_000)]

    def refuse_third(number: int, body: dict[str, object]) -> tuple[int, dict[str, str]] | None:
        return (400, {}) if number == 3 else None

    async with (
        Sink(fault=refuse_third, delay=0.01) as sink,
        AsyncClient("ws", "key", base_url=sink.url, rate_limits=None) as client,
    ):
        with pytest.raises(CohortSyncError) as info:
            await client.cohorts.add_members(
                COHORT, uids, max_request_bytes=2_000, max_in_flight=2, on_error="raise", failed_uids_path=path
            )
        delivered = set(sink.members.get(COHORT.id, set()))
    report = info.value.report
    assert report.failed > 0 and report.not_sent > 0
    assert {reason for _, reason in _rows(path) if reason.startswith("refused")} == {"refused: HTTP 400 injected 400"}
    _check_file(path, report, uids, delivered, "stopped at the first failed batch (on_error='raise')")


async def test_a_wrong_key_writes_the_rest_as_not_sent(tmp_path: Path) -> None:
    path = tmp_path / "failed.csv"
    uids = [f"w{i:05d}" for i in range(3_000)]

    def wrong_key(number: int, body: dict[str, object]) -> tuple[int, dict[str, str]] | None:
        return (401, {})

    async with Sink(fault=wrong_key) as sink, AsyncClient("ws", "key", base_url=sink.url, rate_limits=None) as client:
        report = await client.cohorts.add_members(
            COHORT, uids, max_request_bytes=2_000, max_in_flight=2, failed_uids_path=path
        )
    assert report.stopped_by and report.stopped_by.startswith("AuthenticationError")
    _check_file(path, report, uids, set(), "stopped by AuthenticationError")


async def test_an_output_that_is_the_input_file_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    # Pushing a failed-uids file again with the same failed_uids_path emptied it before it was read.
    failed = tmp_path / "failed.csv"
    failed.write_text("uid,reason\r\nu1,not sent: cancelled\r\nu2,not sent: cancelled\r\n")
    before = failed.read_bytes()
    async with Sink() as sink, AsyncClient("ws", "key", base_url=sink.url, rate_limits=None) as client:
        for options in ({"failed_uids_path": failed}, {"checkpoint": tmp_path / "." / "failed.csv"}):
            with pytest.raises(ValidationError) as info:
                await client.cohorts.add_members(COHORT, read_uids(failed, column="uid"), **options)  # type: ignore[arg-type]
            assert info.value.field == next(iter(options))
        with pytest.raises(ValidationError) as info:
            await client.cohorts.add_members(
                COHORT, ["u1"], checkpoint=tmp_path / "j", failed_uids_path=str(tmp_path / "j")
            )
        assert info.value.field == "failed_uids_path"
        assert sink.requests == 0
    assert failed.read_bytes() == before


async def test_batches_still_waiting_for_a_rate_limit_slot_are_not_sent_not_unconfirmed(tmp_path: Path) -> None:
    # Only a request that went on the wire may have reached the service; one waiting for its slot did not.
    path = tmp_path / "failed.csv"
    uids = [f"q{i:05d}" for i in range(2_000)]
    reports: list[CohortSyncReport] = []
    limits = RateLimits(cohort=(Window(2, 30),), margin=0.0)  # two requests, then a 30 s wait
    async with (
        Sink(delay=0.2) as sink,
        AsyncClient("ws-queued", "key", base_url=sink.url, rate_limits=limits) as client,
    ):
        task = asyncio.ensure_future(
            client.cohorts.add_members(
                COHORT, uids, max_request_bytes=4_000, max_in_flight=4, failed_uids_path=path, on_report=reports.append
            )
        )
        while sink.requests < 2:  # noqa: ASYNC110  # polling a counter of the test sink
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
    (report,) = reports
    rows = _rows(path)
    assert len(rows) == report.not_sent > 0 and report.accepted == 0
    reasons = [reason for _, reason in rows]
    # The two requests the sink was answering when the run stopped may have reached it; nothing else did.
    unconfirmed = [uid for uid, reason in rows if reason.startswith("not confirmed")]
    assert reasons.count("not sent: cancelled") == len(rows) - len(unconfirmed)
    # Four senders took a batch each; two are on the wire, two wait for a slot (all four batches are full).
    assert len(unconfirmed) == 2 * report.batches[0].members == 2 * report.batches[3].members
