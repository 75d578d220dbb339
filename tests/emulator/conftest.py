"""Fixtures of the emulator tests: the plugin's emulator under a short name and a raw HTTP helper.

Every JSON response seen by :class:`Api` is validated against the vendor's schema when the OpenAPI folder
is present, so all raw tests double as fidelity checks.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web

from moengage_segments.testing import Emulator
from tests._services import openapi_dir
from tests.emulator._schema import validate_response


@attrs.frozen
class Reply:
    status: int
    body: Any
    headers: Any
    text: str


class Api:
    """Raw HTTP against the emulator with the right headers per family (overridable)."""

    def __init__(self, emu: Emulator, session: aiohttp.ClientSession) -> None:
        self.emu = emu
        self.session = session

    def auth(self, user: str | None = None, password: str | None = None) -> str:
        token = f"{user or self.emu.workspace_id}:{password or self.emu.api_key}"
        return "Basic " + base64.b64encode(token.encode()).decode()

    def default_headers(self, path: str) -> dict[str, str]:
        headers = {"Authorization": self.auth()}
        if path.startswith("/v2"):
            headers["MOE-DBNAME"] = self.emu.db_name
        else:
            headers["MOE-APPKEY"] = self.emu.workspace_id
        return headers

    async def call(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        data: bytes | None = None,
        headers: dict[str, str | None] | None = None,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Reply:
        merged: dict[str, str | None] = {**self.default_headers(path), **(headers or {})}
        final = {k: v for k, v in merged.items() if v is not None}
        if json_body is not None:
            data = json.dumps(json_body).encode()
        if data is not None:
            final.setdefault("Content-Type", content_type)
        async with self.session.request(
            method, self.emu.base_url + path, data=data, headers=final, params=params
        ) as resp:
            text = await resp.text()
            body: Any = None
            if resp.content_type == "application/json":
                body = json.loads(text)
                if openapi_dir() is not None:
                    validate_response(method, path.split("?")[0], resp.status, body)
            return Reply(resp.status, body, resp.headers, text)

    # Shortcuts for the common calls.
    async def cohort(self, action: str, cohort_id: str, uids: list[str], name: str = "Cohort") -> Reply:
        body = {
            "action": action,
            "partner": "tests",
            "parameters": {"cohort_id": cohort_id, "cohort_name": name, "members": [{"uid": u} for u in uids]},
        }
        return await self.call("POST", "/v1/integrations/cohortsync", body)

    async def create_filter(self, name: str, included: Any, excluded: Any = None) -> Reply:
        body: dict[str, Any] = {"name": name, "included_filters": included}
        if excluded is not None:
            body["excluded_filters"] = excluded
        return await self.call("POST", "/v3/custom-segments", body)

    async def create_file(self, name: str, file_url: str, **extra: Any) -> Reply:
        body = {
            "name": name,
            "attribute_name": "ID",
            "attribute_type": "string",
            "file_url": file_url,
            "expiry_time": 30,
            **extra,
        }
        return await self.call("POST", "/v2/custom-segments/file-segment", body)


def attr_group(*names: str, operator: str = "and") -> dict[str, Any]:
    """A filter group with one string filter per name (distinct definitions for distinct names)."""
    return {
        "filter_operator": operator,
        "filters": [
            {"filter_type": "user_attributes", "name": n, "data_type": "string", "operator": "in", "value": ["x"]}
            for n in names
        ],
    }


def ref_group(*ids: str) -> dict[str, Any]:
    return {"filter_operator": "and", "filters": [{"filter_type": "custom_segments", "id": i} for i in ids]}


@pytest.fixture
def emu(moengage_emulator: Emulator) -> Emulator:
    """The shipped plugin's emulator (on its own thread); options come from ``@pytest.mark.moengage_emulator``."""
    return moengage_emulator


@pytest.fixture
async def api(emu: Emulator) -> AsyncIterator[Api]:
    # A fresh connection per request: a reset connection must not be retried silently by the pool.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield Api(emu, session)


@attrs.define
class CallbackSink:
    url: str
    received: list[dict[str, Any]]


@pytest.fixture
async def callback_sink() -> AsyncIterator[CallbackSink]:
    """A loopback HTTP server recording the JSON bodies POSTed to it."""
    received: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/cb", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield CallbackSink(f"http://127.0.0.1:{port}/cb", received)
    finally:
        await runner.cleanup()
