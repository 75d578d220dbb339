"""What tests can observe: the request log, counters and the callbacks sent.

Example::

    record = emu.requests[-1]
    assert (record.method, record.status) == ("POST", 200)
    assert emu.counters.rate_limited == 0
"""

from __future__ import annotations

import collections
from typing import Any

import attrs

__all__ = ["CallbackRecord", "Counters", "RequestRecord"]


@attrs.frozen
class RequestRecord:
    """One handled request. ``status`` is 0 when the connection was reset without a response.

    Example::

        [r.path for r in emu.requests if r.status == 429]
        collections.Counter(r.client for r in emu.requests)  # requests per client
    """

    method: str
    path: str
    endpoint: str | None
    status: int
    body_size: int
    time: float
    duration: float
    workspace_id: str | None = None
    fault: str | None = None
    detail: str | None = None
    #: The ``User-Agent`` header: the SDK's names the client (``moengage-segments/0.1.0 ... client/3f2a9c1e``),
    #: so a test can tell which client, thread or process used the quota.
    client: str | None = None
    #: The client end of the connection (``"127.0.0.1:53314"``): requests on one connection share it.
    peer: str | None = None


@attrs.define
class Counters:
    """Running totals since start (or the last ``emu.reset_counters()``).

    Example::

        emu.counters.requests_by_endpoint["cohort_sync"]
    """

    requests: int = 0
    bytes_received: int = 0
    #: The most connections open at once, counted as each request arrives.
    peak_connections: int = 0
    rate_limited: int = 0
    faults_injected: int = 0
    requests_by_endpoint: collections.Counter[str] = attrs.field(factory=collections.Counter)
    statuses: collections.Counter[int] = attrs.field(factory=collections.Counter)


@attrs.frozen
class CallbackRecord:
    """A file-segment callback the emulator sent (or tried to send).

    ``response_status`` is None when delivery failed (``error`` says why) or was skipped.

    Example::

        cb = emu.callbacks[-1]
        assert cb.payload["status"] == 201
    """

    url: str
    payload: dict[str, Any]
    response_status: int | None
    error: str | None = None
