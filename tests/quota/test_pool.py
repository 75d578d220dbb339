"""``SessionPool``: many clients (one workspace each) on one concurrency-limited set of connections."""

from __future__ import annotations

import asyncio
import threading

import attrs
import pytest

from moengage_segments import (
    AsyncClient,
    ClientStateError,
    ConfigurationError,
    HTTPResponse,
    RateLimits,
    SessionPool,
    Window,
)
from moengage_segments.testing import Emulator, MockTransport
from tests.quota._support import COHORT, MARGIN, ONE_UID_BODY, SCALE, uids_for

WORKSPACES = 20
WINDOW = 10  # cohort requests a (scaled) minute, per workspace
EACH = 12  # requests per workspace: the last two wait for the workspace's own window
CONNECTIONS = 5


@pytest.mark.slow
async def test_twenty_workspaces_share_five_connections_and_keep_their_own_quotas() -> None:
    limits = attrs.evolve(RateLimits(cohort=(Window(WINDOW, 60),)).scaled(1 / SCALE), margin=MARGIN)
    async with Emulator(time_scale=SCALE, accept_any_uid=True, rate_limits={"cohort": [(WINDOW, 60)]}) as emu:
        for n in range(WORKSPACES):
            emu.add_workspace(f"WS{n}", f"key-{n}")
        async with SessionPool(max_connections=CONNECTIONS) as pool:
            clients = [
                AsyncClient(f"WS{n}", f"key-{n}", base_url=emu.base_url, rate_limits=limits, pool=pool)
                for n in range(WORKSPACES)
            ]
            reports = await asyncio.gather(
                *(
                    c.cohorts.add_members(COHORT, uids_for(f"w{n}", EACH), max_request_bytes=ONE_UID_BODY)
                    for n, c in enumerate(clients)
                )
            )
            for client in clients:
                await client.aclose()
            assert not pool.closed  # the clients leave the pool they were given open
        assert [r.accepted for r in reports] == [EACH] * WORKSPACES
        assert emu.counters.rate_limited == 0
        assert 2 <= emu.counters.peak_connections <= CONNECTIONS
        assert len({r.peer for r in emu.requests}) <= CONNECTIONS  # every request rode one of the pool's
        # Each workspace had its own window: in the first (scaled) minute every one of them sent a full
        # window, which one shared quota (10 in all) could never allow.
        first = min(r.time for r in emu.requests)
        early = [r.workspace_id for r in emu.requests if r.time < first + 60 / SCALE]
        assert all(early.count(f"WS{n}") == WINDOW for n in range(WORKSPACES))


def mock() -> MockTransport:
    return MockTransport(lambda request: HTTPResponse(200, json={"data": []}))


async def here_again(emu: Emulator, pool: SessionPool) -> list[object]:
    async with AsyncClient(emu.workspace_id, emu.api_key, base_url=emu.base_url, rate_limits=None, pool=pool) as c:
        return list(await c.segments.list())


async def test_a_pool_is_given_alone_and_never_closed_by_a_client() -> None:
    with pytest.raises(ConfigurationError, match="pool must be a SessionPool"):
        AsyncClient("WS", "k", data_center="01", pool=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="give pool or transport, not both"):
        AsyncClient("WS", "k", data_center="01", pool=SessionPool(), transport=mock())
    with pytest.raises(ConfigurationError, match="max_connections must be a whole number of at least 1"):
        SessionPool(max_connections=0)


async def test_a_pool_belongs_to_the_loop_that_first_used_it() -> None:
    async with Emulator() as emu:
        pool = SessionPool(max_connections=2)
        here = AsyncClient(emu.workspace_id, emu.api_key, base_url=emu.base_url, rate_limits=None, pool=pool)
        assert await here.segments.list() == []
        errors: list[BaseException] = []

        def other_loop() -> None:
            async def use() -> None:
                there = AsyncClient(emu.workspace_id, emu.api_key, base_url=emu.base_url, rate_limits=None, pool=pool)
                await there.segments.list()

            try:
                asyncio.run(use())
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_loop)
        thread.start()
        await asyncio.to_thread(thread.join)
        assert len(errors) == 1 and isinstance(errors[0], ClientStateError)
        assert "belongs to another event loop" in str(errors[0])
        await here.aclose()
        assert await here_again(emu, pool) == []  # the client did not close the pool...
        await pool.aclose()  # ...its owner does
        again = AsyncClient(emu.workspace_id, emu.api_key, base_url=emu.base_url, rate_limits=None, pool=pool)
        with pytest.raises(ClientStateError, match="SessionPool is closed"):
            await again.segments.list()
