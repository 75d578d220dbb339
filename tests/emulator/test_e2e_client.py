"""End to end through the SDK's AsyncClient and the pytest plugin's fixtures."""

from __future__ import annotations

from typing import Any

import pytest

from moengage_segments import AsyncClient, Cohort, ConflictError, NotFoundError, PermissionDeniedError, ServerError
from moengage_segments.testing import Emulator, Fault
from tests.emulator.conftest import CallbackSink, attr_group


async def test_file_segment_lifecycle(
    moengage_emulator: Emulator, moengage_client: AsyncClient, callback_sink: CallbackSink
) -> None:
    emu, client = moengage_emulator, moengage_client
    emu.add_users(["u1", "u2", "u3", "u4"])
    ack = await client.file_segments.create(
        "vip", file_url=emu.host_file("vip.csv", ["u1", "u2"]), expiry_days=30, callback_url=callback_sink.url
    )
    assert ack.name == "vip" and ack.segment_id is not None
    cs_id = ack.segment_id
    await emu.drain()
    assert callback_sink.received[0]["status"] == 201 and callback_sink.received[0]["user_count"] == 2
    assert emu.members(cs_id) == {"u1", "u2"}
    await client.file_segments.add_users("vip", file_url=emu.host_file("add.csv", ["u3"]))
    await emu.drain()
    assert emu.members(cs_id) == {"u1", "u2", "u3"}
    await client.file_segments.remove_users("vip", file_url=emu.host_file("rm.csv", ["u1"]))
    await emu.drain()
    assert emu.members(cs_id) == {"u2", "u3"}
    await client.file_segments.replace_users("vip", file_url=emu.host_file("rep.csv", ["u4"]))
    await emu.drain()
    assert emu.members(cs_id) == {"u4"}


async def test_archive_unarchive_list_find_get(moengage_emulator: Emulator, moengage_client: AsyncClient) -> None:
    emu, client = moengage_emulator, moengage_client
    created = await client.filter_segments.create("f1", included=attr_group("a"))
    await client.segments.archive("f1")
    assert emu.segment(created.id).status == "archived"
    await client.segments.unarchive(segment_id=created.id)
    assert emu.segment(created.id).status == "active"
    summaries = await client.segments.list()
    assert [s.id for s in summaries] == [created.id]
    found = await client.segments.find("f1")
    assert found is not None and found.id == created.id
    assert await client.segments.find("nope") is None
    got = await client.segments.get(created.id)
    assert got.name == "f1" and got.type == "ELASTIC_SEARCH" and got.description
    with pytest.raises(NotFoundError):
        await client.segments.get("0" * 24)


async def test_filter_create_duplicate_update(moengage_emulator: Emulator, moengage_client: AsyncClient) -> None:
    client = moengage_client
    first = await client.filter_segments.create("a", included=attr_group("x"))
    with pytest.raises(ConflictError) as info:
        await client.filter_segments.create("b", included=attr_group("x"))
    assert info.value.existing_segment_id == first.id
    updated = await client.filter_segments.update(first.id, included=attr_group("y"), name="a2")
    assert updated.name == "a2" and moengage_emulator.segment(first.id).name == "a2"
    cs_id = (
        await client.file_segments.create("file", file_url=moengage_emulator.host_file("x.csv", []), expiry_days=1)
    ).segment_id
    assert cs_id is not None
    with pytest.raises(PermissionDeniedError):
        await client.filter_segments.update(cs_id, included=attr_group("z"))


async def test_cohort_add_then_remove(moengage_emulator: Emulator, moengage_client: AsyncClient) -> None:
    emu = moengage_emulator
    uids = emu.generate_users(2000)
    cohort = Cohort(id="churn", name="Churn risk", partner="warehouse")
    report = await moengage_client.cohorts.add_members(cohort, [*uids, "ghost"])
    assert report.accepted == 2001 and report.failed == 0
    segment = emu.cohort_segment("churn")
    assert segment is not None and segment.member_count == 2000  # ghost is not a user
    await moengage_client.cohorts.remove_members(cohort, uids[:500])
    assert emu.members(segment.id) == set(uids[500:])


@pytest.mark.moengage_emulator(accept_any_uid=True, rate_limits=False, max_cohort_body_bytes=16 * 1024)
async def test_cohort_push_survives_faults_and_a_smaller_cap(
    moengage_emulator: Emulator, moengage_client: AsyncClient
) -> None:
    emu = moengage_emulator
    emu.faults.script(
        Fault.server_error(503), Fault.rate_limited(retry_after=0.01), Fault.connection_reset(), target="cohort"
    )
    uids = [f"x{i:07d}" for i in range(20_000)]
    report = await moengage_client.cohorts.add_members(Cohort(id="c", name="C", partner="p"), uids)
    assert report.accepted == 20_000, report
    segment = emu.cohort_segment("c")
    assert segment is not None and segment.member_count == 20_000
    assert emu.faults.pending == 0


async def test_account_suspension_reaches_the_client(moengage_emulator: Emulator, moengage_client: AsyncClient) -> None:
    emu, client = moengage_emulator, moengage_client
    emu.faults.script(Fault.account_suspended(), target="cohort")
    with pytest.raises(PermissionDeniedError) as caught:
        await client.cohorts.send_batch(Cohort(id="c", name="C", partner="p"), "add_members", ["u1"])
    assert caught.value.account_suspended is True
    assert caught.value.code == "Account Suspended"
    emu.faults.script(Fault.account_suspended("temporarily_suspended"), target="filter")
    with pytest.raises(PermissionDeniedError) as caught:
        await client.segments.list()
    assert caught.value.account_suspended is True
    assert emu.faults.pending == 0


def test_emulator_fixture_works_in_sync_tests(moengage_emulator: Emulator) -> None:
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{moengage_emulator.base_url}/v3/custom-segments",
        headers={
            "MOE-APPKEY": moengage_emulator.workspace_id,
            "Authorization": "Basic "
            + __import__("base64")
            .b64encode(f"{moengage_emulator.workspace_id}:{moengage_emulator.api_key}".encode())
            .decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        body: dict[str, Any] = json.loads(response.read())
    assert body["data"] == [] and body["type"] == "custom_segment"


async def test_ambiguous_creates_never_adopt_a_namesake_of_another_kind(
    moengage_emulator: Emulator, moengage_client: AsyncClient
) -> None:
    """Issue 12 item 3: a 5xx on a filter create once returned a same-named cohort segment as "created"."""
    emu, client = moengage_emulator, moengage_client
    emu.add_users(["u1"])
    await client.cohorts.add_members(Cohort(id="c1", name="vip", partner="p"), ["u1"])  # segment "vip", a moment ago
    emu.faults.script(Fault.server_error(500), target="create_filter_segment")  # refused before handling
    with pytest.raises(ServerError):
        await client.filter_segments.create("vip", included=attr_group("x"))
    seg = await client.filter_segments.create("other", included=attr_group("y"))
    emu.faults.script(Fault.server_error(503), target="create_file_segment")
    with pytest.raises(ServerError):
        await client.file_segments.create("other", file_url=emu.host_file("x.csv", []), expiry_days=1)
    # Applied, then answered 500, while a same-named filter segment with another definition exists.
    emu.faults.script(Fault.server_error(500, after=True), target="create_filter_segment")
    with pytest.raises(ServerError):
        await client.filter_segments.create("other", included=attr_group("z"))
    assert [s.id for s in await client.segments.list("other")] == [seg.id]
