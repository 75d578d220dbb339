"""Every operation against mocked HTTP: exact method, URL, headers and JSON body; vendor success bodies parsed."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aioresponses import aioresponses

from moengage_segments import AsyncClient, Cohort, CohortBatchResult, Segment, SegmentAck, SegmentSummary
from tests.core import _spec
from tests.core._support import BASE, BASIC, DB_NAME, SEG_ID, WORKSPACE, body_of, calls, only_call

COHORT = Cohort(
    id="JKTAuqTRhC", name="Partner_Name", partner="6HNBXFm7ZS", description="A cohort of users from a partner."
)
GROUP = {
    "filter_operator": "and",
    "filters": [
        {
            "filter_type": "user_attributes",
            "name": "Subscription Status",
            "data_type": "string",
            "operator": "in",
            "value": ["active"],
            "negate": False,
            "case_sensitive": False,
        }
    ],
}
EXCLUDED = {
    "filter_operator": "and",
    "filters": [
        {
            "filter_type": "user_attributes",
            "name": "is_test_user",
            "data_type": "bool",
            "operator": "is",
            "value": True,
            "negate": False,
        }
    ],
}


def example(path: str, method: str, status: int, name: str | None = None) -> Any:
    examples = dict(_spec.response_examples(path, method, status))
    return examples[name] if name else next(iter(examples.values()))


def assert_headers(headers: dict[str, str], family: str, *, has_body: bool = True) -> None:
    assert headers["Authorization"] == BASIC
    if has_body:
        assert headers["Content-Type"] == "application/json"
    else:
        assert "Content-Type" not in headers
    if family == "v2":
        assert "MOE-APPKEY" not in headers
        assert headers["MOE-DBNAME"] == DB_NAME
    else:
        assert headers["MOE-APPKEY"] == WORKSPACE
        assert "MOE-DBNAME" not in headers


# --- file segments (v2) --------------------------------------------------------------------------------


async def test_file_create_sends_documented_request_and_parses_202(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    path = "/v2/custom-segments/file-segment"
    mocked.post(BASE + path, status=202, payload=example(path, "post", 202, "api_response"))
    client = make_client()
    ack = await client.file_segments.create(
        "custom_segment_unique_name",
        file_url="https://s3.amazonaws.com/Sample_GAIDs.csv",
        expiry_days=30,
        attribute_name="unique_identifier",
        attribute_type="string",
        callback_url="http://example.com/moengage-callback",
        emails=["user1@example.com", "user2@example.com"],
    )
    method, url, kwargs = only_call(mocked)
    assert (method, url) == ("POST", BASE + path)
    assert_headers(kwargs["headers"], "v2")
    assert body_of(kwargs) == dict(_spec.request_examples(path, "post"))["example"]
    assert ack == SegmentAck(
        status=202,
        segment_id="6a1d8c3292d59351fe910b13",
        name="custom_segment_unique_name",
        message="File-segment creation request accepted",
        success=True,
    )


async def test_file_create_minimal_body_and_defaults(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    mocked.post(BASE + "/v2/custom-segments/file-segment", status=202, payload={"cs_id": SEG_ID})
    await make_client().file_segments.create("vip", file_url="https://h.example/vip.csv", expiry_days=7)
    assert body_of(only_call(mocked)[2]) == {
        "name": "vip",
        "attribute_name": "ID",
        "attribute_type": "string",
        "file_url": "https://h.example/vip.csv",
        "expiry_time": 7,
    }


async def test_emails_from_a_generator_are_read_once_and_sent(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    """Issue 12 item 16: a generator was validated (consumed), then sent as []."""
    mocked.post(BASE + "/v2/custom-segments/file-segment", status=202, payload={"cs_id": SEG_ID})
    addresses = (f"user{i}@example.com" for i in range(3))
    await make_client().file_segments.create("vip", file_url="https://h.example/v.csv", expiry_days=7, emails=addresses)
    assert body_of(only_call(mocked)[2])["emails"] == [f"user{i}@example.com" for i in range(3)]


async def test_file_create_accepts_200_and_segment_id(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    """Older docs: 200 "Everything worked", and an id named segment_id."""
    mocked.post(
        BASE + "/v2/custom-segments/file-segment",
        status=200,
        payload={"segment_id": SEG_ID, "name": "vip", "new_field": 1},
    )
    ack = await make_client().file_segments.create("vip", file_url="https://h.example/vip.csv", expiry_days=7)
    assert (ack.status, ack.segment_id, ack.name, dict(ack.extra)) == (200, SEG_ID, "vip", {"new_field": 1})


async def test_file_create_accepts_empty_2xx_body(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    mocked.post(BASE + "/v2/custom-segments/file-segment", status=202, body=b"")
    ack = await make_client().file_segments.create("vip", file_url="https://h.example/vip.csv", expiry_days=7)
    assert ack == SegmentAck(status=202)


FILE_OPS = [
    ("add_users", "/v2/custom-segments/file-segment/add-users"),
    ("remove_users", "/v2/custom-segments/file-segment/remove-users"),
    ("replace_users", "/v2/custom-segments/file-segment/replace"),
]


@pytest.mark.parametrize(("op", "path"), FILE_OPS)
async def test_file_update_by_name_and_id(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, op: str, path: str
) -> None:
    mocked.put(BASE + path, status=202, payload=example(path, "put", 202))
    client = make_client()
    vendor = dict(_spec.request_examples(path, "put"))["example"]
    ack = await getattr(client.file_segments, op)(
        "custom_segment_unique_name",
        segment_id=SEG_ID,
        file_url=vendor["file_url"],
        attribute_name="unique_identifier",
        callback_url="http://example.com/moengage-callback",
        emails=["user1@example.com"],
    )
    method, url, kwargs = only_call(mocked)
    assert (method, url) == ("PUT", BASE + path)
    assert_headers(kwargs["headers"], "v2")
    assert body_of(kwargs) == {**vendor, "cs_id": SEG_ID}
    documented = example(path, "put", 202)
    assert ack.status == 202 and ack.segment_id == documented["cs_id"] and ack.name == documented["cs_name"]
    assert ack.message == documented["message"] and ack.success is True


@pytest.mark.parametrize(("op", "path"), FILE_OPS)
async def test_file_update_by_name_only_sends_no_cs_id(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, op: str, path: str
) -> None:
    mocked.put(BASE + path, status=202, payload={"message": "ok", "success": True, "cs_name": "vip"})
    ack = await getattr(make_client().file_segments, op)("vip", file_url="https://h.example/f.csv")
    assert body_of(only_call(mocked)[2]) == {
        "name": "vip",
        "attribute_name": "ID",
        "attribute_type": "string",
        "file_url": "https://h.example/f.csv",
    }
    assert ack.segment_id is None and ack.name == "vip"


async def test_file_update_by_id_only_looks_the_name_up_first(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    """The v2 body requires ``name``; given only an id, the SDK fetches the segment's name."""
    get_path = f"/v3/custom-segments/{SEG_ID}"
    mocked.get(BASE + get_path, payload=example("/v3/custom-segments/{id}", "get", 200))
    mocked.put(BASE + "/v2/custom-segments/file-segment/add-users", status=202, payload={"cs_id": SEG_ID})
    await make_client().file_segments.add_users(segment_id=SEG_ID, file_url="https://h.example/f.csv")
    seen = calls(mocked)
    assert [(m, u) for m, u, _ in seen] == [
        ("GET", BASE + get_path),
        ("PUT", BASE + "/v2/custom-segments/file-segment/add-users"),
    ]
    assert body_of(seen[1][2])["name"] == "active-users-segment"
    assert body_of(seen[1][2])["cs_id"] == SEG_ID


# --- archive / unarchive (v2) ----------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["archive", "unarchive"])
async def test_archive_and_unarchive(make_client: Callable[..., AsyncClient], mocked: aioresponses, op: str) -> None:
    path = f"/v2/custom-segments/{op}"
    mocked.patch(BASE + path, status=200, payload=example(path, "patch", 200))
    ack = await getattr(make_client().segments, op)("custom_segment_unique_name", segment_id=SEG_ID)
    method, url, kwargs = only_call(mocked)
    assert (method, url) == ("PATCH", BASE + path)
    assert_headers(kwargs["headers"], "v2")
    assert body_of(kwargs) == {"name": "custom_segment_unique_name", "cs_id": SEG_ID}
    documented = example(path, "patch", 200)
    assert ack == SegmentAck(
        status=200, segment_id=None, name=documented["cs_name"], message=documented["message"], success=True
    )


@pytest.mark.parametrize("op", ["archive", "unarchive"])
async def test_archive_old_202_with_cs_id(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, op: str
) -> None:
    mocked.patch(
        BASE + f"/v2/custom-segments/{op}",
        status=202,
        payload={"message": "Successfully archived", "success": True, "cs_name": "s", "cs_id": SEG_ID},
    )
    ack = await getattr(make_client().segments, op)("s")
    assert body_of(only_call(mocked)[2]) == {"name": "s"}
    assert (ack.status, ack.segment_id, ack.name) == (202, SEG_ID, "s")


async def test_archive_by_id_only_looks_the_name_up(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    mocked.get(f"{BASE}/v3/custom-segments/{SEG_ID}", payload={"data": {"id": SEG_ID, "name": "found-name"}})
    mocked.patch(BASE + "/v2/custom-segments/archive", status=200, payload={"success": True})
    await make_client().segments.archive(segment_id=SEG_ID)
    patch = [kw for m, _, kw in calls(mocked) if m == "PATCH"]
    assert body_of(patch[0]) == {"name": "found-name", "cs_id": SEG_ID}


# --- list / find / get (v3) -----------------------------------------------------------------------------


async def test_list_all(make_client: Callable[..., AsyncClient], mocked: aioresponses) -> None:
    path = "/v3/custom-segments"
    mocked.get(BASE + path, payload=example(path, "get", 200))
    summaries = await make_client().segments.list()
    method, url, kwargs = only_call(mocked)
    assert (method, url) == ("GET", BASE + path)
    assert_headers(kwargs["headers"], "v3", has_body=False)
    assert kwargs.get("data") is None
    assert summaries == [
        SegmentSummary(
            id="6388a97a02adb9071ca84ce9",
            name="api_test_7",
            created_time=datetime(2022, 12, 1, 13, 17, 46, 409000),
            type="ELASTIC_SEARCH",
            source="API",
        )
    ]


async def test_list_by_name_is_an_exact_query(make_client: Callable[..., AsyncClient], mocked: aioresponses) -> None:
    mocked.get(BASE + "/v3/custom-segments?name=my custom segment", payload={"data": []})
    assert await make_client().segments.list("my custom segment") == []
    _, url, _ = only_call(mocked)
    assert url.endswith("?name=my+custom+segment")  # aioresponses' normalised form; the wire form is below


async def test_list_name_is_percent_encoded_on_the_wire(make_client: Callable[..., AsyncClient]) -> None:
    """Documented form: ``?name=my%20custom%20segment``; reserved characters must not split the query."""
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.raw_path)
        return web.json_response({"data": [{"id": SEG_ID, "name": request.query["name"]}]})

    app = web.Application()
    app.router.add_get("/v3/custom-segments", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        client = make_client(base_url=str(server.make_url("")).rstrip("/"))
        name = "my custom segment & co=1+2 #x %/é"
        found = await client.segments.find(name)
    assert seen == ["/v3/custom-segments?name=my%20custom%20segment%20%26%20co%3D1%2B2%20%23x%20%25%2F%C3%A9"]
    assert found is not None and found.name == name


async def test_find_returns_exact_match_or_none(make_client: Callable[..., AsyncClient], mocked: aioresponses) -> None:
    items = [{"id": SEG_ID, "name": "VIP users"}, {"id": "0" * 24, "name": "vip"}]
    mocked.get(BASE + "/v3/custom-segments?name=vip", payload={"data": items})
    mocked.get(BASE + "/v3/custom-segments?name=nope", payload={"data": []})
    client = make_client()
    found = await client.segments.find("vip")
    assert found is not None and found.id == "0" * 24
    assert await client.segments.find("nope") is None


async def test_get_parses_vendor_example(make_client: Callable[..., AsyncClient], mocked: aioresponses) -> None:
    mocked.get(f"{BASE}/v3/custom-segments/{SEG_ID}", payload=example("/v3/custom-segments/{id}", "get", 200))
    segment = await make_client().segments.get(SEG_ID)
    method, url, kwargs = only_call(mocked)
    assert (method, url) == ("GET", f"{BASE}/v3/custom-segments/{SEG_ID}")
    assert_headers(kwargs["headers"], "v3", has_body=False)
    assert (segment.id, segment.name, segment.type, segment.source) == (
        SEG_ID,
        "active-users-segment",
        "ELASTIC_SEARCH",
        "API",
    )
    assert segment.updated_time == datetime(2022, 12, 1, 13, 17, 46, 450000)
    assert segment.description == "Subscription Status  is active  (case insensitive)"
    assert segment.response_id == "WYanfieM"
    assert segment.included_filters is not None and segment.excluded_filters is not None


# --- filter segments (v3) -------------------------------------------------------------------------------


async def test_filter_create(make_client: Callable[..., AsyncClient], mocked: aioresponses) -> None:
    path = "/v3/custom-segments"
    mocked.post(BASE + path, status=201, payload=example(path, "post", 201))
    segment = await make_client().filter_segments.create("segment name", included=GROUP, excluded=EXCLUDED)
    method, url, kwargs = only_call(mocked)
    assert (method, url) == ("POST", BASE + path)
    assert_headers(kwargs["headers"], "v3")
    body = body_of(kwargs)
    assert body["name"] == "segment name" and set(body) == {"name", "included_filters", "excluded_filters"}
    assert isinstance(segment, Segment)
    assert (segment.id, segment.name, segment.response_id) == ("segment id", "segment name", "cNjnTEJw")


async def test_filter_create_without_excluded_omits_the_key(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    mocked.post(BASE + "/v3/custom-segments", status=201, payload={"data": {"id": SEG_ID, "name": "n"}})
    await make_client().filter_segments.create("n", included=GROUP)
    assert set(body_of(only_call(mocked)[2])) == {"name", "included_filters"}


async def test_filter_update(make_client: Callable[..., AsyncClient], mocked: aioresponses) -> None:
    mocked.patch(f"{BASE}/v3/custom-segments/{SEG_ID}", payload=example("/v3/custom-segments/{id}", "patch", 200))
    vendor = dict(_spec.request_examples("/v3/custom-segments/{id}", "patch"))["example"]
    segment = await make_client().filter_segments.update(
        SEG_ID, included=vendor["included_filters"], name=vendor["name"], updated_by=vendor["updated_by"]
    )
    method, url, kwargs = only_call(mocked)
    assert (method, url) == ("PATCH", f"{BASE}/v3/custom-segments/{SEG_ID}")
    assert_headers(kwargs["headers"], "v3")
    body = body_of(kwargs)
    assert set(body) == {"name", "included_filters", "updated_by"}
    assert (body["name"], body["updated_by"]) == (vendor["name"], vendor["updated_by"])
    assert segment.name == "your segment name" and segment.response_id == "cNjnTEJw"


async def test_filter_update_minimal(make_client: Callable[..., AsyncClient], mocked: aioresponses) -> None:
    mocked.patch(f"{BASE}/v3/custom-segments/{SEG_ID}", payload={"data": {"id": SEG_ID, "name": "n"}})
    await make_client().filter_segments.update(SEG_ID, included=GROUP)
    assert set(body_of(only_call(mocked)[2])) == {"included_filters"}


# --- cohort sync ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["add_members", "remove_members"])
async def test_cohort_send_batch(make_client: Callable[..., AsyncClient], mocked: aioresponses, action: str) -> None:
    path = "/v1/integrations/cohortsync"
    mocked.post(BASE + path, status=200, payload=example(path, "post", 200))
    result = await make_client().cohorts.send_batch(COHORT, action, ["mm1UR87z4T", "AtCxliflui"])  # type: ignore[arg-type]
    method, url, kwargs = only_call(mocked)
    assert (method, url) == ("POST", BASE + path)
    assert_headers(kwargs["headers"], "cohort")
    assert body_of(kwargs) == {
        "action": action,
        "partner": "6HNBXFm7ZS",
        "parameters": {
            "cohort_name": "Partner_Name",
            "cohort_id": "JKTAuqTRhC",
            "cohort_description": "A cohort of users from a partner.",
            "members": [{"uid": "mm1UR87z4T"}, {"uid": "AtCxliflui"}],
        },
    }
    assert result == CohortBatchResult(
        status=200,
        members=2,
        bytes=len(kwargs["data"]),
        message="Your request has been accepted and will be processed soon.",
        attempts=1,
        extra={"status": "success"},
    )


async def test_cohort_never_sends_db_name_and_escapes_uids(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    mocked.post(BASE + "/v1/integrations/cohortsync", status=200, payload={"status": "success"})
    uids = ['quo"te', "back\\slash", "ünï😀", "tab\tin"]
    await make_client(db_name="test_db").cohorts.send_batch(Cohort(id="c", name="C", partner="p"), "add_members", uids)
    _, _, kwargs = only_call(mocked)
    assert "MOE-DBNAME" not in kwargs["headers"]
    body = body_of(kwargs)
    assert "cohort_description" not in body["parameters"]
    assert [m["uid"] for m in body["parameters"]["members"]] == uids


async def test_base_url_and_data_centre_choose_the_host(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    mocked.get("https://api-101.moengage.com/v3/custom-segments", payload={"data": []})
    mocked.get("https://proxy.example/moe/v3/custom-segments", payload={"data": []})
    await make_client(data_center="dc-101").segments.list()
    await make_client(base_url="https://proxy.example/moe/").segments.list()
    assert sorted(u for _, u, _ in calls(mocked)) == [
        "https://api-101.moengage.com/v3/custom-segments",
        "https://proxy.example/moe/v3/custom-segments",
    ]


def test_every_documented_operation_is_covered() -> None:
    """The tests above cover each (method, path) the vendor documents; a new one in the spec fails here."""
    covered = {
        ("POST", "/v2/custom-segments/file-segment"),
        ("PUT", "/v2/custom-segments/file-segment/add-users"),
        ("PUT", "/v2/custom-segments/file-segment/remove-users"),
        ("PUT", "/v2/custom-segments/file-segment/replace"),
        ("PATCH", "/v2/custom-segments/archive"),
        ("PATCH", "/v2/custom-segments/unarchive"),
        ("GET", "/v3/custom-segments"),
        ("POST", "/v3/custom-segments"),
        ("GET", "/v3/custom-segments/{id}"),
        ("PATCH", "/v3/custom-segments/{id}"),
        ("POST", "/v1/integrations/cohortsync"),
    }
    documented = {
        (m.upper(), p)
        for name in (_spec.SEGMENTS, _spec.COHORT)
        for p, ops in _spec.load(name)["paths"].items()
        for m in ops
        if re.fullmatch(r"[a-z]+", m) and m in ("get", "post", "put", "patch", "delete")
    }
    assert documented == covered


async def test_list_item_without_id_does_not_escape_as_a_cattrs_error(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    from moengage_segments import MoEngageError

    mocked.get(BASE + "/v3/custom-segments", payload={"data": [{"name": "no id"}, {"id": SEG_ID, "name": "ok"}]})
    try:
        summaries = await make_client().segments.list()
    except MoEngageError:
        return
    assert [s.id for s in summaries] == [SEG_ID]
