"""Cohort sync: validation, envelopes, membership, caps."""

from __future__ import annotations

import json

import pytest

from moengage_segments.testing import Emulator
from tests.emulator.conftest import Api

COHORT = "/v1/integrations/cohortsync"
SUCCESS = {"status": "success", "message": "Your request has been accepted and will be processed soon."}


async def test_add_then_remove_only_existing_users_join(api: Api, emu: Emulator) -> None:
    emu.add_users(["u1", "u2", "u3"])
    reply = await api.cohort("add_members", "churn", ["u1", "u2", "ghost"], name="Churn risk")
    assert (reply.status, reply.body) == (200, SUCCESS)
    segment = emu.cohort_segment("churn")
    assert segment is not None and segment.kind == "cohort" and segment.name == "Churn risk"
    assert emu.members(segment.id) == {"u1", "u2"}
    await api.cohort("add_members", "churn", ["u3"])
    assert emu.members(segment.id) == {"u1", "u2", "u3"}
    await api.cohort("remove_members", "churn", ["u1", "ghost"])
    assert emu.members(segment.id) == {"u2", "u3"}
    assert len(emu.segments(kind="cohort")) == 1  # upserted by cohort id, not duplicated


@pytest.mark.moengage_emulator(accept_any_uid=True)
async def test_accept_any_uid_adds_unseeded_uids(api: Api, emu: Emulator) -> None:
    await api.cohort("add_members", "bench", ["a", "b"])
    segment = emu.cohort_segment("bench")
    assert segment is not None and emu.members(segment.id) == {"a", "b"}


async def test_remove_on_unknown_cohort_is_a_noop(api: Api, emu: Emulator) -> None:
    reply = await api.cohort("remove_members", "never", ["u1"])
    assert reply.status == 200 and emu.cohort_segment("never") is None


async def test_non_json_content_type_is_415(api: Api) -> None:
    reply = await api.call("POST", COHORT, data=b"action=add_members", content_type="text/plain")
    assert reply.status == 415
    assert reply.body["error"]["message"] == "Content type is not supported"
    assert reply.body["error"]["type"] == "Unsupported media type"


async def test_body_over_128kb_is_413(api: Api, emu: Emulator) -> None:
    uids = [f"user-{i:08d}" for i in range(7000)]  # ~140 KB
    body = {
        "action": "add_members",
        "partner": "p",
        "parameters": {"cohort_id": "c", "cohort_name": "C", "members": [{"uid": u} for u in uids]},
    }
    assert len(json.dumps(body)) > 128 * 1024
    reply = await api.call("POST", COHORT, body)
    assert reply.status == 413
    assert reply.body["error"]["message"] == "Payload can not exceed 128KB"
    assert reply.body["error"]["type"] == "Payload too large"
    assert emu.cohort_segment("c") is None


async def test_body_cap_can_shrink_at_runtime(api: Api, emu: Emulator) -> None:
    emu.config.max_cohort_body_bytes = 100
    assert (await api.cohort("add_members", "c", ["u" * 200])).status == 413
    emu.config.max_cohort_body_bytes = 128_000
    assert (await api.cohort("add_members", "c", ["u" * 200])).status == 200


def _body_of_size(size: int) -> bytes:
    head = b'{"action":"add_members","partner":"p","parameters":{"cohort_id":"c","cohort_name":"C","members":[{"uid":"'
    tail = b'"}]}}'
    return head + b"u" * (size - len(head) - len(tail)) + tail


async def test_default_body_cap_is_128000_bytes(api: Api, emu: Emulator) -> None:
    # "128KB" read conservatively: 128,000 bytes, the SDK's default request budget.
    assert emu.config.max_cohort_body_bytes == 128_000
    emu.config.accept_any_uid = True
    assert (await api.call("POST", COHORT, data=_body_of_size(128_001))).status == 413
    assert (await api.call("POST", COHORT, data=_body_of_size(128_000))).status == 200
    segment = emu.cohort_segment("c")
    assert segment is not None and segment.member_count == 1


@pytest.mark.moengage_emulator(max_cohort_body_bytes=131_072)
async def test_body_cap_stays_configurable(api: Api, emu: Emulator) -> None:
    assert (await api.call("POST", COHORT, data=_body_of_size(131_072))).status == 200
    assert (await api.call("POST", COHORT, data=_body_of_size(131_073))).status == 413


async def test_malformed_json_is_400(api: Api) -> None:
    reply = await api.call("POST", COHORT, data=b"{not json")
    assert reply.status == 400
    assert reply.body["error"] == {
        "message": "Could not decode the request body. The JSON was incorrect or not encoded as UTF-8.",
        "type": "Malformed JSON",
        "request_id": reply.body["error"]["request_id"],
    }


@pytest.mark.parametrize(
    ("body", "attribute"),
    [
        ({"partner": "p", "parameters": {}}, "action"),
        ({"action": "add_members", "parameters": {}}, "partner"),
        ({"action": "add_members", "partner": "p"}, "parameters"),
        ({"action": "add_members", "partner": "p", "parameters": {"cohort_name": "C", "members": []}}, "cohort_id"),
        ({"action": "add_members", "partner": "p", "parameters": {"cohort_id": "c", "members": []}}, "cohort_name"),
        ({"action": "add_members", "partner": "p", "parameters": {"cohort_id": "c", "cohort_name": "C"}}, "members"),
        (
            {
                "action": "add_members",
                "partner": "p",
                "parameters": {"cohort_id": "c", "cohort_name": "C", "members": [{"id": "x"}]},
            },
            "uid",
        ),
    ],
)
async def test_missing_attribute_is_400(api: Api, body: dict[str, object], attribute: str) -> None:
    reply = await api.call("POST", COHORT, body)
    assert reply.status == 400
    error = reply.body["error"]
    assert error["attribute"] == attribute and error["type"] == "MissingAttributeError"
    assert error["message"] == f"{attribute} is not found in the payload"


async def test_unknown_action_and_bad_names_are_400(api: Api) -> None:
    reply = await api.cohort("delete_members", "c", ["u1"])
    assert reply.status == 400 and reply.body["error"]["attribute"] == "action"
    reply = await api.cohort("add_members", "c", ["u1"], name="bad|name")
    assert reply.status == 400 and reply.body["error"]["attribute"] == "cohort_name"
    body = {
        "action": "add_members",
        "partner": "p",
        "parameters": {"cohort_id": "c", "cohort_name": "C", "members": [{"uid": 5}]},
    }
    reply = await api.call("POST", COHORT, body)
    assert reply.status == 400 and reply.body["error"]["attribute"] == "uid"


@pytest.mark.parametrize("description", [42, None, ["a"], {"x": 1}, True])
async def test_non_string_cohort_description_is_400_and_stores_nothing(
    api: Api, emu: Emulator, description: object
) -> None:
    body = {
        "action": "add_members",
        "partner": "p",
        "parameters": {"cohort_id": "c", "cohort_name": "C", "cohort_description": description, "members": []},
    }
    reply = await api.call("POST", COHORT, body)
    assert reply.status == 400
    assert reply.body["error"]["attribute"] == "cohort_description"
    assert reply.body["error"]["type"] == "InvalidAttributeError"
    assert emu.cohort_segment("c") is None


async def test_string_cohort_description_is_stored(api: Api, emu: Emulator) -> None:
    body = {
        "action": "add_members",
        "partner": "p",
        "parameters": {"cohort_id": "c", "cohort_name": "C", "cohort_description": "Churners", "members": []},
    }
    assert (await api.call("POST", COHORT, body)).status == 200
    segment = emu.cohort_segment("c")
    assert segment is not None and segment.description == "Churners"


async def test_leading_dot_allowed_unless_strict(api: Api) -> None:
    assert (await api.cohort("add_members", "c", ["u1"], name=".Partner")).status == 200


@pytest.mark.moengage_emulator(strict=True)
async def test_leading_dot_refused_in_strict_mode(api: Api) -> None:
    assert (await api.cohort("add_members", "c", ["u1"], name=".Partner")).status == 400


@pytest.mark.moengage_emulator(max_active_segments=1)
async def test_active_segment_cap_applies_to_new_cohorts(api: Api) -> None:
    assert (await api.cohort("add_members", "c1", [])).status == 200
    reply = await api.cohort("add_members", "c2", [])
    assert reply.status == 429 and reply.body["status"] == "fail"
    assert (await api.cohort("add_members", "c1", [])).status == 200  # existing cohort still updatable


async def test_archived_cohort_starts_a_new_segment(api: Api, emu: Emulator) -> None:
    emu.add_users(["u1", "u2"])
    await api.cohort("add_members", "c", ["u1"], name="C")
    old = emu.cohort_segment("c")
    assert old is not None
    assert (await api.call("PATCH", "/v2/custom-segments/archive", {"name": "C", "cs_id": old.id})).status == 200
    await api.cohort("add_members", "c", ["u2"], name="C")
    new = emu.cohort_segment("c")
    assert new is not None and new.id != old.id
    assert emu.members(new.id) == {"u2"} and emu.members(old.id) == {"u1"}


@pytest.mark.moengage_emulator(accept_any_uid=True, rate_limits=False)
async def test_requests_near_the_size_cap_land_whole(api: Api, emu: Emulator) -> None:
    # How fast the emulator ingests them is measured by benchmarks/bench_emulator.py.
    for batch in range(4):  # 5500 uids, ~127 KB a request (under the 128,000 cap)
        uids = [f"u{batch:03d}{i:06d}" for i in range(5500)]
        assert (await api.cohort("add_members", "big", uids)).status == 200
    segment = emu.cohort_segment("big")
    assert segment is not None and segment.member_count == 4 * 5500
    assert emu.counters.requests_by_endpoint["cohort_sync"] == 4
    assert emu.counters.bytes_received > 4 * 100_000
