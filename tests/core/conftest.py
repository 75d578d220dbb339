"""Fixtures of the core tests: mocked HTTP (aioresponses or MockTransport), a virtual clock, a client factory."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from aioresponses import aioresponses

from moengage_segments import AsyncClient, RetryPolicy
from moengage_segments._async import client as client_module
from moengage_segments._async.transport import Transport
from tests.core._mock import MockRoutes
from tests.core._support import API_KEY, DB_NAME, WORKSPACE, FakeClock

ENV_VARS = (
    "MOENGAGE_WORKSPACE_ID",
    "MOENGAGE_API_KEY",
    "MOENGAGE_DATA_CENTER",
    "MOENGAGE_BASE_URL",
    "MOENGAGE_DB_NAME",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A virtual clock; every client built while it is active uses it (transport, retries, limiter)."""
    fake = FakeClock()
    monkeypatch.setattr(client_module, "Transport", functools.partial(Transport, clock=fake, sleep=fake.sleep))
    return fake


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
def routes() -> MockRoutes:
    """Canned responses served through ``MockTransport``; ``make_client`` uses them when a test asks for both."""
    return MockRoutes()


@pytest.fixture
async def make_client(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Callable[..., AsyncClient]]:
    """Build clients with test credentials (db_name included), no client-side limits and the virtual clock.

    In a test that also takes ``routes``, clients send through its ``MockTransport`` instead of aiohttp.
    """
    made: list[AsyncClient] = []
    transport = request.getfixturevalue("routes").transport if "routes" in request.fixturenames else None

    def factory(**overrides: Any) -> AsyncClient:
        options: dict[str, Any] = {
            "workspace_id": WORKSPACE,
            "api_key": API_KEY,
            "data_center": "01",
            "db_name": DB_NAME,
            "rate_limits": None,
            "retry": RetryPolicy(jitter=False),
        }
        if transport is not None:
            options["transport"] = transport
        options.update(overrides)
        client = AsyncClient(**options)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()
