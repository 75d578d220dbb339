"""File segments: 202 at once, asynchronous processing, CSV rules, callbacks, limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from moengage_segments.testing import Emulator
from tests.emulator.conftest import Api, CallbackSink

FS = "/v2/custom-segments/file-segment"


async def test_create_is_202_with_zero_users_then_processed(
    api: Api, emu: Emulator, callback_sink: CallbackSink
) -> None:
    emu.add_users(["u1", "u2", "u3"])
    url = emu.host_file("a.csv", ["u1", "u2", "ghost", "", '"u3"', "u3,", "u1"])
    emu.config.file_processing_delay = 0.2  # long enough to observe the empty segment
    reply = await api.create_file("promo", url, callback_url=callback_sink.url)
    assert reply.status == 202
    assert reply.body["message"] == "File-segment creation request accepted"
    assert reply.body["success"] is True and reply.body["cs_name"] == "promo"
    cs_id = reply.body["cs_id"]
    assert len(cs_id) == 24 and int(cs_id, 16) >= 0
    assert emu.segment(cs_id).member_count == 0 and emu.segment(cs_id).processing == "pending"
    await emu.drain()
    assert emu.members(cs_id) == {"u1", "u2"}
    assert len(callback_sink.received) == 1
    payload = callback_sink.received[0]
    assert payload["status"] == 201 and payload["db_name"] == emu.db_name
    assert payload["segment_name"] == "promo" and len(payload["request_id"]) == 32
    # 7 rows; empty, quoted, trailing-comma and duplicate rows are skipped.
    assert (payload["values_found"], payload["values_processed"], payload["user_count"]) == (7, 3, 2)
    assert emu.callbacks[-1].response_status == 200


async def test_add_remove_replace(api: Api, emu: Emulator) -> None:
    emu.add_users(["u1", "u2", "u3", "u4"])
    cs_id = (await api.create_file("s", emu.host_file("1.csv", ["u1", "u2"]))).body["cs_id"]
    await emu.drain()
    body = {"name": "s", "attribute_name": "ID", "attribute_type": "string"}
    reply = await api.call("PUT", f"{FS}/add-users", {**body, "file_url": emu.host_file("2.csv", ["u3"])})
    assert reply.status == 202 and reply.body["message"] == "File-segment user-add request accepted"
    await emu.drain()
    assert emu.members(cs_id) == {"u1", "u2", "u3"}
    reply = await api.call("PUT", f"{FS}/remove-users", {**body, "file_url": emu.host_file("3.csv", ["u1"])})
    assert reply.body["message"] == "File-segment user-remove request accepted"
    await emu.drain()
    assert emu.members(cs_id) == {"u2", "u3"}
    reply = await api.call("PUT", f"{FS}/replace", {**body, "file_url": emu.host_file("4.csv", ["u4"])})
    assert reply.body == {
        "message": "File-segment user-replace request accepted",
        "success": True,
        "cs_name": "s",
        "cs_id": cs_id,
    }
    await emu.drain()
    assert emu.members(cs_id) == {"u4"}


async def test_cs_id_wins_over_name(api: Api, emu: Emulator) -> None:
    emu.add_users(["u1"])
    a = (await api.create_file("a", emu.host_file("a.csv", []))).body["cs_id"]
    await api.create_file("b", emu.host_file("b.csv", []))
    url = emu.host_file("c.csv", ["u1"])
    body = {"name": "b", "cs_id": a, "attribute_name": "ID", "attribute_type": "string", "file_url": url}
    assert (await api.call("PUT", f"{FS}/add-users", body)).body["cs_name"] == "a"
    await emu.drain()
    assert emu.members(a) == {"u1"}


async def test_match_by_other_attribute_and_file_url(api: Api, emu: Emulator, tmp_path: Path) -> None:
    emu.add_user("u1", email="one@example.test")
    emu.add_user("u2", email="two@example.test")
    path = tmp_path / "emails.csv"
    path.write_text("one@example.test\nnobody@example.test\n")
    reply = await api.create_file("by-email", path.as_uri(), attribute_name="email")
    await emu.drain()
    assert emu.members(reply.body["cs_id"]) == {"u1"}


async def test_double_attribute_matches_numerically(api: Api, emu: Emulator) -> None:
    emu.add_user("u1", score=5)
    emu.add_user("u2", score=7.5)
    url = emu.host_file("d.csv", ["5.0", "7.5", "abc"])
    reply = await api.create_file("scores", url, attribute_name="score", attribute_type="double")
    await emu.drain()
    assert emu.members(reply.body["cs_id"]) == {"u1", "u2"}


async def test_download_failure_reports_400_through_callback(
    api: Api, emu: Emulator, callback_sink: CallbackSink
) -> None:
    url = f"{emu.base_url}/_emulator/files/missing.csv"
    await api.create_file("broken", url, callback_url=callback_sink.url)
    await emu.drain()
    assert callback_sink.received == [
        {
            "db_name": emu.db_name,
            "segment_name": "broken",
            "request_id": callback_sink.received[0]["request_id"],
            "status": 400,
            "error_message": "File download failed. Created custom_segment contains 0 users.",
        }
    ]


async def test_non_loopback_file_url_is_never_fetched(api: Api, emu: Emulator) -> None:
    cs_id = (await api.create_file("remote", "https://example.com/a.csv")).body["cs_id"]
    await emu.drain()
    assert emu.segment(cs_id).processing == "failed"


@pytest.mark.moengage_emulator(max_file_bytes=10)
async def test_file_over_size_cap_reports_400(api: Api, emu: Emulator, callback_sink: CallbackSink) -> None:
    await api.create_file("big", emu.host_file("big.csv", ["u" * 20]), callback_url=callback_sink.url)
    await emu.drain()
    assert callback_sink.received[0]["error_message"].startswith("File size cannot be greater than 150MB.")


@pytest.mark.parametrize(
    ("missing", "extra"),
    [("expiry_time", {}), ("name", {}), ("file_url", {}), ("attribute_name", {}), ("attribute_type", {})],
)
async def test_missing_field_is_400(api: Api, missing: str, extra: dict[str, object]) -> None:
    body = {
        "name": "n",
        "attribute_name": "ID",
        "attribute_type": "string",
        "file_url": "http://127.0.0.1:1/a.csv",
        "expiry_time": 30,
    }
    del body[missing]
    reply = await api.call("POST", FS, body)
    assert reply.status == 400
    assert reply.body == {
        "title": "Invalid request",
        "description": f"{missing} - Field is required but value is None : None",
    }


async def test_invalid_values_are_400(api: Api) -> None:
    base = {
        "name": "n",
        "attribute_name": "ID",
        "attribute_type": "string",
        "file_url": "http://127.0.0.1:1/a.csv",
        "expiry_time": 30,
    }
    for change in (
        {"attribute_type": "int"},
        {"expiry_time": "30"},
        {"file_url": "ftp://x/a.csv"},
        {"emails": ["not-an-email"]},
        {"expiry_time": 0},
    ):
        reply = await api.call("POST", FS, {**base, **change})
        assert reply.status == 400, change
        assert reply.body["title"] == "Invalid request"
    assert (await api.call("POST", FS, data=b"[1, 2]")).status == 400


async def test_duplicate_name_is_409_and_unknown_target_404(api: Api, emu: Emulator) -> None:
    url = emu.host_file("x.csv", [])
    assert (await api.create_file("dup", url)).status == 202
    reply = await api.create_file("dup", url)
    assert reply.status == 409
    assert reply.body == {"title": "Resource not created", "description": "Name already exists: dup"}
    body = {"name": "nope", "attribute_name": "ID", "attribute_type": "string", "file_url": url}
    reply = await api.call("PUT", f"{FS}/add-users", body)
    assert reply.status == 404
    assert reply.body == {
        "title": "Entity Not Found",
        "description": "Custom segment not found for the given name or cs_id: nope",
    }


async def test_file_ops_only_target_file_segments(api: Api, emu: Emulator) -> None:
    await api.cohort("add_members", "c", [], name="cohort-seg")
    body = {
        "name": "cohort-seg",
        "attribute_name": "ID",
        "attribute_type": "string",
        "file_url": emu.host_file("x.csv", []),
    }
    assert (await api.call("PUT", f"{FS}/add-users", body)).status == 404


async def test_file_ops_limit_is_10_per_hour(api: Api, emu: Emulator) -> None:
    url = emu.host_file("x.csv", [])
    for i in range(10):
        assert (await api.create_file(f"s{i}", url)).status == 202
    reply = await api.create_file("s10", url)
    assert reply.status == 429
    assert reply.body == {
        "title": "Too Many Requests",
        "description": "File segment operations limit breached. Please retry after some time.",
    }
    assert reply.headers["x-ratelimit-remaining"] == "0"


@pytest.mark.moengage_emulator(max_file_users_per_day=2)
async def test_daily_user_quota(api: Api, emu: Emulator) -> None:
    emu.add_users(["u1", "u2"])
    await api.create_file("a", emu.host_file("a.csv", ["u1", "u2"]))
    await emu.drain()
    assert (await api.create_file("b", emu.host_file("b.csv", []))).status == 429


@pytest.mark.moengage_emulator(max_active_segments=1)
async def test_active_cap_on_file_create(api: Api, emu: Emulator) -> None:
    assert (await api.create_file("a", emu.host_file("a.csv", []))).status == 202
    reply = await api.create_file("b", emu.host_file("a.csv", []))
    assert reply.status == 429
    assert reply.body["description"] == "Total active segments limit breached. Request rejected!"


@pytest.mark.moengage_emulator(max_file_users_per_day=4)
async def test_replace_counts_only_newly_added_users_against_the_quota(
    api: Api, emu: Emulator, callback_sink: CallbackSink
) -> None:
    emu.add_users(["u1", "u2", "u3"])
    await api.create_file("a", emu.host_file("a.csv", ["u1", "u2"]))  # 2 users counted
    await emu.drain()
    body = {
        "name": "a",
        "attribute_name": "ID",
        "attribute_type": "string",
        "file_url": emu.host_file("r.csv", ["u1", "u2", "u3"]),
        "callback_url": callback_sink.url,
    }
    assert (await api.call("PUT", f"{FS}/replace", body)).status == 202
    await emu.drain()
    assert callback_sink.received[-1]["user_count"] == 3  # reported: every matched user
    # Counted: only u3 (newly added), so 3 of 4 are used and the next request is still accepted.
    body["file_url"] = emu.host_file("none.csv", [])
    assert (await api.call("PUT", f"{FS}/add-users", body)).status == 202
    await emu.drain()
    body["file_url"] = emu.host_file("u3.csv", ["u3"])
    assert (await api.call("PUT", f"{FS}/add-users", body)).status == 202  # add counts every match: 4 of 4
    await emu.drain()
    assert (await api.call("PUT", f"{FS}/add-users", body)).status == 429


async def test_non_utf8_file_fails_with_the_documented_pattern(
    api: Api, emu: Emulator, callback_sink: CallbackSink
) -> None:
    emu.add_users(["u1"])
    url = emu.host_file("bad.csv", b"u1\n\xff\xfe\n")
    cs_id = (await api.create_file("bad", url, callback_url=callback_sink.url)).body["cs_id"]
    await emu.drain()
    payload = callback_sink.received[0]
    assert payload["status"] == 400
    assert payload["error_message"] == "File processing failed. Created custom_segment contains 0 users."
    assert emu.segment(cs_id).processing == "failed" and emu.members(cs_id) == frozenset()
    await api.create_file("good", emu.host_file("good.csv", ["u1"]))
    await emu.drain()
    body = {
        "name": "good",
        "attribute_name": "ID",
        "attribute_type": "string",
        "file_url": url,
        "callback_url": callback_sink.url,
    }
    await api.call("PUT", f"{FS}/add-users", body)
    await emu.drain()
    assert callback_sink.received[-1]["error_message"] == "File processing failed. Custom segment contains 1 users."
