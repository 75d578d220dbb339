"""The emulator against hostile peers: bodies it must not buffer, and files and redirects it must not follow.

The emulator runs on developers' machines and in CI; a request or a ``file_url`` must not make it read
without bound or reach beyond the machine.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from moengage_segments.testing import Emulator
from moengage_segments.testing._file_jobs import MAX_REDIRECTS
from tests.emulator.conftest import Api, CallbackSink

ARCHIVE = "/v2/custom-segments/archive"
CREATE = "/v3/custom-segments"
COHORT = "/v1/integrations/cohortsync"
BIG = b"x" * (4 * 1024 * 1024)  # far over every cap


def last_record_body_size(emu: Emulator) -> int:
    return emu.requests[-1].body_size


# --- bodies (item 11) -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [ARCHIVE, CREATE, COHORT])
async def test_an_unauthenticated_body_is_never_read(api: Api, emu: Emulator, path: str) -> None:
    method = "PATCH" if path == ARCHIVE else "POST"
    reply = await api.call(method, path, data=BIG, headers={"Authorization": api.auth(password="wrong")})
    assert reply.status == 401
    assert last_record_body_size(emu) == 0 and emu.counters.bytes_received == 0


async def test_a_body_for_an_unknown_route_is_never_read(api: Api, emu: Emulator) -> None:
    reply = await api.call("POST", "/v2/no-such-endpoint", data=BIG)
    assert reply.status in (404, 405)
    assert emu.counters.bytes_received == 0


@pytest.mark.parametrize(("method", "path", "envelope"), [("PATCH", ARCHIVE, "v2"), ("POST", CREATE, "v3")])
async def test_an_oversized_body_is_413_in_the_family_envelope_read_only_to_the_cap(
    api: Api, emu: Emulator, method: str, path: str, envelope: str
) -> None:
    cap = emu.config.max_request_body_bytes
    reply = await api.call(method, path, data=BIG)
    assert reply.status == 413
    if envelope == "v2":
        assert reply.body["title"] == "Payload Too Large"
    else:
        assert reply.body["error"]["code"] == "Payload Too Large"
    assert last_record_body_size(emu) == cap + 1  # enough to know, never the whole upload


async def test_an_oversized_cohort_body_is_the_documented_413_read_only_to_the_cap(api: Api, emu: Emulator) -> None:
    reply = await api.call("POST", COHORT, data=BIG)
    assert reply.status == 413 and reply.body["error"]["message"] == "Payload can not exceed 128KB"
    assert last_record_body_size(emu) == emu.config.max_cohort_body_bytes + 1


# --- redirects (item 8) ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serve(routes: list[web.RouteDef]) -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback server with ``routes``; yields its base URL and the paths it was asked for."""
    hits: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        hits.append(request.path)
        return await handler(request)  # type: ignore[no-any-return]

    app = web.Application(middlewares=[record])
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", hits
    finally:
        await runner.cleanup()


def redirect_to(location: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPFound(location)

    return handler


async def csv(request: web.Request) -> web.Response:
    return web.Response(text="u1\nu2\n")


async def callback(request: web.Request) -> web.Response:
    return web.Response(text="ok")


# 0.0.0.0 is not a loopback address (config.is_loopback says no), yet on Linux a connection to it reaches
# this machine: a redirect there is caught by the target server's log if the emulator follows it.
OFF_LOOPBACK = "0.0.0.0"


async def test_a_download_redirected_off_loopback_is_refused_at_that_hop(api: Api, emu: Emulator) -> None:
    emu.add_users(["u1", "u2"])
    async with serve([web.get("/u.csv", csv)]) as (target, target_hits):
        port = target.rsplit(":", 1)[1]
        async with serve([web.get("/r.csv", redirect_to(f"http://{OFF_LOOPBACK}:{port}/u.csv"))]) as (hop, _):
            cs_id = (await api.create_file("redirected", f"{hop}/r.csv")).body["cs_id"]
            await emu.drain()
    assert target_hits == []  # never reached
    assert emu.segment(cs_id).processing == "failed" and emu.members(cs_id) == frozenset()


async def test_a_download_redirected_on_loopback_is_followed(api: Api, emu: Emulator) -> None:
    emu.add_users(["u1", "u2"])
    async with serve([web.get("/u.csv", csv)]) as (target, target_hits):  # noqa: SIM117 - hop needs target's URL
        async with serve([web.get("/r.csv", redirect_to(f"{target}/u.csv"))]) as (hop, _):
            cs_id = (await api.create_file("followed", f"{hop}/r.csv")).body["cs_id"]
            await emu.drain()
    assert target_hits == ["/u.csv"] and emu.members(cs_id) == {"u1", "u2"}


async def test_a_redirect_loop_fails_the_download(api: Api, emu: Emulator) -> None:
    async with serve([web.get("/loop", redirect_to("/loop"))]) as (hop, hits):
        cs_id = (await api.create_file("loop", f"{hop}/loop")).body["cs_id"]
        await emu.drain()
    assert emu.segment(cs_id).processing == "failed"
    assert len(hits) == MAX_REDIRECTS + 1


async def test_a_callback_is_never_redirected(api: Api, emu: Emulator) -> None:
    async with serve([web.post("/cb", callback)]) as (target, target_hits):
        port = target.rsplit(":", 1)[1]
        async with serve([web.post("/cb", redirect_to(f"http://{OFF_LOOPBACK}:{port}/cb"))]) as (hop, hop_hits):
            await api.create_file("cb", emu.host_file("cb.csv", ["u1"]), callback_url=f"{hop}/cb")
            await emu.drain()
    assert hop_hits == ["/cb"] and target_hits == []
    assert [record.response_status for record in emu.callbacks] == [302]


# --- file:// (item 10) ----------------------------------------------------------------------------------


async def processed(api: Api, emu: Emulator, name: str, file_url: str) -> str:
    cs_id: str = (await api.create_file(name, file_url)).body["cs_id"]
    await emu.drain(timeout=10)
    return cs_id


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
async def test_a_device_is_refused_not_read(api: Api, emu: Emulator) -> None:
    cs_id = await processed(api, emu, "zero", "file:///dev/zero")
    assert emu.segment(cs_id).processing == "failed"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
async def test_a_fifo_is_refused_without_waiting_for_a_writer(api: Api, emu: Emulator, tmp_path: Path) -> None:
    fifo = tmp_path / "uids.fifo"
    os.mkfifo(fifo)
    cs_id = await processed(api, emu, "fifo", fifo.as_uri())
    assert emu.segment(cs_id).processing == "failed"


async def test_a_directory_is_refused(api: Api, emu: Emulator, tmp_path: Path) -> None:
    cs_id = await processed(api, emu, "dir", tmp_path.as_uri())
    assert emu.segment(cs_id).processing == "failed"


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
@pytest.mark.moengage_emulator(max_file_bytes=10)
async def test_the_cap_counts_bytes_read_not_the_size_stat_reports(
    api: Api, emu: Emulator, callback_sink: CallbackSink
) -> None:
    # /proc files are regular files whose stat size is 0 whatever they hold.
    assert os.stat("/proc/self/status").st_size == 0
    cs_id = (await api.create_file("proc", "file:///proc/self/status", callback_url=callback_sink.url)).body["cs_id"]
    await emu.drain(timeout=10)
    assert emu.segment(cs_id).processing == "failed"
    assert callback_sink.received[0]["error_message"].startswith("File size cannot be greater than 150MB.")


async def test_a_regular_file_within_the_cap_is_read(api: Api, emu: Emulator, tmp_path: Path) -> None:
    emu.add_users(["u1"])
    path = tmp_path / "u.csv"
    path.write_text("u1\n", encoding="utf-8")
    cs_id = await processed(api, emu, "regular", path.as_uri())
    assert emu.members(cs_id) == {"u1"}


# --- deep JSON (items 12, 18 on the emulator's side) ----------------------------------------------------


def _deep_filters_json(levels: int) -> bytes:
    """A create body whose filter groups nest ``levels`` deep (built as text: json.dumps would recurse)."""
    leaf = '{"filter_type":"user_attributes","name":"a","data_type":"string","operator":"in","value":["x"]}'
    inner = f'"filter_operator":"and","filters":[{leaf}]'
    for _ in range(levels):
        inner = f'"filter_operator":"and","filters":[{{"filter_type":"nested_filters",{inner}}}]'
    return f'{{"name":"deep","included_filters":{{{inner}}}}}'.encode()


@pytest.mark.parametrize(("method", "path"), [("POST", CREATE), ("PATCH", ARCHIVE), ("POST", COHORT)])
async def test_json_nested_too_deep_to_parse_is_400_not_500(api: Api, method: str, path: str) -> None:
    reply = await api.call(method, path, data=b"[" * 60_000 + b"]" * 60_000)  # under every body cap
    assert reply.status == 400


@pytest.mark.parametrize("levels", [20, 200, 450])
async def test_filters_nested_hundreds_deep_get_the_nesting_413_not_500(api: Api, levels: int) -> None:
    reply = await api.call("POST", CREATE, data=_deep_filters_json(levels))
    assert reply.status == 413 and reply.body["error"]["code"] == "Query has too many nesting levels"


async def test_a_definition_too_deep_for_the_json_parser_is_400_not_500(api: Api) -> None:
    reply = await api.call("POST", CREATE, data=_deep_filters_json(5_000))
    assert reply.status == 400
