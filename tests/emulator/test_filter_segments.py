"""Filter segments (v3): list, create, get, update and their errors."""

from __future__ import annotations

from typing import Any

import pytest

from moengage_segments.testing import Emulator
from tests.emulator.conftest import Api, attr_group, ref_group

V3 = "/v3/custom-segments"
ACTION = {
    "filter_type": "actions",
    "action_name": "purchase",
    "executed": True,
    "execution": {"type": "atleast", "count": 1},
    "primary_time_range": {"type": "inTheLast", "value": 30, "value_type": "relative_past", "period_unit": "days"},
    "attributes": {
        "filter_operator": "and",
        "filters": [
            {
                "name": "category",
                "data_type": "string",
                "category": "default",
                "filter_type": "action_attributes",
                "operator": "is",
                "negate": False,
                "case_sensitive": False,
                "value": "Electronics",
            }
        ],
    },
}


async def test_create_get_list(api: Api, emu: Emulator) -> None:
    included = {
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
            },
            ACTION,
        ],
    }
    excluded = {
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
    reply = await api.create_filter("active", included, excluded)
    assert reply.status == 201 and reply.body["type"] == "custom_segment"
    data = reply.body["data"]
    assert data["name"] == "active" and data["type"] == "ELASTIC_SEARCH" and data["source"] == "API"
    assert data["description"].startswith("Subscription Status is active (case insensitive) AND Has executed")
    assert "EXCLUDING (is_test_user is true)" in data["description"]
    # Event-attribute filters are echoed without filter_type.
    assert "filter_type" not in data["included_filters"]["filters"][1]["attributes"]["filters"][0]
    assert data["excluded_filters"] == excluded
    got = await api.call("GET", f"{V3}/{data['id']}")
    assert got.status == 200 and got.body["data"] == data
    listed = await api.call("GET", f"{V3}/", params={"name": "active"})
    assert listed.body["data"] == [{k: data[k] for k in ("name", "id", "created_time", "type", "source")}]
    assert (await api.call("GET", V3, params={"name": "activ"})).body["data"] == []


async def test_list_contains_every_kind(api: Api, emu: Emulator) -> None:
    await api.create_filter("f", attr_group("a"))
    await api.create_file("file", emu.host_file("x.csv", []))
    await api.cohort("add_members", "c", [], name="coh")
    names = {item["name"]: item["type"] for item in (await api.call("GET", V3)).body["data"]}
    assert names == {"f": "ELASTIC_SEARCH", "file": "FILE", "coh": "COHORT"}


async def test_get_file_segment_and_errors(api: Api, emu: Emulator) -> None:
    cs_id = (await api.create_file("file", emu.host_file("x.csv", []))).body["cs_id"]
    reply = await api.call("GET", f"{V3}/{cs_id}")
    assert reply.status == 200 and reply.body["data"]["type"] == "FILE"
    assert "included_filters" not in reply.body["data"]
    reply = await api.call("GET", f"{V3}/not-an-id")
    assert reply.status == 400
    assert reply.body["error"] == {"code": "Invalid request", "message": "Invalid bson object-id passed in the request"}
    reply = await api.call("GET", f"{V3}/{'0' * 24}")
    assert reply.status == 404
    assert reply.body["error"]["message"] == f"Custom segment not found with the given id: {'0' * 24}"


async def test_duplicate_name_and_definition_are_409(api: Api) -> None:
    first = (await api.create_filter("a", attr_group("x", "y"))).body["data"]
    reply = await api.create_filter("a", attr_group("z"))
    assert reply.status == 409
    assert reply.body["error"] == {
        "code": "Resource not created",
        "message": "Another custom-segment already exists with the same name: a. Please change the "
        "custom-segment name.",
    }
    # Same definition with the filters reordered and explicit defaults: still a duplicate.
    reordered = attr_group("y", "x")
    reordered["filters"][0]["negate"] = False
    reply = await api.create_filter("b", reordered)
    assert reply.status == 409
    assert reply.body["error"]["existing_cs_id"] == first["id"]
    assert reply.body["error"]["existing_cs_name"] == "a"
    assert (await api.create_filter("c", attr_group("x", "y", operator="or"))).status == 201


@pytest.mark.parametrize(
    "included",
    [
        {"filter_operator": "xor", "filters": []},
        {"filter_operator": "and"},
        {"filter_operator": "and", "filters": [{"filter_type": "magic"}]},
        {
            "filter_operator": "and",
            "filters": [
                {"filter_type": "user_attributes", "name": "n", "data_type": "bool", "operator": "in", "value": [1]}
            ],
        },
        {
            "filter_operator": "and",
            "filters": [
                {
                    "filter_type": "user_attributes",
                    "name": "n",
                    "data_type": "double",
                    "operator": "between",
                    "value": 1,
                }
            ],
        },
        {"filter_operator": "and", "filters": [{**ACTION, "execution": {"type": "atleast"}}]},
        {"filter_operator": "and", "filters": [{k: v for k, v in ACTION.items() if k != "attributes"}]},
        {
            "filter_operator": "and",
            "filters": [
                {
                    "filter_type": "nested_filters",
                    "filter_operator": "or",
                    "filters": [{"filter_type": "user_attributes"}],
                }
            ],
        },
        {"filter_operator": "and", "filters": [{"filter_type": "custom_segments", "id": "0" * 24}]},
    ],
)
async def test_invalid_filters_are_400(api: Api, included: dict[str, Any]) -> None:
    reply = await api.create_filter("bad", included)
    assert reply.status == 400
    assert reply.body["error"]["code"] == "Invalid Request"
    assert reply.body["error"]["message"].startswith("Invalid request. Please ensure that the filters are correct")


async def test_bad_name_and_format_are_400(api: Api) -> None:
    for name in ("   ", "<b>x</b>"):
        reply = await api.create_filter(name, attr_group("a"))
        assert reply.status == 400 and reply.body["error"]["code"] == "Invalid Request"
    reply = await api.call("POST", V3, {"name": "x"})
    assert reply.status == 400 and reply.body["error"]["code"] == "Invalid request"
    assert (await api.call("POST", V3, data=b"nope")).status == 400


async def test_update_replaces_definition(api: Api, emu: Emulator) -> None:
    data = (await api.create_filter("a", attr_group("x"), attr_group("ex"))).body["data"]
    reply = await api.call(
        "PATCH",
        f"{V3}/{data['id']}",
        {"name": "a2", "included_filters": attr_group("y"), "updated_by": "me@example.test"},
    )
    assert reply.status == 200
    updated = reply.body["data"]
    assert updated["name"] == "a2" and updated["id"] == data["id"]
    assert updated["included_filters"] == attr_group("y") and "excluded_filters" not in updated
    assert updated["created_time"] == data["created_time"]
    assert emu.segment(data["id"]).description == "y is x (case insensitive)"


async def test_update_errors(api: Api, emu: Emulator) -> None:
    a = (await api.create_filter("a", attr_group("a"))).body["data"]["id"]
    b = (await api.create_filter("b", attr_group("b"))).body["data"]["id"]
    reply = await api.call("PATCH", f"{V3}/{b}", {"included_filters": attr_group("a")})
    assert reply.status == 409 and reply.body["error"]["existing_cs_id"] == a
    reply = await api.call("PATCH", f"{V3}/{b}", {"name": "a", "included_filters": attr_group("q")})
    assert reply.status == 409 and "existing_cs_id" not in reply.body["error"]
    reply = await api.call("PATCH", f"{V3}/{'1' * 24}", {"included_filters": attr_group("q")})
    assert reply.status == 404
    # File segments, cohorts and archived segments cannot be updated.
    file_id = (await api.create_file("file", emu.host_file("x.csv", []))).body["cs_id"]
    await api.call("PATCH", "/v2/custom-segments/archive", {"name": "b"})
    for target in (file_id, b):
        reply = await api.call("PATCH", f"{V3}/{target}", {"included_filters": attr_group("q")})
        assert reply.status == 403
        assert reply.body["error"]["code"] == "Forbidden operation"


async def test_cycles_are_412(api: Api) -> None:
    a = (await api.create_filter("a", attr_group("a"))).body["data"]["id"]
    b = (await api.create_filter("b", ref_group(a))).body["data"]["id"]
    c = (await api.create_filter("c", ref_group(b))).body["data"]["id"]
    for target, refs in ((a, ref_group(c)), (a, ref_group(a))):
        reply = await api.call("PATCH", f"{V3}/{target}", {"included_filters": refs})
        assert reply.status == 412
        assert reply.body["error"] == {
            "code": "Cyclic Entity",
            "message": "Circular reference detected in the custom segment definition.",
        }


async def test_nesting_levels_over_3_are_413(api: Api) -> None:
    d = (await api.create_filter("d", attr_group("d"))).body["data"]["id"]
    c = (await api.create_filter("c", ref_group(d))).body["data"]["id"]
    b = (await api.create_filter("b", ref_group(c))).body["data"]["id"]
    a = await api.create_filter("a", ref_group(b))  # A includes B includes C includes D: 3 levels
    assert a.status == 201
    reply = await api.create_filter("too-deep", ref_group(a.body["data"]["id"]))
    assert reply.status == 413
    assert reply.body["error"]["code"] == "Query has too many nesting levels"
    nested: dict[str, Any] = attr_group("leaf")
    for _ in range(4):
        nested = {"filter_operator": "and", "filters": [{"filter_type": "nested_filters", **nested}]}
    assert (await api.create_filter("nested", nested)).status == 413


@pytest.mark.moengage_emulator(max_filter_segment_refs=2, max_filter_query_bytes=2000)
async def test_segment_count_and_query_length_are_413(api: Api) -> None:
    ids = [(await api.create_filter(f"s{i}", attr_group(f"s{i}"))).body["data"]["id"] for i in range(3)]
    assert (await api.create_filter("two", ref_group(*ids[:2]))).status == 201
    reply = await api.create_filter("three", ref_group(*ids))
    assert reply.status == 413 and reply.body["error"]["code"] == "Too many segments in a query"
    reply = await api.create_filter("long", attr_group(*[f"attr{i}" for i in range(40)]))
    assert reply.status == 413 and reply.body["error"]["code"] == "Query length limit exceeded"


@pytest.mark.moengage_emulator(max_active_segments=2)
async def test_active_cap_is_429_with_counts(api: Api) -> None:
    await api.create_filter("a", attr_group("a"))
    await api.create_filter("b", attr_group("b"))
    reply = await api.create_filter("c", attr_group("c"))
    assert reply.status == 429
    assert reply.body["error"] == {
        "code": "Too Many Requests",
        "message": "Total active segments limit breached. Request rejected!",
        "actual_count": 3,
        "limit": 2,
    }


async def test_schema_variants_are_accepted(api: Api) -> None:
    filters = [
        {
            "filter_type": "user_attributes",
            "name": "loc",
            "data_type": "geopoint",
            "value": 40.7,
            "value1": -74.0,
            "radius": 10,
        },
        {
            "filter_type": "user_attributes",
            "name": "address",
            "data_type": "object",
            "filter_operator": "and",
            "filters": [{"name": "city", "data_type": "string", "operator": "in", "value": ["NY"]}],
        },
        {
            "filter_type": "user_attributes",
            "name": "signup",
            "data_type": "datetime",
            "operator": "inTheLast",
            "value": 30,
            "value_type": "relative_past",
        },
        {
            "filter_type": "user_attributes",
            "name": "tags",
            "data_type": "array_string",
            "operator": "in",
            "value": ["vip"],
            "array_filter_type": "any_of",
        },
        {"filter_type": "user_attributes", "name": "email", "data_type": "string", "operator": "exists"},
        {
            "filter_type": "psychographic_event",
            "action_name": "purchase",
            "executed": True,
            "execution": {"type": "atleast", "count": 1},
            "operator_type": "top",
            "percent_of_users": 10,
            "psychographic_attributes": {
                "filter_operator": "and",
                "filters": [{"name": "product_category", "data_type": "string", "operator": "exists"}],
            },
            "primary_time_range": {"type": "inTheLast", "value_type": "relative_past", "days": 30},
        },
        {**ACTION, "executed": False, "execution": {"type": "exactly", "count": 0}},
    ]
    reply = await api.create_filter("variants", {"filter_operator": "or", "filters": filters})
    assert reply.status == 201, reply.body
