"""Property tests, end to end through the emulator (the packer's own properties are in tests/cohort).

* Arbitrary Unicode uids (quotes, backslashes, controls, U+2028, emoji, combining marks, BOM ...) pushed with
  a random byte budget against a server with a random cap land in the service *exactly*: the membership
  equals the valid input, every body the service accepted fits the budget, and the report adds up.
* For random fault schedules (hypothesis writes ``emu.faults.script(...)``: 4xx, 413, 429, 5xx, HTML pages,
  resets before and after handling, slow answers) and random retry limits, the report accounts for every
  uid, the failed-uids file lists exactly the failed ones, the service holds every accepted uid and no uid
  outside the accepted ones except those of batches it applied while answering with a failure.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from moengage_segments import Cohort, CohortSyncReport, RetryPolicy, read_uids
from moengage_segments._async.packing import CohortEnvelope, wire_form
from moengage_segments.testing import Emulator, Fault
from moengage_segments.validation import uid_problem
from tests.reliability._support import assert_accounted, async_client, cohort_members

_ids = itertools.count()

#: Any code point except lone surrogates (those are invalid uids; tests/cohort covers them), mixed with
#: fragments that need JSON escaping or take several UTF-8 bytes.
tricky = st.sampled_from(
    [
        '"',
        "\\",
        "\n",
        "\r",
        "\t",
        "\x1f",
        "\x7f",
        "\u2028",
        "\u2029",
        "\ufeff",
        "é",
        "e\u0301",
        "日本",
        "😀",
        "\U0010fffd",
        " ",
        "/",
        "</script>",
        "%",
        "{}",
        "\\u0000",
    ]
)
uid = st.lists(st.one_of(st.characters(blacklist_categories=("Cs",)), tricky), min_size=1, max_size=20).map("".join)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator.in_thread(accept_any_uid=True, rate_limits=False, request_log_size=100_000) as emu:
        yield emu


def new_cohort() -> Cohort:
    return Cohort(id=f"prop-{next(_ids)}", name="Property", partner="reliability")


async def push(emu: Emulator, cohort: Cohort, uids: list[str], **options: Any) -> CohortSyncReport:
    retry = options.pop("retry", None)
    extra = {"retry": retry} if retry is not None else {}
    async with async_client(emu, **extra) as client:
        return await client.cohorts.add_members(cohort, uids, **options)


@pytest.mark.slow  # 60 pushes against the emulator
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    uids=st.lists(uid, max_size=300),
    padding=st.integers(min_value=0, max_value=1_500),
    budget=st.integers(min_value=400, max_value=6_000),
    server_cap=st.one_of(st.none(), st.integers(min_value=250, max_value=3_000)),
    in_flight=st.integers(min_value=1, max_value=4),
)
def test_unicode_uids_land_exactly(
    emulator: Emulator, uids: list[str], padding: int, budget: int, server_cap: int | None, in_flight: int
) -> None:
    # Padding with plain uids interleaved makes full batches (and so 413 splits) common.
    uids = [u for pair in itertools.zip_longest(uids, (f"p{i}" for i in range(padding))) for u in pair if u is not None]
    cohort = new_cohort()
    emulator.reset_counters()
    emulator.config.max_cohort_body_bytes = server_cap or 128_000
    try:
        report = asyncio.run(push(emulator, cohort, uids, max_request_bytes=budget, max_in_flight=in_flight))
    finally:
        emulator.config.max_cohort_body_bytes = 128_000
    envelope = CohortEnvelope(cohort, "add_members")
    valid = [u for u in uids if uid_problem(u) is None and len(envelope.body([wire_form(u)])) <= budget]
    assert report.invalid == len(uids) - len(valid)
    event(f"split={'yes' if any(b.parts > 1 for b in report.batches) else 'no'}, failed={report.failed > 0}")
    assert_accounted(report)
    if report.failed == 0:
        assert cohort_members(emulator, cohort) == set(valid)
    else:
        # Only a member too large for the *server* alone can fail (a 413 that cannot be split further).
        assert server_cap is not None and all(b.error and "413" in b.error for b in report.batches if b.failed)
        assert cohort_members(emulator, cohort) <= set(valid)
    sizes = [r.body_size for r in emulator.requests if r.status == 200]
    assert all(size <= min(budget, server_cap or budget) for size in sizes)


def fault() -> st.SearchStrategy[Fault]:
    status = st.sampled_from([400, 401, 403, 413, 429, 500, 502, 503, 504])

    def status_fault(code: int, html: bool, after: bool, hint: bool) -> Fault:
        if code >= 500:
            return Fault.server_error(code, html=html, after=after)
        if code == 429:
            return Fault.rate_limited(retry_after=0.001 if hint else None)
        return Fault("status", code)

    return st.one_of(
        st.builds(status_fault, status, st.booleans(), st.booleans(), st.booleans()),
        st.builds(Fault.connection_reset, after=st.booleans()),
        st.builds(Fault.slow, st.floats(min_value=0.0, max_value=0.01)),
        st.none(),  # a gap: this request goes through
    )


def read_failed(path: Path) -> list[str]:
    """The uids the service refused (the file also lists, after an early stop, those not sent)."""
    return [
        uid
        for uid, reason in zip(read_uids(path, column="uid"), read_uids(path, column="reason"), strict=True)
        if reason.startswith("refused")
    ]


def read_not_sent(path: Path) -> list[str]:
    """Those read but not sent, or abandoned mid-request, after an early stop."""
    return [
        uid
        for uid, reason in zip(read_uids(path, column="uid"), read_uids(path, column="reason"), strict=True)
        if reason.startswith(("not sent", "not confirmed"))
    ]


@pytest.mark.slow  # 100 fault schedules against the emulator
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    schedule=st.lists(fault(), min_size=3, max_size=40),
    n=st.integers(min_value=0, max_value=3_000) | st.integers(min_value=500, max_value=3_000),
    attempts=st.integers(min_value=1, max_value=4),
    in_flight=st.integers(min_value=1, max_value=4),
    on_error=st.sampled_from(["collect", "raise"]),
)
def test_report_accounting_holds_for_random_fault_schedules(
    emulator: Emulator,
    tmp_path: Path,
    schedule: list[Fault | None],
    n: int,
    attempts: int,
    in_flight: int,
    on_error: str,
) -> None:
    cohort = new_cohort()
    uids = [f"f{i:05d}" for i in range(n)]
    failed_path = tmp_path / f"failed-{cohort.id}.txt"
    emulator.reset_counters()
    emulator.faults.clear()
    for item in schedule:
        # A gap is a slow(0) fault: it consumes its place in the script and changes nothing.
        emulator.faults.script(item if item is not None else Fault.slow(0.0), target="cohort")
    reports: list[CohortSyncReport] = []
    retry = RetryPolicy(base=0.0005, cap=0.002, rate_limit_cap=0.005, max_attempts=attempts)
    try:
        asyncio.run(
            push(
                emulator,
                cohort,
                uids,
                max_request_bytes=2_000,
                max_in_flight=in_flight,
                on_error=on_error,
                retry=retry,
                failed_uids_path=failed_path,
                on_report=reports.append,
            )
        )
    except Exception as exc:  # on_error="raise": CohortSyncError carries the same report
        assert on_error == "raise" and type(exc).__name__ == "CohortSyncError"
    finally:
        emulator.faults.clear()
    [report] = reports
    event(
        f"on_error={on_error}, failed={'some' if report.failed else 'none'}, "
        f"split={'yes' if any(b.parts > 1 for b in report.batches) else 'no'}, "
        f"retried={'yes' if report.retries else 'no'}"
    )
    # A 401/403 ends even a "collect" run early (every later batch would be refused too).
    finished = on_error == "collect" and report.stopped_by is None
    if on_error == "collect" and not finished:
        assert report.stopped_by is not None
        assert report.stopped_by.startswith(("AuthenticationError", "PermissionDeniedError"))
    assert_accounted(report, finished=finished)
    failed = read_failed(failed_path)
    assert len(failed) == report.failed
    assert len(read_not_sent(failed_path)) == report.not_sent
    members = cohort_members(emulator, cohort)
    if finished:
        assert report.not_sent == 0 and report.submitted == n
        accepted = set(uids) - set(failed)
        assert len(accepted) == report.accepted
        # Every accepted uid is in the service; anything else there was applied by a request answered with
        # an (injected, after-handling) failure, i.e. belongs to a failed batch.
        assert accepted <= members and members - accepted <= set(failed)
        assert report.requests == emulator.counters.requests_by_endpoint["cohort_sync"]
        if not any(f is not None and f.after for f in schedule):
            assert members == accepted
    else:
        assert members <= set(uids) and report.accepted <= len(members)
        assert report.failed <= sum(b.members for b in report.batches if b.failed)
