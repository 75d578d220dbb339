"""pytest plugin of moengage-segments (registered through the ``pytest11`` entry point).

Fixtures:

* ``moengage_emulator`` — a running :class:`~moengage_segments.testing.Emulator` (on a background thread,
  so it serves both sync and async tests); options come from the ``moengage_emulator`` marker;
* ``moengage_client`` — an :class:`~moengage_segments.AsyncClient` pointed at it (needs pytest-asyncio).

Async tests need ``@pytest.mark.asyncio``, or ``asyncio_mode = "auto"`` in the pytest configuration.

Example::

    @pytest.mark.asyncio
    @pytest.mark.moengage_emulator(accept_any_uid=True)
    async def test_push(moengage_emulator, moengage_client):
        await moengage_client.cohorts.add_members(Cohort(id="c1", name="C1", partner="me"), ["u1"])
        assert moengage_emulator.cohort_segment("c1").member_count == 1
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from moengage_segments.testing._emulator import Emulator

__all__ = ["moengage_client", "moengage_emulator", "pytest_configure"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``moengage_emulator`` marker.

    Example::

        @pytest.mark.moengage_emulator(time_scale=60, max_active_segments=5)
    """
    config.addinivalue_line(
        "markers",
        "moengage_emulator(**options): keyword arguments for the Emulator of the moengage_emulator fixture",
    )


@pytest.fixture
def moengage_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A fresh emulator per test, on a background thread; configure it with the marker.

    Example::

        def test_list(moengage_emulator):
            assert moengage_emulator.segments() == []
    """
    marker = request.node.get_closest_marker("moengage_emulator")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    with Emulator.in_thread(**options) as emu:
        yield emu


def _client_fixture() -> Any:
    # pytest-asyncio is optional for users of the plugin: without it the fixture skips the test.
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - exercised only without pytest-asyncio

        @pytest.fixture(name="moengage_client")
        def skip_client(moengage_emulator: Emulator) -> Any:
            pytest.skip("the moengage_client fixture needs pytest-asyncio")

        return skip_client

    @pytest_asyncio.fixture(name="moengage_client")
    async def client(moengage_emulator: Emulator) -> AsyncIterator[Any]:
        from moengage_segments import AsyncClient

        async_client = AsyncClient(
            workspace_id=moengage_emulator.workspace_id,
            api_key=moengage_emulator.api_key,
            base_url=moengage_emulator.base_url,
            db_name=moengage_emulator.db_name,
        )
        try:
            yield async_client
        finally:
            await async_client.aclose()

    return client


#: An ``AsyncClient`` with the emulator's base URL and credentials, closed after the test.
#:
#: Example::
#:
#:     @pytest.mark.asyncio
#:     async def test_list(moengage_client):
#:         assert await moengage_client.segments.list() == []
moengage_client = _client_fixture()
