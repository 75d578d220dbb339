"""Retries on a virtual clock: what is retried, how long it waits, and what is never re-sent."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aioresponses import aioresponses

from moengage_segments import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    ClientStateError,
    Cohort,
    HTTPRequest,
    HTTPResponse,
    RateLimitError,
    RetryPolicy,
    Segment,
    SegmentAck,
    ServerError,
    UnexpectedResponseError,
)
from tests.core._mock import MockRoutes
from tests.core._support import BASE, SEG_ID, FakeClock, calls

LIST = BASE + "/v3/custom-segments"
FILE_CREATE = BASE + "/v2/custom-segments/file-segment"
FILTER_CREATE = BASE + "/v3/custom-segments"
LOOKUP = BASE + "/v3/custom-segments?name=vip"


def just_now() -> str:
    """A ``created_time`` as the service writes it (naive UTC) for a segment created a moment ago."""
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat()


GROUP = {
    "filter_operator": "and",
    "filters": [
        {
            "filter_type": "user_attributes",
            "name": "city",
            "data_type": "string",
            "operator": "in",
            "value": ["Pune"],
            "negate": False,
            "case_sensitive": False,
        }
    ],
}
OK = {"data": [{"id": SEG_ID, "name": "vip"}]}
GET_SEG = f"{BASE}/v3/custom-segments/{SEG_ID}"


def file_item(**fields: Any) -> dict[str, Any]:
    """A list item for the file segment named ``vip``, created a moment ago."""
    return {"id": SEG_ID, "name": "vip", "created_time": just_now(), "type": "FILE", "source": "API", **fields}


def filter_item(**fields: Any) -> dict[str, Any]:
    """A list (or get) item for the filter segment named ``vip``, created a moment ago."""
    return file_item(**{"type": "ELASTIC_SEARCH", **fields})


def n_calls(routes: MockRoutes, method: str, url: str) -> int:
    return sum(1 for m, u, _ in calls(routes) if (m, u) == (method, url))


async def test_429_then_200(make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock) -> None:
    routes.get(LIST, status=429, payload={"error": {"code": "Too Many Requests"}})
    routes.get(LIST, payload=OK)
    summaries = await make_client().segments.list()
    assert [s.id for s in summaries] == [SEG_ID]
    assert n_calls(routes, "GET", LIST) == 2
    assert clock.sleeps == [1.0]  # no hint: twice the first backoff step (0.5 s)


async def test_429_honours_retry_after_seconds(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    routes.get(LIST, status=429, headers={"Retry-After": "7"})
    routes.get(LIST, payload=OK)
    await make_client().segments.list()
    assert clock.sleeps == [7.0]


async def test_429_honours_retry_after_http_date(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    routes.get(LIST, status=429, headers={"Retry-After": email.utils.formatdate(time.time() + 20, usegmt=True)})
    routes.get(LIST, payload=OK)
    await make_client().segments.list()
    assert len(clock.sleeps) == 1 and 18.5 <= clock.sleeps[0] <= 20.0


async def test_429_honours_x_ratelimit_reset(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    routes.get(LIST, status=429, headers={"x-ratelimit-reset": str(int(time.time()) + 12)})
    routes.get(LIST, payload=OK)
    await make_client().segments.list()
    assert len(clock.sleeps) == 1 and 10.5 <= clock.sleeps[0] <= 12.0


async def test_unreadable_retry_after_falls_back_to_backoff(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    routes.get(LIST, status=429, headers={"Retry-After": "soon"})
    routes.get(LIST, payload=OK)
    await make_client().segments.list()
    assert clock.sleeps == [1.0]


async def test_429_hint_above_rate_limit_cap_is_not_retried(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    """An hourly file-ops window (Retry-After: 1800) is left to the caller instead of blocking the call."""
    routes.get(LIST, status=429, headers={"Retry-After": "1800"}, repeat=True)
    with pytest.raises(RateLimitError) as caught:
        await make_client(retry=RetryPolicy(rate_limit_cap=60)).segments.list()
    assert (caught.value.retry_after, caught.value.attempts) == (1800.0, 1)
    assert clock.sleeps == [] and n_calls(routes, "GET", LIST) == 1


@pytest.mark.parametrize("attempts", [1, 3, 5])
async def test_503_n_times_gives_server_error(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock, attempts: int
) -> None:
    routes.get(LIST, status=503, payload={"title": "Service Unavailable"}, repeat=True)
    with pytest.raises(ServerError) as caught:
        await make_client(retry=RetryPolicy(max_attempts=attempts, base=0.5, cap=1.5, jitter=False)).segments.list()
    assert caught.value.attempts == attempts and caught.value.status == 503
    assert n_calls(routes, "GET", LIST) == attempts
    assert clock.sleeps == [0.5, 1.0, 1.5, 1.5][: attempts - 1]  # exponential, capped


async def test_jittered_waits_stay_within_the_exponential_envelope(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    routes.get(LIST, status=500, repeat=True)
    with pytest.raises(ServerError):
        await make_client(retry=RetryPolicy(max_attempts=6, base=1.0, cap=8.0, jitter=True)).segments.list()
    assert len(clock.sleeps) == 5
    for wait, ceiling in zip(clock.sleeps, [1.0, 2.0, 4.0, 8.0, 8.0], strict=True):
        assert 0.0 <= wait <= ceiling


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 412, 413, 415])
async def test_client_errors_are_never_retried(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock, status: int
) -> None:
    routes.get(LIST, status=status, payload={"error": {"code": "x"}}, repeat=True)
    routes.post(BASE + "/v1/integrations/cohortsync", status=status, payload={"status": "fail"}, repeat=True)
    client = make_client(retry=RetryPolicy(max_attempts=5))
    with pytest.raises(APIStatusError) as first:
        await client.segments.list()
    with pytest.raises(APIStatusError):
        await client.cohorts.send_batch(Cohort(id="c", name="C", partner="p"), "add_members", ["u"])
    assert first.value.status == status and first.value.attempts == 1
    assert len(calls(routes)) == 2 and clock.sleeps == []


@pytest.mark.parametrize(
    "exc",
    [
        aiohttp.ClientConnectionError("reset"),
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
    ],
)
async def test_connection_errors_are_retried_for_idempotent_calls(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, clock: FakeClock, exc: Exception
) -> None:
    mocked.get(LIST, exception=exc)
    mocked.get(LIST, payload=OK)
    assert len(await make_client().segments.list()) == 1
    assert n_calls(mocked, "GET", LIST) == 2 and clock.sleeps == [0.5]


async def test_connection_errors_exhaust_into_api_connection_error(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    mocked.get(LIST, exception=aiohttp.ServerDisconnectedError(), repeat=True)
    with pytest.raises(APIConnectionError) as caught:
        await make_client(retry=RetryPolicy(max_attempts=3)).segments.list()
    assert caught.value.attempts == 3 and not isinstance(caught.value, APITimeoutError)


async def test_timeouts_are_retried_then_raise_api_timeout_error(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    mocked.get(LIST, exception=asyncio.TimeoutError(), repeat=True)
    with pytest.raises(APITimeoutError) as caught:
        await make_client(retry=RetryPolicy(max_attempts=2)).segments.list()
    assert caught.value.attempts == 2


async def test_cohort_5xx_is_retried(make_client: Callable[..., AsyncClient], routes: MockRoutes) -> None:
    """Cohort add/remove is idempotent: safe to re-send after a 5xx."""
    url = BASE + "/v1/integrations/cohortsync"
    routes.post(url, status=502)
    routes.post(url, status=200, payload={"status": "success"})
    result = await make_client().cohorts.send_batch(Cohort(id="c", name="C", partner="p"), "add_members", ["u"])
    assert result.attempts == 2 and n_calls(routes, "POST", url) == 2


# --- creates are not blindly re-sent ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [{"status": 503}, {"exception": ConnectionResetError(104, "reset")}, {"exception": TimeoutError()}],
)
async def test_ambiguous_file_create_resolves_by_name(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, failure: dict[str, Any]
) -> None:
    routes.post(FILE_CREATE, **failure)
    routes.get(LOOKUP, payload={"data": [file_item()]})
    ack = await make_client().file_segments.create("vip", file_url="https://h.example/f.csv", expiry_days=3)
    assert isinstance(ack, SegmentAck) and ack.segment_id == SEG_ID and ack.name == "vip"
    assert n_calls(routes, "POST", FILE_CREATE) == 1


@pytest.mark.parametrize("created_time", [None, "2022-12-01T13:17:46.409000"])
async def test_ambiguous_create_does_not_adopt_an_older_namesake(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, created_time: str | None
) -> None:
    """A segment of that name created before the call (or of unknown age) is not the one we created."""
    routes.post(FILE_CREATE, status=500)
    routes.get(LOOKUP, payload={"data": [file_item(created_time=created_time)]})
    with pytest.raises(ServerError):
        await make_client().file_segments.create("vip", file_url="https://h.example/f.csv", expiry_days=3)
    assert n_calls(routes, "POST", FILE_CREATE) == 1


async def test_ambiguous_create_tolerates_a_server_clock_a_little_behind(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    behind = (datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=20)).isoformat()
    routes.post(FILE_CREATE, status=502)
    routes.get(LOOKUP, payload={"data": [file_item(created_time=behind)]})
    ack = await make_client().file_segments.create("vip", file_url="https://h.example/f.csv", expiry_days=3)
    assert ack.segment_id == SEG_ID


@pytest.mark.parametrize(
    ("failure", "error"),
    [({"status": 503}, ServerError), ({"exception": ConnectionResetError(104, "reset")}, APIConnectionError)],
)
async def test_ambiguous_file_create_not_found_raises(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, failure: dict[str, Any], error: type[Exception]
) -> None:
    routes.post(FILE_CREATE, **failure)
    routes.get(LOOKUP, payload={"data": []})
    with pytest.raises(error):
        await make_client().file_segments.create("vip", file_url="https://h.example/f.csv", expiry_days=3)
    assert n_calls(routes, "POST", FILE_CREATE) == 1 and n_calls(routes, "GET", LOOKUP) == 1


async def test_ambiguous_filter_create_returns_the_found_segment(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    routes.post(FILTER_CREATE, status=500)
    routes.get(LOOKUP, payload={"data": [filter_item()]})
    routes.get(GET_SEG, payload={"data": filter_item(included_filters=GROUP)})
    segment = await make_client().filter_segments.create("vip", included=GROUP)
    assert isinstance(segment, Segment) and segment.id == SEG_ID
    assert n_calls(routes, "POST", FILTER_CREATE) == 1


# --- recovery adopts only a segment of the kind being created (and for filters, the same definition) ------

OTHER_ID = "0123456789abcdef01234567"
OTHER_GROUP = {**GROUP, "filters": [{**GROUP["filters"][0], "value": ["Delhi"]}]}  # type: ignore[dict-item]


@pytest.mark.parametrize("kind", ["COHORT", "FILE", None, "SOMETHING_NEW"])
async def test_ambiguous_filter_create_never_adopts_another_kind(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, kind: str | None
) -> None:
    """A same-named cohort (or file, or unknown) segment created a moment ago is not our filter segment."""
    routes.post(FILTER_CREATE, status=503)
    routes.get(LOOKUP, payload={"data": [filter_item(type=kind)]})
    with pytest.raises(ServerError):
        await make_client().filter_segments.create("vip", included=GROUP)
    assert n_calls(routes, "GET", GET_SEG) == 0 and n_calls(routes, "POST", FILTER_CREATE) == 1


@pytest.mark.parametrize(
    ("included", "excluded"),
    [(OTHER_GROUP, None), (GROUP, GROUP), (OTHER_GROUP, OTHER_GROUP)],
    ids=["other-included", "extra-excluded", "both-differ"],
)
async def test_ambiguous_filter_create_never_adopts_another_definition(
    make_client: Callable[..., AsyncClient],
    routes: MockRoutes,
    included: dict[str, Any],
    excluded: dict[str, Any] | None,
) -> None:
    routes.post(FILTER_CREATE, exception=ConnectionResetError(104, "reset"))
    routes.get(LOOKUP, payload={"data": [filter_item()]})
    echoed = filter_item(included_filters=included, **({"excluded_filters": excluded} if excluded else {}))
    routes.get(GET_SEG, payload={"data": echoed})
    with pytest.raises(APIConnectionError):
        await make_client().filter_segments.create("vip", included=GROUP)


async def test_ambiguous_filter_create_picks_the_namesake_with_our_definition(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    routes.post(FILTER_CREATE, status=502)
    items = [filter_item(type="COHORT", id=OTHER_ID), filter_item(id=OTHER_ID), filter_item()]
    routes.get(LOOKUP, payload={"data": items})
    routes.get(
        f"{BASE}/v3/custom-segments/{OTHER_ID}",
        payload={"data": filter_item(id=OTHER_ID, included_filters=OTHER_GROUP)},
    )
    routes.get(GET_SEG, payload={"data": filter_item(included_filters=GROUP, excluded_filters=OTHER_GROUP)})
    segment = await make_client().filter_segments.create("vip", included=GROUP, excluded=OTHER_GROUP)
    assert segment.id == SEG_ID


async def test_ambiguous_filter_create_whose_get_fails_raises_the_create_error(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    routes.post(FILTER_CREATE, status=500)
    routes.get(LOOKUP, payload={"data": [filter_item()]})
    routes.get(GET_SEG, status=404, payload={"error": {"code": "Entity Not Found"}})
    with pytest.raises(ServerError):
        await make_client().filter_segments.create("vip", included=GROUP)


@pytest.mark.parametrize("kind", ["ELASTIC_SEARCH", "COHORT", None])
async def test_ambiguous_file_create_never_adopts_another_kind(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, kind: str | None
) -> None:
    routes.post(FILE_CREATE, status=503)
    routes.get(LOOKUP, payload={"data": [file_item(type=kind)]})
    with pytest.raises(ServerError):
        await make_client().file_segments.create("vip", file_url="https://h.example/f.csv", expiry_days=3)


@pytest.mark.parametrize("body", [{"data": {}}, {}, {"data": {"id": SEG_ID}}, {"data": []}, None])
async def test_filter_create_answered_without_the_segment_recovers_by_name(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, body: Any
) -> None:
    """A 201 whose body lacks the segment (``{"data": {}}`` is valid under the schema): look the name up."""
    routes.post(FILTER_CREATE, status=201, payload=body)
    routes.get(LOOKUP, payload={"data": [filter_item()]})
    routes.get(GET_SEG, payload={"data": filter_item(included_filters=GROUP)})
    segment = await make_client().filter_segments.create("vip", included=GROUP)
    assert segment.id == SEG_ID and n_calls(routes, "POST", FILTER_CREATE) == 1


@pytest.mark.parametrize("found", [[], [{"type": "COHORT"}]])
async def test_filter_create_answered_without_the_segment_and_nothing_to_recover_raises(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, found: list[dict[str, Any]]
) -> None:
    routes.post(FILTER_CREATE, status=201, payload={"data": {}})
    routes.get(LOOKUP, payload={"data": [filter_item(**f) for f in found]})
    with pytest.raises(UnexpectedResponseError, match="without a segment"):
        await make_client().filter_segments.create("vip", included=GROUP)
    assert n_calls(routes, "POST", FILTER_CREATE) == 1


async def test_create_is_resent_when_the_connection_was_never_made(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey(  # type: ignore[attr-defined]
            "api-01.moengage.com", 443, True, None, None, None, None
        ),
        OSError(111, "Connection refused"),
    )
    mocked.post(FILE_CREATE, exception=refused)
    mocked.post(FILE_CREATE, status=202, payload={"cs_id": SEG_ID})
    ack = await make_client().file_segments.create("vip", file_url="https://h.example/f.csv", expiry_days=3)
    assert ack.segment_id == SEG_ID and n_calls(mocked, "POST", FILE_CREATE) == 2


# --- the same network failures raised by a custom transport (builtin exceptions, no aiohttp) ---------------


@pytest.mark.parametrize("exc", [ConnectionResetError(104, "reset"), BrokenPipeError(32, "broken pipe")])
async def test_a_transport_connection_error_is_retried_for_idempotent_calls(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock, exc: Exception
) -> None:
    routes.get(LIST, exception=exc)
    routes.get(LIST, payload=OK)
    assert len(await make_client().segments.list()) == 1
    assert n_calls(routes, "GET", LIST) == 2 and clock.sleeps == [0.5]


async def test_a_transport_timeout_becomes_api_timeout_error(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    routes.get(LIST, exception=TimeoutError(), repeat=True)
    with pytest.raises(APITimeoutError) as caught:
        await make_client(retry=RetryPolicy(max_attempts=2)).segments.list()
    assert caught.value.attempts == 2 and n_calls(routes, "GET", LIST) == 2


async def test_a_transport_may_raise_the_sdks_connection_error(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    routes.get(LIST, exception=APIConnectionError("tunnel closed"), repeat=True)
    with pytest.raises(APIConnectionError, match="tunnel closed") as caught:
        await make_client(retry=RetryPolicy(max_attempts=3)).segments.list()
    assert caught.value.attempts == 3


async def test_a_create_refused_by_the_transport_is_resent(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    """ConnectionRefusedError means the request never left: even a create may be re-sent."""
    routes.post(FILE_CREATE, exception=ConnectionRefusedError(111, "Connection refused"))
    routes.post(FILE_CREATE, status=202, payload={"cs_id": SEG_ID})
    ack = await make_client().file_segments.create("vip", file_url="https://h.example/f.csv", expiry_days=3)
    assert ack.segment_id == SEG_ID and n_calls(routes, "POST", FILE_CREATE) == 2


async def test_a_create_reset_by_the_transport_is_not_resent(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    """A reset may come after the service got the request: the name is looked up instead."""
    routes.post(FILE_CREATE, exception=ConnectionResetError(104, "reset"))
    routes.get(LOOKUP, payload={"data": []})
    with pytest.raises(APIConnectionError):
        await make_client().file_segments.create("vip", file_url="https://h.example/f.csv", expiry_days=3)
    assert n_calls(routes, "POST", FILE_CREATE) == 1


async def test_active_segment_cap_429_is_not_retried(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    """The 1000-active-segments 429 is not a rate limit: waiting does not lift it, so it is not re-sent."""
    routes.post(
        FILTER_CREATE,
        status=429,
        headers={"x-ratelimit-reset": str(int(time.time()) + 5)},
        payload={
            "response_id": "abcdEFGH",
            "type": "custom_segment",
            "error": {
                "code": "Too Many Requests",
                "message": "Total active segments limit breached. Request rejected!",
                "actual_count": 1001,
                "limit": 1000,
            },
        },
        repeat=True,
    )
    with pytest.raises(RateLimitError) as caught:
        await make_client().filter_segments.create("vip", included=GROUP)
    assert caught.value.active_segment_cap and caught.value.attempts == 1
    assert n_calls(routes, "POST", FILTER_CREATE) == 1


async def test_file_ops_429_without_a_hint_is_not_retried(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    """File operations have hourly/daily windows: retrying seconds later would only spend quota."""
    routes.put(
        BASE + "/v2/custom-segments/file-segment/add-users",
        status=429,
        repeat=True,
        payload={"title": "Too Many Requests", "description": "File segment operations limit breached."},
    )
    with pytest.raises(RateLimitError) as caught:
        await make_client().file_segments.add_users("vip", file_url="https://h.example/f.csv")
    assert caught.value.attempts == 1 and not caught.value.active_segment_cap


async def test_create_is_resent_after_429(make_client: Callable[..., AsyncClient], routes: MockRoutes) -> None:
    """A 429 was not processed, so re-sending the create is safe."""
    routes.post(FILTER_CREATE, status=429)
    routes.post(FILTER_CREATE, status=201, payload={"data": {"id": SEG_ID, "name": "vip"}})
    segment = await make_client().filter_segments.create("vip", included=GROUP)
    assert segment.id == SEG_ID and n_calls(routes, "POST", FILTER_CREATE) == 2


# --- cancellation, deadline, close ----------------------------------------------------------------------


async def test_cancellation_during_a_retry_wait_propagates(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    routes.get(LIST, status=503, repeat=True)
    waiting = asyncio.Event()

    async def blocking_sleep(seconds: float) -> None:
        waiting.set()
        await asyncio.Event().wait()

    clock.hook = blocking_sleep
    client = make_client()
    task = asyncio.create_task(client.segments.list())
    await asyncio.wait_for(waiting.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled() and n_calls(routes, "GET", LIST) == 1


async def test_cancellation_during_the_request_propagates(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    started = asyncio.Event()

    async def hang(request: HTTPRequest) -> HTTPResponse:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    routes.post(FILE_CREATE, callback=hang)
    task = asyncio.create_task(
        make_client().file_segments.create("vip", file_url="https://h.example/f.csv", expiry_days=3)
    )
    await asyncio.wait_for(started.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert n_calls(routes, "GET", LOOKUP) == 0  # cancellation is not an "ambiguous failure" to resolve


async def test_deadline_stops_retries_whose_wait_would_overrun(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    routes.get(LIST, status=503, repeat=True)
    policy = RetryPolicy(max_attempts=10, base=1.0, cap=100.0, jitter=False, deadline=5.0)
    with pytest.raises(ServerError) as caught:
        await make_client(retry=policy).segments.list()
    assert clock.sleeps == [1.0, 2.0]  # a third wait (4 s) would end after 7 s > 5 s
    assert caught.value.attempts == 3


async def test_deadline_also_bounds_the_attempt_in_flight(make_client: Callable[..., AsyncClient]) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.json_response({"data": []})

    app = web.Application()
    app.router.add_get("/v3/custom-segments", slow)
    async with TestServer(app, host="127.0.0.1") as server:
        client = make_client(
            base_url=str(server.make_url("")).rstrip("/"), timeout=30.0, retry=RetryPolicy(deadline=0.3)
        )
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            await client.segments.list()
        assert time.monotonic() - started < 3.0


async def test_closing_during_a_retry_wait_stops_the_call(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, clock: FakeClock
) -> None:
    routes.get(LIST, status=503, repeat=True)
    client = make_client()

    async def close_while_waiting(seconds: float) -> None:
        await client.aclose()

    clock.hook = close_while_waiting
    with pytest.raises(ClientStateError):
        await client.segments.list()
    assert n_calls(routes, "GET", LIST) == 1


async def test_failed_lookup_after_ambiguous_create_surfaces_the_create_error(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    routes.post(FILE_CREATE, status=503)
    routes.get(LOOKUP, status=429, headers={"Retry-After": "3600"})
    with pytest.raises(ServerError) as caught:
        await make_client().file_segments.create("vip", file_url="https://h.example/f.csv", expiry_days=3)
    assert isinstance(caught.value.__context__, RateLimitError)
