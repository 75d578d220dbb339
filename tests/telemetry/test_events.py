"""Typed event hooks, and the zero-cost rule: with no hook and no provider, a request records nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from moengage_segments import (
    APIConnectionError,
    AsyncClient,
    HTTPRequest,
    HTTPResponse,
    LimiterWaitEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    RetryPolicy,
    TelemetryEvent,
)
from moengage_segments.testing import MockTransport
from tests.telemetry._support import API_KEY, SEG_ID, WORKSPACE, service


async def test_hooks_receive_request_response_and_retry_events_in_order() -> None:
    answers = iter([HTTPResponse(503, json={"title": "down"})])

    def handler(request: HTTPRequest) -> HTTPResponse:
        return next(answers, None) or service(request)

    events: list[TelemetryEvent] = []
    async with AsyncClient(
        WORKSPACE,
        API_KEY,
        "01",
        transport=MockTransport(handler),
        retry=RetryPolicy(base=0.001, jitter=False),
        event_hooks=[events.append],
    ) as client:
        await client.segments.get(SEG_ID)
    assert [type(e) for e in events] == [RequestEvent, ResponseEvent, RetryEvent, RequestEvent, ResponseEvent]
    first, failed, retry, second, ok = events
    assert isinstance(first, RequestEvent) and (first.operation, first.method, first.attempt) == (
        "segments.get",
        "GET",
        1,
    )
    assert first.route == "/v3/custom-segments/{segment_id}" and first.bytes == 0
    assert isinstance(failed, ResponseEvent) and (failed.status, failed.error) == (503, "ServerError")
    assert isinstance(retry, RetryEvent) and (retry.attempt, retry.delay, retry.reason) == (1, 0.001, "HTTP 503")
    assert isinstance(second, RequestEvent) and second.attempt == 2
    assert isinstance(ok, ResponseEvent) and (ok.status, ok.error, ok.request_id) == (200, None, "resp-get")
    assert ok.duration >= 0
    lines = [json.dumps(e.to_dict()) for e in events]
    assert json.loads(lines[2]) == {
        "kind": "retry",
        "operation": "segments.get",
        "method": "GET",
        "route": "/v3/custom-segments/{segment_id}",
        "attempt": 1,
        "delay": 0.001,
        "reason": "HTTP 503",
    }


async def test_a_connection_failure_is_a_response_event_without_status() -> None:
    def refuse(request: HTTPRequest) -> HTTPResponse:
        raise ConnectionResetError(104, "reset")

    events: list[TelemetryEvent] = []
    async with AsyncClient(
        WORKSPACE, API_KEY, "01", transport=MockTransport(refuse), retry=RetryPolicy.none(), event_hooks=[events.append]
    ) as client:
        with pytest.raises(APIConnectionError):
            await client.segments.list()
    last = events[-1]
    assert isinstance(last, ResponseEvent) and (last.status, last.error) == (None, "APIConnectionError")


async def test_limiter_waits_are_events() -> None:
    from moengage_segments import RateLimits, Window

    events: list[TelemetryEvent] = []
    async with AsyncClient(
        "WS_OTEL_LIMITER_EVENTS",  # its own workspace: the in-process quota is shared per workspace
        API_KEY,
        "01",
        transport=MockTransport(service),
        rate_limits=RateLimits(get=(Window(1, 0.03),), margin=0.0),
        event_hooks=[events.append],
    ) as client:
        await client.segments.get(SEG_ID)
        await client.segments.get(SEG_ID)
    waits = [e for e in events if isinstance(e, LimiterWaitEvent)]
    assert len(waits) == 1 and waits[0].family == "get" and 0 < waits[0].waited <= 0.03


async def test_a_hook_that_raises_does_not_break_the_call() -> None:
    def broken(event: TelemetryEvent) -> None:
        raise RuntimeError("bug in the hook")

    async with AsyncClient(WORKSPACE, API_KEY, "01", transport=MockTransport(service), event_hooks=[broken]) as client:
        assert len(await client.segments.list()) == 1


def test_no_hook_and_no_provider_means_no_probe() -> None:
    """OpenTelemetry is imported in this process, but no provider is set: the request path records nothing."""
    client = AsyncClient(WORKSPACE, API_KEY, "01", transport=MockTransport(service))
    telemetry = client._transport.telemetry
    assert telemetry.probe("segments.list", "GET", "/v3/custom-segments", "list") is None
    assert not telemetry.enabled()
    assert telemetry.operation("cohorts.add_members").on_report(None) is None


@pytest.mark.slow  # an interpreter
def test_without_opentelemetry_everything_works_and_nothing_of_it_is_imported() -> None:
    """In a process where ``import opentelemetry`` fails, a push with hooks works and imports none of it."""
    script = textwrap.dedent(
        """
        import asyncio, sys

        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ImportError("hidden for this test")

        sys.meta_path.insert(0, Hide())
        from moengage_segments import AsyncClient, Client, Cohort, HTTPResponse
        from moengage_segments.testing import MockTransport

        ok = MockTransport(lambda request: HTTPResponse(200, json={"status": "success"}))
        events = []

        async def main():
            async with AsyncClient("WS", "KEY", "01", transport=ok, event_hooks=[events.append]) as client:
                report = await client.cohorts.add_members(Cohort(id="c", name="C", partner="p"), ["a", "b"])
            assert report.accepted == 2, report

        asyncio.run(main())
        with Client("WS", "KEY", "01", transport=ok) as client:
            client.cohorts.send_batch(Cohort(id="c", name="C", partner="p"), "add_members", ["a"])
        assert [e.kind for e in events] == ["request", "response"], events
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
        assert not loaded, loaded
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
