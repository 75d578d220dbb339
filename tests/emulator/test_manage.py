"""Archive and unarchive."""

from __future__ import annotations

import pytest

from moengage_segments.testing import Emulator
from tests.emulator.conftest import Api, attr_group

ARCHIVE, UNARCHIVE = "/v2/custom-segments/archive", "/v2/custom-segments/unarchive"


async def test_archive_unarchive_roundtrip(api: Api, emu: Emulator) -> None:
    cs_id = (await api.create_filter("f", attr_group("a"))).body["data"]["id"]
    reply = await api.call("PATCH", ARCHIVE, {"name": "f"})
    assert (reply.status, reply.body) == (
        200,
        {"message": "Successfully archived the custom segment", "success": True, "cs_name": "f"},
    )
    assert emu.segment(cs_id).status == "archived"
    # Archiving again is an idempotent 200 (assumption; undocumented).
    assert (await api.call("PATCH", ARCHIVE, {"name": "f"})).status == 200
    reply = await api.call("PATCH", UNARCHIVE, {"name": "ignored", "cs_id": cs_id})
    assert reply.status == 200 and reply.body["message"] == "Successfully unarchived the custom segment"
    assert emu.segment(cs_id).status == "active"


async def test_cohort_segments_cannot_be_unarchived(api: Api, emu: Emulator) -> None:
    await api.cohort("add_members", "c", [], name="coh")
    assert (await api.call("PATCH", ARCHIVE, {"name": "coh"})).status == 200
    reply = await api.call("PATCH", UNARCHIVE, {"name": "coh"})
    assert reply.status == 400 and reply.body["title"] == "Invalid request"
    assert emu.find_segment("coh").status == "archived"  # type: ignore[union-attr]


async def test_unknown_segment_is_404_and_missing_name_400(api: Api) -> None:
    reply = await api.call("PATCH", ARCHIVE, {"name": "ghost"})
    assert reply.status == 404
    assert reply.body["description"] == "Custom segment not found for the given name or cs_id: ghost"
    reply = await api.call("PATCH", ARCHIVE, {})
    assert reply.status == 400
    assert reply.body["description"] == "name - Field is required but value is None : None"


@pytest.mark.parametrize("path", [ARCHIVE, UNARCHIVE])
@pytest.mark.parametrize("cs_id", [None, 42, ""])
async def test_cs_id_that_is_not_a_string_is_400(api: Api, emu: Emulator, path: str, cs_id: object) -> None:
    # The schema types cs_id as a string; a null is not "no id" (the key is simply left out for that).
    seg = (await api.create_filter("f", attr_group("a"))).body["data"]["id"]
    for body in ({"name": "f", "cs_id": cs_id}, {"name": "f", "segment_id": cs_id}):
        reply = await api.call("PATCH", path, body)
        assert reply.status == 400 and reply.body["description"].startswith(f"{next(iter(body.keys() - {'name'}))} -")
    assert emu.segment(seg).status == "active"


@pytest.mark.moengage_emulator(max_active_segments=1)
async def test_archive_frees_a_slot_and_unarchive_respects_the_cap(api: Api) -> None:
    await api.create_filter("a", attr_group("a"))
    assert (await api.create_filter("b", attr_group("b"))).status == 429
    await api.call("PATCH", ARCHIVE, {"name": "a"})
    assert (await api.create_filter("b", attr_group("b"))).status == 201
    assert (await api.call("PATCH", UNARCHIVE, {"name": "a"})).status == 429


async def test_name_lookup_prefers_the_active_cohort_segment(api: Api, emu: Emulator) -> None:
    # Cohort names may repeat: a push to an archived cohort starts a new segment under the same name.
    await api.cohort("add_members", "churn", [], name="Churn")
    old = emu.cohort_segment("churn")
    assert old is not None
    assert (await api.call("PATCH", ARCHIVE, {"name": "Churn"})).status == 200
    await api.cohort("add_members", "churn", [], name="Churn")
    new = emu.cohort_segment("churn")
    assert new is not None and new.id != old.id and new.status == "active"
    found = emu.find_segment("Churn")
    assert found is not None and found.id == new.id
    listed = await api.call("GET", "/v3/custom-segments", params={"name": "Churn"})
    assert [s["id"] for s in listed.body["data"]] == [new.id, old.id]  # active first
    # Archiving by name archives the current (active) segment, not the already archived one.
    assert (await api.call("PATCH", ARCHIVE, {"name": "Churn"})).status == 200
    assert emu.segment(new.id).status == "archived" and emu.segment(old.id).status == "archived"
    found = emu.find_segment("Churn")
    assert found is not None and found.id == old.id  # all archived: the oldest, as the list orders them


async def test_file_ops_by_name_pick_the_file_segment_over_an_active_cohort(api: Api, emu: Emulator) -> None:
    await api.cohort("add_members", "c", [], name="other")  # the older segment
    file_id = (await api.create_file("dup", emu.host_file("x.csv", []))).body["cs_id"]
    assert (await api.call("PATCH", ARCHIVE, {"name": "dup"})).status == 200
    await api.cohort("add_members", "c", [], name="dup")  # renamed; cohorts are exempt from name uniqueness
    body = {"name": "dup", "attribute_name": "ID", "attribute_type": "string", "file_url": emu.host_file("x.csv", [])}
    reply = await api.call("PUT", "/v2/custom-segments/file-segment/add-users", body)
    assert reply.status == 202 and reply.body["cs_id"] == file_id


async def test_cs_id_alone_is_enough_unless_strict(api: Api, emu: Emulator) -> None:
    file_id = (await api.create_file("byid", emu.host_file("x.csv", []))).body["cs_id"]
    body = {
        "cs_id": file_id,
        "attribute_name": "ID",
        "attribute_type": "string",
        "file_url": emu.host_file("x.csv", []),
    }
    reply = await api.call("PUT", "/v2/custom-segments/file-segment/add-users", body)
    assert reply.status == 202 and reply.body["cs_name"] == "byid"  # the name is resolved from the id
    reply = await api.call("PATCH", ARCHIVE, {"cs_id": file_id})
    assert reply.status == 200 and reply.body["cs_name"] == "byid"


@pytest.mark.moengage_emulator(strict=True)
async def test_strict_mode_requires_name_on_file_ops_and_archive_alike(api: Api, emu: Emulator) -> None:
    file_id = (await api.create_file("byid", emu.host_file("x.csv", []))).body["cs_id"]
    required = {"title": "Invalid request", "description": "name - Field is required but value is None : None"}
    body = {
        "cs_id": file_id,
        "attribute_name": "ID",
        "attribute_type": "string",
        "file_url": emu.host_file("x.csv", []),
    }
    for path in ("add-users", "remove-users", "replace"):
        reply = await api.call("PUT", f"/v2/custom-segments/file-segment/{path}", body)
        assert (reply.status, reply.body) == (400, required), path
    for path in (ARCHIVE, UNARCHIVE):
        reply = await api.call("PATCH", path, {"cs_id": file_id})
        assert (reply.status, reply.body) == (400, required), path
    assert emu.segment(file_id).status == "active"
