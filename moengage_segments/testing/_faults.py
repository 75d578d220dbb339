"""Fault injection: scripted (a queue) or random (by probability), optionally per endpoint family.

A fault is applied before the request is handled (the request has no effect), or with ``after=True``
once it has been handled (the change is made but the client sees a failure — an "ambiguous" outcome).

Example::

    emu.faults.script(Fault.server_error(503), Fault.connection_reset(), target="cohort")
    emu.faults.set_random(Fault.rate_limited(retry_after=1), probability=0.1)
"""

from __future__ import annotations

import random
import threading
from collections import deque
from typing import Literal

import attrs

__all__ = ["Fault", "FaultInjector"]

FaultKind = Literal["status", "reset", "delay"]
Suspension = Literal["suspended", "temporarily_suspended", "blocked"]


@attrs.frozen
class Fault:
    """One injected failure.

    ``kind="status"`` answers ``status`` (429 in the family's envelope, 5xx in the family's envelope, or
    an HTML page when ``html``; a 403 "account suspended" when ``suspension`` is set); ``retry_after``
    adds a ``Retry-After`` header. ``kind="reset"`` closes the connection without a response.
    ``kind="delay"`` waits ``delay`` seconds, then handles the request normally (a slow response, or a
    client timeout if the delay is long).

    Example::

        Fault.rate_limited(retry_after=2)
        Fault.server_error(502, html=True)
        Fault.connection_reset(after=True)   # applied, but the client never hears back
        Fault.slow(5.0)
    """

    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    html: bool = False
    delay: float = 0.0
    after: bool = False
    suspension: Suspension | None = None

    @classmethod
    def rate_limited(cls, retry_after: float | None = None) -> Fault:
        """A 429 in the family's envelope, with a ``Retry-After`` header when given.

        Example::

            emu.faults.script(Fault.rate_limited(), Fault.rate_limited(retry_after=1))
        """
        return cls("status", 429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500, *, html: bool = False, after: bool = False) -> Fault:
        """A 5xx; ``html=True`` sends a non-JSON HTML page, like a load balancer would.

        Example::

            Fault.server_error(503, html=True)
        """
        if not 500 <= status <= 599:
            raise ValueError("server_error needs a 5xx status")
        return cls("status", status, html=html, after=after)

    @classmethod
    def account_suspended(cls, variant: Suspension = "suspended") -> Fault:
        """A 403 saying the account is suspended (``"temporarily_suspended"``, ``"blocked"``: the other
        documented variants), in the family's envelope.

        On cohort sync the body is the documented one, e.g. ``{"status": "fail", "error": {"message":
        "Your account is suspended. Please contact MoEngage team.", "type": "Account Suspended",
        "request_id": "..."}}``; the v2 and v3 families carry the same type and message in their envelopes.

        Example::

            emu.faults.script(Fault.account_suspended(), target="cohort")
        """
        if variant not in ("suspended", "temporarily_suspended", "blocked"):
            raise ValueError(f"unknown suspension variant {variant!r}")
        return cls("status", 403, suspension=variant)

    @classmethod
    def connection_reset(cls, *, after: bool = False) -> Fault:
        """Close the connection without sending a response.

        Example::

            Fault.connection_reset()
        """
        return cls("reset", after=after)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before handling the request (use a long wait to provoke a client timeout).

        Example::

            Fault.slow(0.5)
        """
        return cls("delay", delay=seconds)


@attrs.define
class _Rule:
    fault: Fault
    probability: float
    target: str | None


class FaultInjector:
    """Holds the scripted queue and the random rules; thread-safe.

    ``target`` is a family (``file``, ``manage``, ``filter``, ``cohort``), an endpoint key (such as
    ``cohort_sync`` or ``create_file_segment``) or None for every endpoint.

    Example::

        emu.faults.script(Fault.server_error(500), target="create_filter_segment")
        emu.faults.clear()
    """

    def __init__(self, seed: int | None = None) -> None:
        self._queue: deque[tuple[Fault, str | None]] = deque()
        self._rules: list[_Rule] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.injected = 0

    def script(self, *faults: Fault, target: str | None = None) -> None:
        """Queue faults; each matching request takes the next one, in order.

        Example::

            emu.faults.script(Fault.server_error(500), Fault.server_error(500), target="cohort")
        """
        with self._lock:
            self._queue.extend((f, target) for f in faults)

    def set_random(self, fault: Fault, probability: float, *, target: str | None = None) -> None:
        """Inject ``fault`` into matching requests with ``probability`` (0..1).

        Example::

            emu.faults.set_random(Fault.connection_reset(), 0.05, target="cohort")
        """
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        with self._lock:
            self._rules.append(_Rule(fault, probability, target))

    def clear(self) -> None:
        """Drop every scripted fault and random rule.

        Example::

            emu.faults.clear()
        """
        with self._lock:
            self._queue.clear()
            self._rules.clear()

    @property
    def pending(self) -> int:
        """Scripted faults not used yet.

        Example::

            assert emu.faults.pending == 0
        """
        return len(self._queue)

    def next_for(self, family: str, endpoint: str) -> Fault | None:
        """The fault for this request, if any (consumes a scripted one).

        Example::

            fault = injector.next_for("cohort", "cohort_sync")
        """
        with self._lock:
            for index, (fault, target) in enumerate(self._queue):
                if target in (None, family, endpoint):
                    del self._queue[index]
                    self.injected += 1
                    return fault
            for rule in self._rules:
                if rule.target in (None, family, endpoint) and self._random.random() < rule.probability:
                    self.injected += 1
                    return rule.fault
        return None
