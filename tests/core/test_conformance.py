"""Every request body the SDK builds validates against the vendor's request schema (OpenAPI json).

Bodies are captured from the requests aioresponses recorded, not rebuilt by the test. The vendor's own
request examples are fed through the SDK's public calls; the schema validation uses ``jsonschema`` with
``$ref`` resolved into the spec's components and OpenAPI 3.0 ``nullable`` adapted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aioresponses import aioresponses

from moengage_segments import AsyncClient, Cohort
from tests.core import _spec
from tests.core._support import BASE, SEG_ID, body_of, only_call

Build = Callable[[AsyncClient], Awaitable[Any]]
URL = "https://files.example.com/users.csv"
HOOK = "https://hooks.example.com/moengage"


def test_validator_rejects_what_the_schema_forbids() -> None:
    """The harness itself can fail: wrong enum, missing required key, bad URI, undocumented key."""
    path = "/v2/custom-segments/file-segment"
    good = {"name": "n", "attribute_name": "ID", "attribute_type": "string", "file_url": URL, "expiry_time": 3}
    _spec.assert_conforms(path, "post", good)
    for bad in (
        {**good, "attribute_type": "int"},
        {k: v for k, v in good.items() if k != "expiry_time"},
        {**good, "file_url": "users.csv"},
        {**good, "expiry_days": 3},
        {**good, "expiry_time": "3"},
    ):
        with pytest.raises(AssertionError):
            _spec.assert_conforms(path, "post", bad)
    cohort = "/v1/integrations/cohortsync"
    with pytest.raises(AssertionError):
        _spec.assert_conforms(
            cohort,
            "post",
            {"action": "add", "partner": "p", "parameters": {"cohort_name": "n", "cohort_id": "i", "members": []}},
        )
    with pytest.raises(AssertionError):
        _spec.assert_conforms(
            "/v3/custom-segments",
            "post",
            {"name": "n", "included_filters": {"filter_operator": "and", "filters": [{"filter_type": "nope"}]}},
        )


def test_nullable_adapter() -> None:
    adapted = _spec._openapi_to_jsonschema({"type": "string", "nullable": True, "enum": ["a"], "example": "a"})
    assert adapted == {"type": ["string", "null"], "enum": ["a", None]}


V2_CASES: list[tuple[str, str, str, Build]] = [
    (
        "/v2/custom-segments/file-segment",
        "post",
        "minimal",
        lambda c: c.file_segments.create("vip", file_url=URL, expiry_days=30),
    ),
    (
        "/v2/custom-segments/file-segment",
        "post",
        "full",
        lambda c: c.file_segments.create(
            "vip",
            file_url=URL,
            expiry_days=30,
            attribute_name="email",
            attribute_type="double",
            callback_url=HOOK,
            emails=["a@example.com"],
        ),
    ),
]
for _op, _path in [("add_users", "add-users"), ("remove_users", "remove-users"), ("replace_users", "replace")]:
    V2_CASES += [
        (
            f"/v2/custom-segments/file-segment/{_path}",
            "put",
            "by name",
            lambda c, op=_op: getattr(c.file_segments, op)("vip", file_url=URL),
        ),
        (
            f"/v2/custom-segments/file-segment/{_path}",
            "put",
            "by name and id, full",
            lambda c, op=_op: getattr(c.file_segments, op)(
                "vip", segment_id=SEG_ID, file_url=URL, callback_url=HOOK, emails=["a@example.com", "b@example.com"]
            ),
        ),
    ]
for _op in ("archive", "unarchive"):
    V2_CASES += [
        (f"/v2/custom-segments/{_op}", "patch", "by name", lambda c, op=_op: getattr(c.segments, op)("vip")),
        (
            f"/v2/custom-segments/{_op}",
            "patch",
            "by name and id",
            lambda c, op=_op: getattr(c.segments, op)("vip", segment_id=SEG_ID),
        ),
    ]


@pytest.mark.parametrize(("path", "method", "case", "build"), V2_CASES, ids=[f"{m} {p} {c}" for p, m, c, _ in V2_CASES])
async def test_file_and_manage_bodies_conform(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, path: str, method: str, case: str, build: Build
) -> None:
    mocked.add(BASE + path, method.upper(), status=202, payload={"success": True})
    await build(make_client())
    _spec.assert_conforms(path, method, body_of(only_call(mocked)[2]))


@pytest.mark.parametrize("example", _spec.request_example_params("/v3/custom-segments", "post"))
async def test_filter_create_bodies_conform_for_every_vendor_example(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, example: dict[str, Any]
) -> None:
    mocked.post(BASE + "/v3/custom-segments", status=201, payload={"data": {"id": SEG_ID, "name": example["name"]}})
    await make_client().filter_segments.create(
        example["name"], included=example["included_filters"], excluded=example.get("excluded_filters")
    )
    body = body_of(only_call(mocked)[2])
    _spec.assert_conforms("/v3/custom-segments", "post", body)
    assert body["name"] == example["name"]
    assert set(body) == set(example) & {"name", "included_filters", "excluded_filters"}


@pytest.mark.parametrize("example", _spec.request_example_params("/v3/custom-segments", "post"))
async def test_filter_update_bodies_conform(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, example: dict[str, Any]
) -> None:
    mocked.patch(f"{BASE}/v3/custom-segments/{SEG_ID}", payload={"data": {"id": SEG_ID, "name": "n"}})
    await make_client().filter_segments.update(
        SEG_ID,
        included=example["included_filters"],
        excluded=example.get("excluded_filters"),
        name=example["name"] + "-v2",
        updated_by="admin@example.com",
    )
    _spec.assert_conforms("/v3/custom-segments/{id}", "patch", body_of(only_call(mocked)[2]))


async def test_vendor_update_example_conforms_and_is_sent_as_documented(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    ((_, example),) = _spec.request_examples("/v3/custom-segments/{id}", "patch")
    mocked.patch(f"{BASE}/v3/custom-segments/{SEG_ID}", payload={"data": {"id": SEG_ID, "name": "n"}})
    await make_client().filter_segments.update(
        SEG_ID, included=example["included_filters"], name=example["name"], updated_by=example["updated_by"]
    )
    body = body_of(only_call(mocked)[2])
    _spec.assert_conforms("/v3/custom-segments/{id}", "patch", body)
    assert body == example


@pytest.mark.parametrize("example", _spec.request_example_params("/v1/integrations/cohortsync", "post"))
async def test_cohort_body_is_the_vendor_example(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, example: dict[str, Any]
) -> None:
    params = example["parameters"]
    cohort = Cohort(
        id=params["cohort_id"],
        name=params["cohort_name"],
        partner=example["partner"],
        description=params.get("cohort_description"),
    )
    mocked.post(BASE + "/v1/integrations/cohortsync", status=200, payload={"status": "success"})
    await make_client().cohorts.send_batch(cohort, example["action"], [m["uid"] for m in params["members"]])
    body = body_of(only_call(mocked)[2])
    _spec.assert_conforms("/v1/integrations/cohortsync", "post", body)
    assert body == example


async def test_cohort_body_without_description_conforms(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    mocked.post(BASE + "/v1/integrations/cohortsync", status=200, payload={"status": "success"})
    await make_client().cohorts.send_batch(Cohort(id="c", name="C", partner="p"), "remove_members", ["ü", 'q"'])
    _spec.assert_conforms("/v1/integrations/cohortsync", "post", body_of(only_call(mocked)[2]))
