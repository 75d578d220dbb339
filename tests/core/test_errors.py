"""Every documented error status of every operation reaches the caller as the right exception, with its fields.

The bodies are the vendor's own examples, read from the OpenAPI files; non-JSON gateway bodies are covered too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from moengage_segments import (
    APIStatusError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Cohort,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    UnsupportedMediaTypeError,
)
from moengage_segments.errors import error_for_status
from tests._services import spec_missing_reason
from tests.core import _spec
from tests.core._mock import MockRoutes
from tests.core._support import API_KEY, BASE, BASIC, SEG_ID, calls

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
COHORT = Cohort(id="c1", name="Cohort", partner="crm")
UIDS = ["uid-SECRET-1", "uid-SECRET-2"]

Call = Callable[[AsyncClient], Awaitable[Any]]

#: (spec path, method, URL the SDK calls, how to call it)
OPERATIONS: list[tuple[str, str, str, Call]] = [
    (
        "/v2/custom-segments/file-segment",
        "POST",
        "/v2/custom-segments/file-segment",
        lambda c: c.file_segments.create("s", file_url="https://h.example/f.csv", expiry_days=3),
    ),
    (
        "/v2/custom-segments/file-segment/add-users",
        "PUT",
        "/v2/custom-segments/file-segment/add-users",
        lambda c: c.file_segments.add_users("s", file_url="https://h.example/f.csv"),
    ),
    (
        "/v2/custom-segments/file-segment/remove-users",
        "PUT",
        "/v2/custom-segments/file-segment/remove-users",
        lambda c: c.file_segments.remove_users("s", file_url="https://h.example/f.csv"),
    ),
    (
        "/v2/custom-segments/file-segment/replace",
        "PUT",
        "/v2/custom-segments/file-segment/replace",
        lambda c: c.file_segments.replace_users("s", file_url="https://h.example/f.csv"),
    ),
    ("/v2/custom-segments/archive", "PATCH", "/v2/custom-segments/archive", lambda c: c.segments.archive("s")),
    ("/v2/custom-segments/unarchive", "PATCH", "/v2/custom-segments/unarchive", lambda c: c.segments.unarchive("s")),
    ("/v3/custom-segments", "GET", "/v3/custom-segments", lambda c: c.segments.list()),
    ("/v3/custom-segments", "POST", "/v3/custom-segments", lambda c: c.filter_segments.create("s", included=GROUP)),
    ("/v3/custom-segments/{id}", "GET", f"/v3/custom-segments/{SEG_ID}", lambda c: c.segments.get(SEG_ID)),
    (
        "/v3/custom-segments/{id}",
        "PATCH",
        f"/v3/custom-segments/{SEG_ID}",
        lambda c: c.filter_segments.update(SEG_ID, included=GROUP),
    ),
    (
        "/v1/integrations/cohortsync",
        "POST",
        "/v1/integrations/cohortsync",
        lambda c: c.cohorts.send_batch(COHORT, "add_members", UIDS),
    ),
]

EXPECTED_CLASS = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    429: RateLimitError,
    500: ServerError,
}


def _cases() -> list[Any]:
    cases = []
    for spec_path, method, url, call in OPERATIONS:
        if _spec._load(_spec.COHORT if spec_path.startswith("/v1/") else _spec.SEGMENTS) is None:
            skip = pytest.mark.skip(reason=spec_missing_reason())
            return [pytest.param(None, None, None, None, 0, "", None, marks=skip)]
        for status in _spec.documented_statuses(spec_path, method.lower()):
            if status < 400:
                continue
            for name, body in _spec.response_examples(spec_path, method.lower(), status) or [("no-body", None)]:
                cases.append(
                    pytest.param(
                        spec_path, method, url, call, status, name, body, id=f"{method} {spec_path} {status} {name}"
                    )
                )
    return cases


def _envelope_fields(body: Any) -> dict[str, Any]:
    """What the documented envelope says, independently of the SDK's parser."""
    if body is None:
        return {"code": None, "message": None, "attribute": None, "request_id": None}
    if "error" in body:
        err = body["error"]
        return {
            "code": err.get("code") or err.get("type"),
            "message": err.get("message"),
            "attribute": err.get("attribute"),
            "request_id": err.get("request_id") or body.get("response_id"),
        }
    return {"code": body.get("title"), "message": body.get("description"), "attribute": None, "request_id": None}


def _mock_failure(routes: MockRoutes, method: str, url: str, status: int, body: Any) -> None:
    if body is None:
        routes.add(BASE + url, method, status=status, body=b"")
    else:
        routes.add(BASE + url, method, status=status, payload=body)
    # An ambiguous create failure (5xx) is resolved by looking the name up: nothing found -> the error surfaces.
    routes.get(BASE + "/v3/custom-segments?name=s", payload={"data": []}, repeat=True)


@pytest.mark.parametrize(("spec_path", "method", "url", "call", "status", "example", "body"), _cases())
async def test_documented_error_maps_to_typed_exception(
    make_client: Callable[..., AsyncClient],
    routes: MockRoutes,
    spec_path: str,
    method: str,
    url: str,
    call: Call,
    status: int,
    example: str,
    body: Any,
) -> None:
    _mock_failure(routes, method, url, status, body)
    client = make_client(retry=RetryPolicy.none())
    with pytest.raises(APIStatusError) as caught:
        await call(client)
    error = caught.value
    assert type(error) is EXPECTED_CLASS[status]
    assert error.status == status
    assert error.attempts == 1
    assert {k: getattr(error, k) for k in ("code", "message", "attribute", "request_id")} == _envelope_fields(body)
    assert error.method == method and error.path is not None
    if body is not None and "error" in body and "response_id" in body:
        assert error.response_id == body["response_id"]
    if body is not None and "error" in body and "type" in body["error"]:
        assert error.type == body["error"]["type"]
    text = str(error) + repr(error)
    for secret in (API_KEY, BASIC, BASIC.split()[1], *UIDS):
        assert secret not in text
    sent = [(m, u) for m, u, _ in calls(routes)]
    assert sent.count((method, BASE + url)) == 1


async def test_conflict_names_the_existing_segment(make_client: Callable[..., AsyncClient], routes: MockRoutes) -> None:
    examples = dict(_spec.response_examples("/v3/custom-segments", "post", 409))
    by_filters = next(b for b in examples.values() if "existing_cs_id" in b["error"])
    by_name = next(b for b in examples.values() if "existing_cs_id" not in b["error"])
    routes.post(BASE + "/v3/custom-segments", status=409, payload=by_filters)
    routes.post(BASE + "/v3/custom-segments", status=409, payload=by_name)
    client = make_client()
    with pytest.raises(ConflictError) as first:
        await client.filter_segments.create("s", included=GROUP)
    assert first.value.existing_segment_id == by_filters["error"]["existing_cs_id"] == "63a017e8d2460ae81a05bf5e"
    assert first.value.existing_segment_name == by_filters["error"]["existing_cs_name"]
    with pytest.raises(ConflictError) as second:
        await client.filter_segments.create("s", included=GROUP)
    assert second.value.existing_segment_id is None and second.value.existing_segment_name is None
    assert len(calls(routes)) == 2  # 409 is never retried


async def test_active_segment_cap_429_carries_counts(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    examples = dict(_spec.response_examples("/v3/custom-segments", "post", 429))
    cap = next(b for b in examples.values() if "actual_count" in b["error"])
    plain = next(b for b in examples.values() if "actual_count" not in b["error"])
    routes.post(BASE + "/v3/custom-segments", status=429, payload=cap)
    routes.post(BASE + "/v3/custom-segments", status=429, payload=plain)
    client = make_client(retry=RetryPolicy.none())
    with pytest.raises(RateLimitError) as first:
        await client.filter_segments.create("s", included=GROUP)
    assert (first.value.actual_count, first.value.limit) == (cap["error"]["actual_count"], cap["error"]["limit"])
    assert first.value.retry_after is None
    with pytest.raises(RateLimitError) as second:
        await client.filter_segments.create("s", included=GROUP)
    assert (second.value.actual_count, second.value.limit) == (None, None)


async def test_429_exposes_retry_after(make_client: Callable[..., AsyncClient], routes: MockRoutes) -> None:
    routes.get(
        BASE + "/v3/custom-segments",
        status=429,
        headers={"Retry-After": "17"},
        payload={"error": {"code": "Too Many Requests"}},
    )
    with pytest.raises(RateLimitError) as caught:
        await make_client(retry=RetryPolicy.none()).segments.list()
    assert caught.value.retry_after == 17.0


@pytest.mark.parametrize("status", [401, 403])
async def test_cohort_auth_errors_read_the_cohort_envelope(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, status: int
) -> None:
    for name, body in _spec.response_examples("/v1/integrations/cohortsync", "post", status):
        routes.post(BASE + "/v1/integrations/cohortsync", status=status, payload=body)
        with pytest.raises(APIStatusError) as caught:
            await make_client().cohorts.send_batch(COHORT, "add_members", ["u"])
        assert caught.value.code == body["error"]["type"], name
        if status == 403:
            assert isinstance(caught.value, PermissionDeniedError)
            assert caught.value.account_suspended is True, name


async def test_forbidden_update_is_not_account_suspension(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    (_, body), *_ = _spec.response_examples("/v3/custom-segments/{id}", "patch", 403)
    routes.patch(f"{BASE}/v3/custom-segments/{SEG_ID}", status=403, payload=body)
    with pytest.raises(PermissionDeniedError) as caught:
        await make_client().filter_segments.update(SEG_ID, included=GROUP)
    assert caught.value.account_suspended is False
    assert caught.value.code == "Forbidden operation"


@pytest.mark.parametrize("status", [400, 403, 404, 413, 429, 502, 503, 504])
async def test_non_json_gateway_body(make_client: Callable[..., AsyncClient], routes: MockRoutes, status: int) -> None:
    html = b"<html><body><h1>502 Bad Gateway</h1><p>" + API_KEY.encode() + b"</p></body></html>"
    routes.get(BASE + "/v3/custom-segments", status=status, body=html, content_type="text/html")
    with pytest.raises(APIStatusError) as caught:
        await make_client(retry=RetryPolicy.none()).segments.list()
    error = caught.value
    assert type(error) is error_for_status(status) and error.status == status
    assert error.code is None and error.request_id is None
    assert error.message == f"non-JSON error body (text/html, {len(html)} bytes)"
    assert "<html>" not in str(error) and API_KEY not in str(error)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"message": "Endpoint request timed out"}, "Endpoint request timed out"),
        ({"error": "upstream unavailable"}, "upstream unavailable"),
        (["not", "an", "object"], "non-JSON error body (application/json, 23 bytes)"),
    ],
)
async def test_gateway_json_bodies_keep_their_message(
    make_client: Callable[..., AsyncClient], routes: MockRoutes, body: Any, message: str
) -> None:
    routes.get(BASE + "/v3/custom-segments", status=504, payload=body)
    with pytest.raises(ServerError) as caught:
        await make_client(retry=RetryPolicy.none()).segments.list()
    assert caught.value.message == message


async def test_undocumented_status_still_an_api_status_error(
    make_client: Callable[..., AsyncClient], routes: MockRoutes
) -> None:
    routes.get(BASE + "/v3/custom-segments", status=418, payload={"title": "teapot"})
    with pytest.raises(APIStatusError) as caught:
        await make_client().segments.list()
    assert type(caught.value) is APIStatusError and caught.value.code == "teapot"
    assert len(calls(routes)) == 1


def test_error_for_status_table() -> None:
    for status, cls in EXPECTED_CLASS.items():
        assert error_for_status(status) is cls
    assert error_for_status(502) is ServerError and error_for_status(599) is ServerError
    assert error_for_status(405) is APIStatusError
