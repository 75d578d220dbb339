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
        200, {"message": "Successfully archived the custom segment", "success": True, "cs_name": "f"})
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


@pytest.mark.emu(max_active_segments=1)
async def test_archive_frees_a_slot_and_unarchive_respects_the_cap(api: Api) -> None:
    await api.create_filter("a", attr_group("a"))
    assert (await api.create_filter("b", attr_group("b"))).status == 429
    await api.call("PATCH", ARCHIVE, {"name": "a"})
    assert (await api.create_filter("b", attr_group("b"))).status == 201
    assert (await api.call("PATCH", UNARCHIVE, {"name": "a"})).status == 429
