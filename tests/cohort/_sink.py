"""A tiny cohort-sync endpoint for the engine's tests: records members, injects faults on demand."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

PATH = "/v1/integrations/cohortsync"

#: A fault hook: given the request number (1-based) and the decoded body, return None to accept, or
#: (status, extra headers) to answer with that error instead.
Fault = Callable[[int, dict[str, Any]], "tuple[int, dict[str, str]] | None"]


class Sink:
    """Cohort endpoint on 127.0.0.1; ``members`` is the resulting membership per cohort id."""

    def __init__(
        self, *, max_bytes: int = 128_000, fault: Fault | None = None, delay: float = 0.0, record: bool = True
    ) -> None:
        self.record = record
        self.max_bytes = max_bytes
        self.fault = fault
        self.delay = delay
        self.members: dict[str, set[str]] = {}
        self.requests = 0
        self.received = 0
        self.accepted_bodies: list[list[str]] = []
        self.sizes: list[int] = []
        self.statuses: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Sink:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post(PATH, self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def _error(self, status: int, kind: str, headers: dict[str, str] | None = None) -> web.Response:
        self.statuses.append(status)
        body = {"status": "fail", "error": {"message": kind, "type": kind, "request_id": f"r{self.requests}"}}
        return web.json_response(body, status=status, headers=headers)

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        number = self.requests
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            raw = await request.read()
            self.sizes.append(len(raw))
            if self.delay:
                await asyncio.sleep(self.delay)
            if len(raw) > self.max_bytes:
                return self._error(413, "Payload too large")
            data = json.loads(raw)
            if self.fault is not None:
                injected = self.fault(number, data)
                if injected is not None:
                    return self._error(injected[0], f"injected {injected[0]}", injected[1])
            uids = [m["uid"] for m in data["parameters"]["members"]]
            self.received += len(uids)
            if not self.record:
                self.statuses.append(200)
                return web.json_response({"status": "success", "message": "accepted"})
            cohort = self.members.setdefault(data["parameters"]["cohort_id"], set())
            if data["action"] == "add_members":
                cohort.update(uids)
            else:
                cohort.difference_update(uids)
            self.accepted_bodies.append(uids)
            self.statuses.append(200)
            return web.json_response({"status": "success", "message": "accepted", "request_id": f"r{number}"})
        finally:
            self.in_flight -= 1
