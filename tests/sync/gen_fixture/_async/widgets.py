"""A namespace defined in another module than the client."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..models import Thing


class AsyncWidgets:
    """Widgets.

    Example::

        async for widget in client.widgets.stream(3):
            print(widget)
    """

    def __init__(self) -> None:
        self._closed: list[str] = []

    @property
    def closed(self) -> list[str]:
        """Names of the streams closed so far."""
        return self._closed

    async def stream(self, n: int) -> AsyncIterator[Thing]:
        """Stream ``n`` widgets; ``aclose()`` of the stream runs the ``finally``.

        Example::

            async for widget in client.widgets.stream(3):
                ...
        """
        try:
            for i in range(n):
                yield Thing(id=f"w{i}", size=i)
        finally:
            self._closed.append("stream")
