"""The emulator counts per workspace across connections, and its request log tells the clients apart."""

from __future__ import annotations

import collections

import pytest

from moengage_segments import AsyncClient, InProcessQuotaStore, RateLimitError, RetryPolicy
from moengage_segments.testing import Emulator


def client_of(emu: Emulator, workspace: str | None = None, key: str | None = None) -> AsyncClient:
    return AsyncClient(
        workspace or emu.workspace_id,
        key or emu.api_key,
        base_url=emu.base_url,
        db_name=emu.db_name,
        rate_limits=None,  # no client-side pacing: the emulator's window is what is tested
        retry=RetryPolicy.none(),
        quota=InProcessQuotaStore(),
    )


async def test_one_window_per_workspace_whatever_the_connection() -> None:
    async with Emulator(rate_limits={"list": [(3, 60)]}) as emu:
        emu.add_workspace("OTHER", "other-key")
        one, two, other = client_of(emu), client_of(emu), client_of(emu, "OTHER", "other-key")
        async with one, two, other:
            await one.segments.list()
            await two.segments.list()
            await one.segments.list()
            for client in (two, one):  # the window is the workspace's, not the connection's
                with pytest.raises(RateLimitError):
                    await client.segments.list()
            await other.segments.list()  # another workspace has its own window
        peers = {r.peer for r in emu.requests if r.workspace_id == emu.workspace_id}
        assert len(peers) >= 2 and all(p and p.startswith("127.0.0.1:") for p in peers)


async def test_the_request_log_names_the_client_that_sent_each_request() -> None:
    async with Emulator() as emu:
        clients = [client_of(emu) for _ in range(3)]
        for i, client in enumerate(clients):
            async with client:
                for _ in range(i + 1):
                    await client.segments.list()
        seen = collections.Counter(r.client for r in emu.requests)
        ids = [c._transport.client_id for c in clients]
        assert len(set(ids)) == 3
        for i, client_id in enumerate(ids):
            (agent,) = [a for a in seen if a and a.endswith(f"client/{client_id}")]
            assert agent.startswith("moengage-segments/") and seen[agent] == i + 1
        assert emu.counters.peak_connections >= 1
