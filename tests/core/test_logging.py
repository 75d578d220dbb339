"""DEBUG logging: request, response and retry lines with method, path, status and attempt; no secrets or uids."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from aioresponses import aioresponses

from moengage_segments import AsyncClient, Cohort, ConfigurationError, RetryPolicy, ServerError
from tests.core._support import API_KEY, BASE, BASIC

UIDS = ["uid-PRIVATE-001", "uid-PRIVATE-002"]


def _all_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = []
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), str(record.msg)]
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


async def test_debug_lines_and_no_secrets(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    url = BASE + "/v1/integrations/cohortsync"
    mocked.post(
        url,
        status=503,
        payload={"status": "fail", "error": {"type": "Server Error", "message": "m", "request_id": "REQ12345"}},
    )
    mocked.post(url, status=200, payload={"status": "success"})
    caplog.set_level(logging.DEBUG, logger="moengage_segments")
    await make_client(db_name="db").cohorts.send_batch(Cohort(id="c", name="C", partner="p"), "add_members", UIDS)
    records = [r for r in caplog.records if r.name.startswith("moengage_segments")]
    assert records and all(r.levelno == logging.DEBUG for r in records)
    messages = [r.getMessage() for r in records]
    path = "/v1/integrations/cohortsync"
    assert any(m.startswith(f"POST {path} (attempt 1") for m in messages), messages
    assert any(m.startswith(f"POST {path} (attempt 2") for m in messages), messages
    assert any(
        m.startswith(f"POST {path} -> HTTP 503: Server Error - m [request_id=REQ12345]") and m.endswith("(attempt 1)")
        for m in messages
    ), messages
    assert any("retrying POST " + path in m and "HTTP 503" in m and "attempt 1 of 5" in m for m in messages), messages
    assert any(m.startswith(f"POST {path} -> 200 in") and "(attempt 2)" in m for m in messages), messages
    text = _all_text(caplog)
    for secret in (API_KEY, BASIC, BASIC.split()[1], *UIDS):
        assert secret not in text
    assert "'Authorization': '***'" in text


async def test_failed_call_logs_no_secrets(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.get(BASE + "/v3/custom-segments", status=500, body=("oops " + API_KEY).encode(), repeat=True)
    caplog.set_level(logging.DEBUG, logger="moengage_segments")
    with pytest.raises(ServerError):
        await make_client(retry=RetryPolicy(max_attempts=2)).segments.list()
    messages = [r.getMessage() for r in caplog.records]
    assert any("GET /v3/custom-segments -> HTTP 500" in m for m in messages)
    assert API_KEY not in _all_text(caplog) and BASIC.split()[1] not in _all_text(caplog)


async def test_nothing_is_logged_above_debug(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.get(BASE + "/v3/custom-segments", payload={"data": []})
    caplog.set_level(logging.INFO, logger="moengage_segments")
    await make_client().segments.list()
    assert [r for r in caplog.records if r.name.startswith("moengage_segments")] == []


async def test_v2_call_without_db_name_is_refused_before_sending_and_logs_nothing(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    """MOE-DBNAME is required on v2 (both spec revisions): no call, no once-only WARNING, a clear error."""
    caplog.set_level(logging.DEBUG, logger="moengage_segments")
    client = make_client(db_name=None)
    url = "https://h.example/u.csv"
    seg = "6388a97a02adb9071ca84ce9"
    calls = (
        client.segments.archive("a"),
        client.segments.unarchive(segment_id=seg),  # no name: would GET the segment first
        client.file_segments.create("f", file_url=url, expiry_days=1),
        client.file_segments.add_users("f", file_url=url),
        client.file_segments.remove_users(segment_id=seg, file_url=url),
        client.file_segments.replace_users("f", file_url=url),
    )
    for call in calls:
        with pytest.raises(ConfigurationError, match=r"db_name \(argument or MOENGAGE_DB_NAME\)"):
            await call
    assert mocked.requests == {}
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
