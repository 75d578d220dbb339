"""Make aioresponses 0.7.x work on aiohttp >= 3.14 (``ClientResponse`` gained ``stream_writer``).

aioresponses builds its fake responses with ``ClientResponse(method, url, **kwargs)`` and does not pass
the new required ``stream_writer``; we give it a response class that supplies a null writer. Users keep
whatever aiohttp they have: this touches only the test process.
"""

from __future__ import annotations

import inspect
from typing import Any

import aiohttp
import aioresponses.core


class _NullStreamWriter:
    """Just enough of ``AbstractStreamWriter`` for a response whose request was "already sent"."""

    output_size = 0
    buffer_size = 0


class CompatClientResponse(aiohttp.ClientResponse):
    """A ``ClientResponse`` that aioresponses can construct on any aiohttp version."""

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NullStreamWriter())
        super().__init__(method, url, **kwargs)


def install() -> None:
    """Patch aioresponses' default response class when the installed aiohttp needs it."""
    if "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
        aioresponses.core.ClientResponse = CompatClientResponse  # type: ignore[misc]
