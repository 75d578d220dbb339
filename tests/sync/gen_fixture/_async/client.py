"""Fixture async client: every shape the generator has to mirror."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal

from gen_fixture._async.widgets import AsyncWidgets
from gen_fixture.models import Thing

Mode = Literal["fast", "slow"]
DEFAULT_SIZE = 3


class _Unset:
    pass


UNSET: Any = _Unset()


class AsyncGadgets:
    """Gadgets.

    Example::

        gadget = await client.gadgets.get("g1")
    """

    def __init__(self, owner: AsyncClient) -> None:
        self._owner = owner

    async def get(self, gadget_id: str, /, *, mode: Mode = "fast", size: int = DEFAULT_SIZE) -> Thing:
        """Get one gadget.

        Example::

            thing = await client.gadgets.get("g1", mode="slow")
        """
        await asyncio.sleep(0)
        return Thing(id=gadget_id, size=size if mode == "fast" else size * 10)

    async def total(self, items: Iterable[str] | AsyncIterable[str], *extra: str, **weights: int) -> int:
        """Count items from a sync or async iterable, plus extras and weights."""
        count = 0
        if isinstance(items, AsyncIterable):
            async for _ in items:
                count += 1
        else:
            count = sum(1 for _ in items)
        return count + len(extra) + sum(weights.values())

    async def pages(self, size: int = 2) -> AsyncIterator[list[int]]:
        """Pages of numbers."""
        for start in range(0, 6, size):
            yield list(range(start, start + size))

    def stream_later(self, n: int) -> AsyncIterator[int]:
        """A plain def that returns an async iterator."""
        return _count(n)

    async def nothing(self, flag: object = UNSET) -> None:
        """Returns nothing; ``flag`` has a sentinel default."""

    def describe(self, verbose: bool = False) -> str:
        """A plain method, delegated directly."""
        return "gadgets (verbose)" if verbose else "gadgets"

    @property
    def owner_name(self) -> str:
        """The owner's name."""
        return self._owner.name


async def _count(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i


class AsyncClient:
    """The asynchronous fixture client.

    Example::

        async with AsyncClient("x") as client:
            await client.gadgets.get("g1")
    """

    gadgets: AsyncGadgets

    def __init__(self, name: str = "fixture", *, options: Mapping[str, Any] | None = None) -> None:
        self._name = name
        self.gadgets = AsyncGadgets(self)
        self.widgets = AsyncWidgets()
        self._close_count = 0

    @property
    def close_count(self) -> int:
        """How many times ``aclose()`` ran."""
        return self._close_count

    @property
    def name(self) -> str:
        """The client's name."""
        return self._name

    async def __aenter__(self) -> AsyncClient:
        """Enter."""
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Exit: ``await client.aclose()``."""
        await self.aclose()

    async def aclose(self) -> None:
        """Close.

        Example::

            await client.aclose()
        """
        self._close_count += 1
