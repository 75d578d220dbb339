"""Fault injection: scripted and random, per family, before and after handling."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from moengage_segments.testing import Emulator, Fault
from tests.emulator.conftest import Api


async def test_scripted_faults_in_order_then_normal(api: Api, emu: Emulator) -> None:
    emu.faults.script(Fault.rate_limited(), Fault.rate_limited(retry_after=2), Fault.server_error(503), target="cohort")
    first = await api.cohort("add_members", "c", [])
    assert first.status == 429 and "Retry-After" not in first.headers
    assert first.body["error"]["type"] == "Rate Limits Exceeded"
    second = await api.cohort("add_members", "c", [])
    assert second.status == 429 and second.headers["Retry-After"] == "2"
    third = await api.cohort("add_members", "c", [])
    assert third.status == 503 and third.body["status"] == "fail"
    assert (await api.cohort("add_members", "c", [])).status == 200
    assert emu.faults.pending == 0 and emu.counters.faults_injected == 3
    assert [r.fault for r in emu.requests] == ["status:429", "status:429", "status:503", None]


async def test_faults_target_only_their_family(api: Api, emu: Emulator) -> None:
    emu.faults.script(Fault.server_error(500), target="filter")
    assert (await api.cohort("add_members", "c", [])).status == 200
    reply = await api.call("GET", "/v3/custom-segments")
    assert reply.status == 500 and reply.body["error"]["code"] == "Internal Server Error"


async def test_v2_500_and_html_502(api: Api, emu: Emulator) -> None:
    emu.faults.script(Fault.server_error(500), Fault.server_error(502, html=True))
    reply = await api.call("PATCH", "/v2/custom-segments/archive", {"name": "x"})
    assert (reply.status, reply.body) == (500, {"title": "Internal Server Error"})
    reply = await api.call("PATCH", "/v2/custom-segments/archive", {"name": "x"})
    assert reply.status == 502 and reply.body is None and "<html>" in reply.text


async def test_connection_reset_before_and_after(api: Api, emu: Emulator) -> None:
    emu.add_users(["u1"])
    emu.faults.script(Fault.connection_reset())
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.cohort("add_members", "c", ["u1"])
    assert emu.cohort_segment("c") is None  # not applied
    emu.faults.script(Fault.connection_reset(after=True))
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.cohort("add_members", "c", ["u1"])
    segment = emu.cohort_segment("c")
    assert segment is not None and segment.member_count == 1  # applied, but no response
    assert emu.requests[-1].status == 0


async def test_slow_response(api: Api, emu: Emulator) -> None:
    emu.faults.script(Fault.slow(0.15))
    started = time.perf_counter()
    assert (await api.call("GET", "/v3/custom-segments")).status == 200
    assert time.perf_counter() - started >= 0.15  # a lower bound: the delay really was applied
    emu.faults.script(Fault.slow(0.3))
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(api.call("GET", "/v3/custom-segments"), 0.1)


async def test_random_faults_by_probability(api: Api, emu: Emulator) -> None:
    emu.faults.set_random(Fault.server_error(500), 1.0, target="cohort_sync")
    assert (await api.cohort("add_members", "c", [])).status == 500
    emu.faults.clear()
    emu.faults.set_random(Fault.server_error(500), 0.0)
    assert (await api.cohort("add_members", "c", [])).status == 200
    with pytest.raises(ValueError):
        emu.faults.set_random(Fault.server_error(500), 1.5)
    with pytest.raises(ValueError):
        Fault.server_error(404)


async def test_account_suspended_in_every_family(api: Api, emu: Emulator) -> None:
    emu.faults.script(
        Fault.account_suspended(),
        Fault.account_suspended("temporarily_suspended"),
        Fault.account_suspended("blocked"),
        target="cohort",
    )
    reply = await api.cohort("add_members", "c", [])
    assert reply.status == 403
    error = reply.body["error"]
    assert reply.body["status"] == "fail" and set(error) == {"message", "type", "request_id"}
    assert (error["type"], error["message"]) == (
        "Account Suspended",
        "Your account is suspended. Please contact MoEngage team.",
    )
    error = (await api.cohort("add_members", "c", [])).body["error"]
    assert (error["type"], error["message"]) == (
        "Account Temporarily Suspended",
        "Your account is temporarily suspended. Please contact MoEngage team.",
    )
    error = (await api.cohort("add_members", "c", [])).body["error"]
    assert (error["type"], error["message"]) == (
        "BlockedClient",
        "Your account is suspended. Please contact MoEngage team.",
    )
    assert emu.cohort_segment("c") is None  # applied before handling: no effect
    emu.faults.script(Fault.account_suspended(), target="filter")
    reply = await api.call("GET", "/v3/custom-segments")
    assert reply.status == 403 and reply.body["error"]["code"] == "Account Suspended"
    emu.faults.script(Fault.account_suspended(), target="manage")
    reply = await api.call("PATCH", "/v2/custom-segments/archive", {"name": "x"})
    assert (reply.status, reply.body) == (
        403,
        {"title": "Account Suspended", "description": "Your account is suspended. Please contact MoEngage team."},
    )
    with pytest.raises(ValueError):
        Fault.account_suspended("gone")  # type: ignore[arg-type]
