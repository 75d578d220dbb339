"""The transport seam: any object with ``async send(request) -> response``, and the shipped MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from moengage_segments import (
    APITimeoutError,
    AsyncClient,
    Client,
    Cohort,
    ConfigurationError,
    HTTPRequest,
    HTTPResponse,
    HTTPTransport,
    NotFoundError,
    RetryPolicy,
)
from moengage_segments.testing import MockTransport
from tests.core._mock import MockRoutes
from tests.core._support import API_KEY, BASE, BASIC, SEG_ID, WORKSPACE

COHORT = Cohort(id="c1", name="VIP", partner="crm")


async def test_the_request_reaches_the_transport_ready_to_send() -> None:
    mock = MockTransport(lambda request: HTTPResponse(200, json={"data": []}))
    async with AsyncClient(WORKSPACE, API_KEY, "01", transport=mock, rate_limits=None) as client:
        assert await client.segments.list("my vip") == []
    (request,) = mock.requests
    assert (request.method, request.url) == ("GET", BASE + "/v3/custom-segments?name=my%20vip")
    assert request.params == {"name": "my vip"} and request.path == "/v3/custom-segments"
    assert request.headers["Authorization"] == BASIC and request.content is None
    assert request.timeout == 30.0
    assert API_KEY not in repr(request) and BASIC not in repr(request)


async def test_an_async_handler_and_status_errors_mapped_above_the_seam() -> None:
    async def handler(request: HTTPRequest) -> HTTPResponse:
        return HTTPResponse(404, json={"error": {"code": "Not Found", "message": "no such segment"}})

    async with AsyncClient(WORKSPACE, API_KEY, "01", transport=MockTransport(handler)) as client:
        with pytest.raises(NotFoundError, match="no such segment"):
            await client.segments.get(SEG_ID)


def test_the_blocking_client_takes_the_same_transport() -> None:
    answers = [HTTPResponse(500), HTTPResponse(200, json={"status": "success"})]
    mock = MockTransport(lambda request: answers.pop(0))
    with Client(WORKSPACE, API_KEY, "01", transport=mock, retry=RetryPolicy(base=0.001)) as client:
        result = client.cohorts.send_batch(COHORT, "add_members", ["u1", "u2"])
    assert result.attempts == 2 and result.members == 2
    assert [json.loads(r.content or b"")["parameters"]["members"] for r in mock.requests] == [
        [{"uid": "u1"}, {"uid": "u2"}]
    ] * 2


def test_response_headers_are_case_insensitive_and_json_is_encoded() -> None:
    response = HTTPResponse(429, headers={"retry-after": "3"}, json={"a": 1})
    assert response.headers["Retry-After"] == "3" and response.headers["content-type"] == "application/json"
    assert json.loads(response.content) == {"a": 1}


async def test_a_handler_returning_something_else_is_a_type_error() -> None:
    mock = MockTransport(lambda request: {"status": 200})  # type: ignore[arg-type,return-value]
    async with AsyncClient(WORKSPACE, API_KEY, "01", transport=mock) as client:
        with pytest.raises(TypeError, match="must return an HTTPResponse"):
            await client.segments.list()


def test_anything_without_send_is_refused_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="transport"):
        AsyncClient(WORKSPACE, API_KEY, "01", transport=object())  # type: ignore[arg-type]
    assert isinstance(MockTransport(lambda r: HTTPResponse(200)), HTTPTransport)


async def test_requests_are_frozen_like_the_other_models() -> None:
    def handler(request: HTTPRequest) -> HTTPResponse:
        with pytest.raises(TypeError):
            request.headers["Authorization"] = "changed by a transport"  # type: ignore[index]
        return HTTPResponse(503) if len(mock.requests) == 1 else HTTPResponse(200, json={"data": []})

    mock = MockTransport(handler)
    async with AsyncClient(WORKSPACE, API_KEY, "01", transport=mock, retry=RetryPolicy(base=0.001)) as client:
        await client.segments.list()
    first, second = mock.requests
    assert first == second and hash(first) == hash(second) and len({first, second}) == 1
    assert second.headers["Authorization"] == BASIC


async def test_a_timeout_names_the_time_the_attempt_was_given(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    routes.get(BASE + "/v3/custom-segments", exception=TimeoutError())
    client = make_client(retry=RetryPolicy(max_attempts=1, deadline=2.5))  # shorter than the 30 s timeout
    with pytest.raises(APITimeoutError, match=r"no response within 2\.5s"):
        await client.segments.list()
    assert routes.requests[0].timeout == 2.5  # virtual clock: no time passed before the attempt


async def test_the_aiohttp_transport_reads_no_more_than_its_response_cap() -> None:
    """A broken or hostile server cannot fill memory: the body is refused once it passes the cap."""
    from aiohttp import web

    from moengage_segments import APIConnectionError
    from moengage_segments._async.http import AiohttpTransport

    async def sized(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * int(request.query["n"]))

    async def streamed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to check up front
        await response.prepare(request)
        for _ in range(int(request.query["chunks"])):
            await response.write(b"y" * 400)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/sized", sized)
    app.router.add_get("/streamed", streamed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    transport = AiohttpTransport(max_response_bytes=1000)
    try:

        async def get(path: str) -> HTTPResponse:
            return await transport.send(HTTPRequest("GET", f"http://127.0.0.1:{port}{path}", headers={}))

        assert (await get("/sized?n=1000")).content == b"x" * 1000
        assert (await get("/streamed?chunks=2")).content == b"y" * 800
        for path in ("/sized?n=1001", "/streamed?chunks=3"):
            with pytest.raises(APIConnectionError, match="larger than 1,000 bytes"):
                await get(path)
        assert (await get("/sized?n=10")).content == b"x" * 10  # the transport is still usable
    finally:
        await transport.aclose()
        await runner.cleanup()
