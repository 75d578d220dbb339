"""OpenTelemetry spans and metrics of every operation, and of a cohort push that meets 429s and 5xx."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, StatusCode

from moengage_segments import (
    AsyncClient,
    Cohort,
    HTTPRequest,
    HTTPResponse,
    RateLimits,
    RetryPolicy,
    ServerError,
    Window,
)
from moengage_segments._async.packing import CohortEnvelope
from moengage_segments.testing import MockTransport
from tests.telemetry._support import API_KEY, SEG_ID, TOKEN, WORKSPACE, Recorder, service

COHORT = Cohort(id="otel-cohort", name="OTel cohort", partner="crm")
FILE = "https://files.example.com/vip.csv"
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
FAST = RetryPolicy(base=0.001, cap=0.002, jitter=False)

Call = Callable[[AsyncClient], Awaitable[Any]]
#: (operation span name, call, [(method, url.template) of the HTTP spans under it])
OPERATIONS: list[tuple[str, Call, list[tuple[str, str]]]] = [
    ("moengage.segments.list", lambda c: c.segments.list(), [("GET", "/v3/custom-segments")]),
    ("moengage.segments.list", lambda c: c.segments.find("vip"), [("GET", "/v3/custom-segments")]),
    ("moengage.segments.get", lambda c: c.segments.get(SEG_ID), [("GET", "/v3/custom-segments/{segment_id}")]),
    (
        "moengage.segments.archive",
        lambda c: c.segments.archive(segment_id=SEG_ID),
        [("GET", "/v3/custom-segments/{segment_id}"), ("PATCH", "/v2/custom-segments/archive")],
    ),
    (
        "moengage.segments.unarchive",
        lambda c: c.segments.unarchive("vip"),
        [("PATCH", "/v2/custom-segments/unarchive")],
    ),
    (
        "moengage.file_segments.create",
        lambda c: c.file_segments.create("vip", file_url=FILE, expiry_days=3),
        [("POST", "/v2/custom-segments/file-segment")],
    ),
    (
        "moengage.file_segments.add_users",
        lambda c: c.file_segments.add_users("vip", file_url=FILE),
        [("PUT", "/v2/custom-segments/file-segment/add-users")],
    ),
    (
        "moengage.file_segments.remove_users",
        lambda c: c.file_segments.remove_users("vip", file_url=FILE),
        [("PUT", "/v2/custom-segments/file-segment/remove-users")],
    ),
    (
        "moengage.file_segments.replace_users",
        lambda c: c.file_segments.replace_users("vip", file_url=FILE),
        [("PUT", "/v2/custom-segments/file-segment/replace")],
    ),
    (
        "moengage.filter_segments.create",
        lambda c: c.filter_segments.create("vip", included=GROUP),
        [("POST", "/v3/custom-segments")],
    ),
    (
        "moengage.filter_segments.update",
        lambda c: c.filter_segments.update(SEG_ID, included=GROUP),
        [("PATCH", "/v3/custom-segments/{segment_id}")],
    ),
    (
        "moengage.cohorts.send_batch",
        lambda c: c.cohorts.send_batch(COHORT, "add_members", ["u-1"]),
        [("POST", "/v1/integrations/cohortsync")],
    ),
    (
        "moengage.cohorts.add_members",
        lambda c: c.cohorts.add_members(COHORT, ["u-1", "u-2"]),
        [("POST", "/v1/integrations/cohortsync")],
    ),
    (
        "moengage.cohorts.remove_members",
        lambda c: c.cohorts.remove_members(COHORT, ["u-1"]),
        [("POST", "/v1/integrations/cohortsync")],
    ),
]


@pytest.mark.parametrize(
    ("name", "call", "requests"), OPERATIONS, ids=[f"{o[0]}-{i}" for i, o in enumerate(OPERATIONS)]
)
async def test_each_operation_is_one_span_over_its_http_spans_under_the_callers_span(
    name: str, call: Call, requests: list[tuple[str, str]]
) -> None:
    rec = Recorder()
    tracer = rec.tracer_provider.get_tracer("the-app")
    mock = MockTransport(service)
    async with AsyncClient(WORKSPACE, API_KEY, "01", db_name="otel_db", transport=mock, **rec.providers()) as client:
        with tracer.start_as_current_span("caller") as caller:
            await call(client)
    (op,) = rec.named(name)
    assert op.kind is SpanKind.INTERNAL and op.parent is not None
    assert op.parent.span_id == caller.get_span_context().span_id
    assert op.attributes is not None and op.attributes["moengage.operation"] == name.removeprefix("moengage.")
    assert op.attributes["moengage.requests"] == len(requests) and op.attributes["moengage.retries"] == 0
    http = sorted((s for s in rec.spans() if s.kind is SpanKind.CLIENT), key=lambda s: s.start_time or 0)
    assert [(s.attributes["http.request.method"], s.attributes["url.template"]) for s in http] == requests  # type: ignore[index]
    for span in http:
        assert span.parent is not None and span.parent.span_id == op.context.span_id
        attributes = span.attributes or {}
        assert span.name == f"{attributes['http.request.method']} {attributes['url.template']}"
        assert 200 <= attributes["http.response.status_code"] < 300  # type: ignore[operator]
        assert attributes["server.address"] == "api-01.moengage.com"
        assert "http.request.resend_count" not in attributes
    assert rec.total("moengage.client.requests") == len(requests)
    assert rec.total("http.client.request.duration") == len(requests)
    # Only the operation's own span and its HTTP spans: no stray auto-operations for the inner requests.
    assert [s.name for s in rec.spans() if s.kind is SpanKind.INTERNAL] == [name, "caller"]


async def test_request_ids_and_segment_ids_are_recorded() -> None:
    rec = Recorder()
    async with AsyncClient(WORKSPACE, API_KEY, "01", transport=MockTransport(service), **rec.providers()) as client:
        await client.segments.get(SEG_ID)
    (op,) = rec.named("moengage.segments.get")
    (http,) = rec.named("GET /v3/custom-segments/{segment_id}")
    assert op.attributes is not None and op.attributes["moengage.segment.id"] == SEG_ID
    assert http.attributes is not None and http.attributes["moengage.request_id"] == "resp-get"


async def test_a_cohort_push_through_429s_and_5xx() -> None:
    """Several batches; the service answers 429 to the 2nd request and 503 to the 4th (both then retried)."""
    seen: list[int] = []

    def flaky(request: HTTPRequest) -> HTTPResponse:
        seen.append(len(seen) + 1)
        if len(seen) == 2:
            return HTTPResponse(429, headers={"Retry-After": "0"}, json={"status": "fail", "error": {"type": "x"}})
        if len(seen) == 4:
            return HTTPResponse(503, json={"status": "fail", "error": {"type": "Service Unavailable"}})
        return service(request)

    uids = [f"otel-uid-{i:04d}" for i in range(12)]
    rec = Recorder()
    async with AsyncClient(
        WORKSPACE, API_KEY, "01", transport=MockTransport(flaky), retry=FAST, rate_limits=None, **rec.providers()
    ) as client:
        report = await client.cohorts.add_members(COHORT, uids, max_request_bytes=230, max_in_flight=1)
    batches = len(report.batches)
    assert batches >= 3 and report.accepted == 12 and report.requests == batches + 2 and report.retries == 2

    (op,) = rec.named("moengage.cohorts.add_members")
    attributes = op.attributes or {}
    assert attributes["moengage.cohort.id"] == COHORT.id and attributes["moengage.cohort.action"] == "add_members"
    assert attributes["moengage.cohort.uids.accepted"] == 12 and attributes["moengage.cohort.uids.failed"] == 0
    assert attributes["moengage.cohort.uids.not_sent"] == 0 and attributes["moengage.requests"] == batches + 2
    assert attributes["moengage.retries"] == 2 and attributes["moengage.bytes_sent"] == report.bytes
    assert op.status.status_code is StatusCode.UNSET
    retries = [e for e in op.events if e.name == "moengage.retry"]
    assert [(e.attributes or {})["moengage.retry.reason"] for e in retries] == ["HTTP 429", "HTTP 503"]

    http = rec.named("POST /v1/integrations/cohortsync")
    assert len(http) == batches + 2 and all(s.parent and s.parent.span_id == op.context.span_id for s in http)
    statuses = sorted((s.attributes or {})["http.response.status_code"] for s in http)  # type: ignore[type-var]
    assert statuses == [200] * batches + [429, 503]
    resent = [s for s in http if "http.request.resend_count" in (s.attributes or {})]
    assert len(resent) == 2 and all((s.attributes or {})["http.request.resend_count"] == 1 for s in resent)
    failed = [s for s in http if s.status.status_code is StatusCode.ERROR]
    assert sorted((s.attributes or {})["error.type"] for s in failed) == ["429", "503"]  # type: ignore[type-var]

    assert rec.total("moengage.client.requests") == batches + 2
    assert rec.total("moengage.client.requests", lambda a: a.get("http.response.status_code") == 200) == batches
    assert rec.total("moengage.client.retries") == 2
    assert rec.total("moengage.client.rate_limited") == 1
    assert rec.total("moengage.client.bytes_sent") == report.bytes
    by_outcome = {a["moengage.cohort.outcome"]: v for a, v in rec.metrics()["moengage.cohort.uids"]}
    assert by_outcome == {"accepted": 12}


async def test_a_failed_operation_is_an_error_span_without_the_message() -> None:
    rec = Recorder()
    mock = MockTransport(lambda r: HTTPResponse(500, json={"error": {"code": "boom", "message": "secret detail"}}))
    async with AsyncClient(
        WORKSPACE, API_KEY, "01", transport=mock, retry=RetryPolicy(max_attempts=2, base=0.001), **rec.providers()
    ) as client:
        with pytest.raises(ServerError):
            await client.segments.list()
    (op,) = rec.named("moengage.segments.list")
    assert op.status.status_code is StatusCode.ERROR and (op.attributes or {})["error.type"] == "ServerError"
    assert "secret detail" not in rec.exported_text()
    assert rec.total("moengage.client.requests", lambda a: a.get("error.type") == "500") == 2


async def test_limiter_waits_are_span_events_and_a_histogram() -> None:
    rec = Recorder()
    limits = RateLimits(cohort=(Window(1, 0.05),), margin=0.0)
    async with AsyncClient(  # its own workspace: the in-process quota is shared per workspace
        "WS_OTEL_LIMITER_SPANS", API_KEY, "01", transport=MockTransport(service), rate_limits=limits, **rec.providers()
    ) as client:
        one_each = len(CohortEnvelope(COHORT, "add_members").body(["a"]))  # one uid a request: 4 requests
        await client.cohorts.add_members(COHORT, ["a", "b", "c", "d"], max_request_bytes=one_each, max_in_flight=1)
    (op,) = rec.named("moengage.cohorts.add_members")
    waits = [e for e in op.events if e.name == "moengage.rate_limiter.wait"]
    assert len(waits) >= 1 and all((e.attributes or {})["moengage.limit_family"] == "cohort" for e in waits)
    assert rec.total("moengage.client.limiter.wait") == len(waits)


async def test_nothing_exported_contains_the_key_the_token_or_a_uid() -> None:
    uids = [f"leaky-uid-{i:05d}" for i in range(40)]

    answers = iter([429, 502])

    def flaky(request: HTTPRequest) -> HTTPResponse:
        status = next(answers, 200)
        if status != 200:
            return HTTPResponse(status, headers={"Retry-After": "0"}, json={"error": {"message": uids[0]}})
        return service(request)

    rec = Recorder()
    hooks: list[Any] = []
    async with AsyncClient(
        WORKSPACE,
        API_KEY,
        "01",
        transport=MockTransport(flaky),
        retry=FAST,
        event_hooks=[hooks.append],
        **rec.providers(),
    ) as client:
        await client.cohorts.add_members(COHORT, [*uids, "bad uid with spaces?" * 20], max_request_bytes=600)
        await client.cohorts.send_batch(COHORT, "remove_members", uids[:3])
    text = rec.exported_text() + "\n".join(repr(e) + str(e.to_dict()) for e in hooks)
    assert rec.spans() and hooks
    for secret in (API_KEY, TOKEN, "Basic ", *uids):
        assert secret not in text, secret


async def test_a_delta_sync_is_one_operation_over_its_requests(tmp_path: Path) -> None:
    from moengage_segments import SQLiteLedger

    rec = Recorder()
    uids = [f"sync-uid-{i:03d}" for i in range(30)]
    async with AsyncClient(
        WORKSPACE, API_KEY, "01", transport=MockTransport(service), rate_limits=None, **rec.providers()
    ) as client:
        report = await client.cohorts.sync(COHORT, uids, ledger=SQLiteLedger(tmp_path / "l.db"), max_request_bytes=400)
    assert report.added == 30
    (op,) = rec.named("moengage.cohorts.sync")
    http = rec.named("POST /v1/integrations/cohortsync")
    assert len(http) == report.requests > 1
    assert all(s.parent is not None and s.parent.span_id == op.context.span_id for s in http)
    assert (op.attributes or {})["moengage.requests"] == report.requests
    assert not rec.named("moengage.cohorts.send_batch")  # the engine's requests belong to the sync
    assert not any(uid in rec.exported_text() for uid in uids)


class ProxyTracerProvider(trace.TracerProvider):
    """A configured provider under the API placeholder's name, as distributions install them (Logfire's)."""

    def __init__(self, inner: trace.TracerProvider) -> None:
        self.inner = inner

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return self.inner.get_tracer(*args, **kwargs)


class _ProxyMeterProvider(metrics.MeterProvider):
    def __init__(self, inner: metrics.MeterProvider) -> None:
        self.inner = inner

    def get_meter(self, *args: Any, **kwargs: Any) -> metrics.Meter:
        return self.inner.get_meter(*args, **kwargs)


async def test_global_providers_are_used_even_when_named_like_the_api_placeholders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec = Recorder()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: ProxyTracerProvider(rec.tracer_provider))
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: _ProxyMeterProvider(rec.meter_provider))
    async with AsyncClient(WORKSPACE, API_KEY, "01", transport=MockTransport(service)) as client:
        await client.segments.list()
    assert [s.name for s in rec.spans()] == ["GET /v3/custom-segments", "moengage.segments.list"]
    assert rec.total("moengage.client.requests") == 1


async def test_an_attempt_ended_by_a_cancel_or_a_transport_bug_is_a_failed_attempt_everywhere() -> None:
    rec = Recorder()
    hooks: list[Any] = []
    arrived, stuck = asyncio.Event(), asyncio.Event()

    async def handler(request: HTTPRequest) -> HTTPResponse:
        if request.method == "GET":
            raise ValueError("a bug in the transport")
        arrived.set()
        await stuck.wait()  # never set: the call is cancelled in flight
        raise AssertionError("unreachable")

    mock = MockTransport(handler)
    async with AsyncClient(
        WORKSPACE, API_KEY, "01", transport=mock, event_hooks=[hooks.append], **rec.providers()
    ) as client:
        with pytest.raises(ValueError):
            await client.segments.list()
        push = asyncio.create_task(client.cohorts.send_batch(COHORT, "add_members", ["u1"]))
        await arrived.wait()
        push.cancel()
        with pytest.raises(asyncio.CancelledError):
            await push
    for route, error in (
        ("GET /v3/custom-segments", "ValueError"),
        ("POST /v1/integrations/cohortsync", "CancelledError"),
    ):
        (span,) = rec.named(route)
        assert span.status.status_code is StatusCode.ERROR and (span.attributes or {})["error.type"] == error
        assert rec.total("moengage.client.requests", lambda a, e=error: a.get("error.type") == e) == 1
    assert [(e.kind, getattr(e, "error", None)) for e in hooks] == [
        ("request", None),
        ("response", "ValueError"),
        ("request", None),
        ("response", "CancelledError"),
    ]


async def test_http_metrics_follow_the_conventions_server_attributes_and_buckets() -> None:
    rec = Recorder()
    limits = RateLimits(list=(Window(1, 0.02),), margin=0.0)
    async with AsyncClient(  # its own workspace: the in-process quota is shared per workspace
        "WS_OTEL_BUCKETS", API_KEY, "01", transport=MockTransport(service), rate_limits=limits, **rec.providers()
    ) as client:
        await client.segments.list()
        await client.segments.list()  # held back by the limiter
    (span, _) = rec.named("GET /v3/custom-segments")
    server = {"server.address": "api-01.moengage.com", "server.port": 443}  # the port even when the URL omits it
    assert server.items() <= dict(span.attributes or {}).items()
    for name in ("http.client.request.duration", "moengage.client.requests"):
        for attributes, _count in rec.metrics()[name]:
            assert server.items() <= attributes.items(), name
    data = rec.reader.get_metrics_data()
    assert data is not None
    bounds = {
        metric.name: tuple(metric.data.data_points[0].explicit_bounds)  # type: ignore[union-attr]
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.unit == "s"
    }
    if "explicit_bucket_boundaries_advisory" in inspect.signature(metrics.Meter.create_histogram).parameters:
        assert bounds["http.client.request.duration"] == (
            0.005,
            0.01,
            0.025,
            0.05,
            0.075,
            0.1,
            0.25,
            0.5,
            0.75,
            1,
            2.5,
            5,
            7.5,
            10,
        )
        assert bounds["moengage.client.limiter.wait"][0] < 0.2 < 60 <= bounds["moengage.client.limiter.wait"][-1]
    else:  # an API before 1.30 takes no advice: the histograms exist with the SDK's default buckets
        assert set(bounds) == {"http.client.request.duration", "moengage.client.limiter.wait"}


def test_an_api_without_bucket_advice_still_gets_its_histograms() -> None:
    from moengage_segments.telemetry import _histogram

    class OldMeter:  # opentelemetry-api before 1.30: create_histogram(name, unit, description)
        def create_histogram(self, name: str, unit: str = "", description: str = "") -> tuple[str, str]:
            return (name, unit)

    assert _histogram(OldMeter(), "http.client.request.duration", "s", "d", (0.1, 1.0)) == (
        "http.client.request.duration",
        "s",
    )
