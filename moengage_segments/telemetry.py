"""Observability: OpenTelemetry spans and metrics, and typed event hooks, at no cost when unused.

OpenTelemetry is optional (``pip install 'moengage-segments[otel]'`` brings ``opentelemetry-api`` only).
This module never imports it by itself: telemetry is on when the application passed a provider to the
client, or imported OpenTelemetry and set a global tracer or meter provider. Otherwise, and when no
``event_hooks`` are given, :meth:`Telemetry.probe` returns ``None`` and the request path does nothing more.

What is recorded is listed in ``docs/observability.md``. Never recorded: the API key, the
``Authorization`` header, user ids, request or response bodies, exception messages.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import urlsplit

import attrs

from moengage_segments.models import CohortSyncReport

__all__ = [
    "EventHook",
    "LimiterWaitEvent",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "Telemetry",
    "TelemetryEvent",
]

logger = logging.getLogger("moengage_segments")

_SCOPE = "moengage_segments"


def _version() -> str:
    from moengage_segments import __version__  # the package, fully imported by the time a probe runs

    return __version__


# -- events ----------------------------------------------------------------------------------------------


class _Event:
    """Shared behaviour of the event classes."""

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict, its ``kind`` first.

        Example::

            print(json.dumps(event.to_dict()))  # {"kind": "response", "operation": "segments.get", ...}
        """
        return {"kind": self.kind, **attrs.asdict(self)}  # type: ignore[arg-type]


@attrs.frozen
class RequestEvent(_Event):
    """An attempt is about to be sent. ``route`` is the path template; ``bytes`` the body size.

    Example::

        if isinstance(event, RequestEvent):
            print(event.method, event.route, event.attempt)
    """

    kind: ClassVar[str] = "request"
    operation: str
    method: str
    route: str
    attempt: int
    bytes: int


@attrs.frozen
class ResponseEvent(_Event):
    """An attempt ended: ``status`` (``None`` when no response came, see ``error``), seconds taken.

    ``error`` is the error class name (``"ServerError"``, ``"APITimeoutError"``, ``"CancelledError"`` for a
    call cancelled in flight) or ``None`` on success;
    ``request_id`` is the service's id for the response, when it sent one.

    Example::

        if isinstance(event, ResponseEvent) and event.status == 429:
            throttled += 1
    """

    kind: ClassVar[str] = "response"
    operation: str
    method: str
    route: str
    attempt: int
    status: int | None
    duration: float
    request_id: str | None = None
    error: str | None = None


@attrs.frozen
class RetryEvent(_Event):
    """The attempt failed and the call will be re-sent after ``delay`` seconds; ``reason`` says why.

    Example::

        if isinstance(event, RetryEvent):
            print(f"retry #{event.attempt} in {event.delay:.1f}s after {event.reason}")
    """

    kind: ClassVar[str] = "retry"
    operation: str
    method: str
    route: str
    attempt: int
    delay: float
    reason: str


@attrs.frozen
class LimiterWaitEvent(_Event):
    """The client-side rate limiter held an attempt back for ``waited`` seconds (family ``family``).

    Example::

        if isinstance(event, LimiterWaitEvent):
            paced_seconds += event.waited
    """

    kind: ClassVar[str] = "limiter_wait"
    operation: str
    family: str
    waited: float


TelemetryEvent = RequestEvent | ResponseEvent | RetryEvent | LimiterWaitEvent
"""Any of the event types passed to an event hook.

Example::

    def hook(event: TelemetryEvent) -> None:
        print(event.kind, event.operation)
"""

EventHook = Callable[[TelemetryEvent], object]
"""A callable given to ``AsyncClient(event_hooks=[...])``; it receives every event, on the event loop.

Example::

    client = AsyncClient(event_hooks=[lambda event: print(event.to_dict())])
"""


# -- OpenTelemetry, imported only when the application already did ------------------------------------------


def _configured(provider: Any) -> bool:
    """False for the placeholder the OpenTelemetry API hands out until the application sets a provider.

    The API has no public "is a provider set?" call. Until one is set, ``get_tracer_provider()`` returns
    ``opentelemetry.trace.ProxyTracerProvider`` and ``get_meter_provider()`` the private
    ``opentelemetry.metrics._internal._ProxyMeterProvider``. Both are recognised by the module they come
    from as well as their name: distributions wrap the real providers they install in classes of the
    same name (Logfire's ``ProxyTracerProvider``, say), and those are configured providers. Should the
    API rename its placeholder, this errs on the safe side: telemetry runs through the no-op proxy.
    """
    cls = type(provider)
    placeholder = cls.__module__.split(".")[0] == "opentelemetry" and cls.__name__.lstrip("_").startswith("Proxy")
    return not placeholder


#: Bucket boundaries (seconds) OpenTelemetry's HTTP conventions give for ``http.client.request.duration``;
#: the SDK's default boundaries (0, 5, 10, 25 ... 10000) are meant for milliseconds.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
#: Limiter waits run from the cohort pacing (0.2 s) to a whole rate window (``rate_limit_cap``, 60 s).
_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def _histogram(meter: Any, name: str, unit: str, description: str, buckets: tuple[float, ...]) -> Any:
    """A histogram with ``buckets`` as its advised boundaries, where the API can take the advice (1.30+)."""
    try:
        return meter.create_histogram(
            name, unit=unit, description=description, explicit_bucket_boundaries_advisory=list(buckets)
        )
    except TypeError:  # an older API: the SDK's defaults apply unless the application configures a View
        return meter.create_histogram(name, unit=unit, description=description)


class _Otel:
    """The tracer and instruments of one (tracer provider, meter provider) pair."""

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        from opentelemetry import trace

        self.trace = trace
        self.tracer = tracer_provider.get_tracer(_SCOPE, _version()) if tracer_provider is not None else None
        self.meter_provider = meter_provider
        meter = meter_provider.get_meter(_SCOPE, _version()) if meter_provider is not None else None
        self.metered = meter is not None
        if meter is not None:
            self.duration = _histogram(
                meter, "http.client.request.duration", "s", "Duration of HTTP client requests.", _DURATION_BUCKETS
            )
            self.requests = meter.create_counter(
                "moengage.client.requests", unit="{request}", description="HTTP requests sent, by family and status."
            )
            self.retries = meter.create_counter(
                "moengage.client.retries", unit="{retry}", description="Requests re-sent after a failure."
            )
            self.throttled = meter.create_counter(
                "moengage.client.rate_limited", unit="{response}", description="429 responses from the service."
            )
            self.limiter_wait = _histogram(
                meter, "moengage.client.limiter.wait", "s", "Time held back by the client-side limiter.", _WAIT_BUCKETS
            )
            self.bytes_sent = meter.create_counter(
                "moengage.client.bytes_sent", unit="By", description="Request body bytes sent, every attempt."
            )
            self.uids = meter.create_counter(
                "moengage.cohort.uids", unit="{uid}", description="Cohort uids by action and outcome."
            )


class Telemetry:
    """Per-client telemetry: event hooks plus OpenTelemetry when configured. Internal; made by the client.

    Example::

        telemetry = Telemetry(event_hooks=[print])
        assert telemetry.probe("segments.get", "GET", "/v3/custom-segments/{segment_id}", "get") is not None
    """

    def __init__(
        self,
        *,
        event_hooks: Sequence[EventHook] = (),
        tracer_provider: Any = None,
        meter_provider: Any = None,
        base_url: str | None = None,
    ) -> None:
        self.hooks = tuple(event_hooks)
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        #: server.address and server.port of every HTTP span and metric point; the HTTP conventions require
        #: the port even where the URL leaves it to the scheme.
        self._server: dict[str, Any] = {}
        if base_url:
            parts = urlsplit(base_url)
            port = parts.port or (80 if parts.scheme == "http" else 443)
            self._server = {"server.address": parts.hostname or "", "server.port": port}
        self._otel: _Otel | None = None
        self._otel_key: tuple[int, int] = (0, 0)

    def otel(self) -> _Otel | None:
        """The tracer and instruments to use now, or ``None`` when OpenTelemetry is not in use.

        Example::

            if telemetry.otel() is None:
                ...  # nothing is traced or metered
        """
        tracer_provider, meter_provider = self._tracer_provider, self._meter_provider
        if tracer_provider is None or meter_provider is None:
            trace = sys.modules.get("opentelemetry.trace")
            metrics = sys.modules.get("opentelemetry.metrics")
            if trace is None and metrics is None and tracer_provider is None and meter_provider is None:
                return None  # the application never imported OpenTelemetry: nothing can be configured
            if tracer_provider is None and trace is not None:
                global_tp = trace.get_tracer_provider()
                tracer_provider = global_tp if _configured(global_tp) else None
            if meter_provider is None and metrics is not None:
                global_mp = metrics.get_meter_provider()
                meter_provider = global_mp if _configured(global_mp) else None
            if tracer_provider is None and meter_provider is None:
                return None
        key = (id(tracer_provider), id(meter_provider))
        if self._otel is None or key != self._otel_key:
            self._otel, self._otel_key = _Otel(tracer_provider, meter_provider), key
        return self._otel

    def enabled(self) -> bool:
        """True when there is anything to record to (hooks or OpenTelemetry).

        Example::

            assert not Telemetry().enabled()
        """
        return bool(self.hooks) or self.otel() is not None

    def emit(self, event: TelemetryEvent) -> None:
        """Pass ``event`` to every hook; a hook that raises is logged and does not break the call.

        Example::

            telemetry.emit(LimiterWaitEvent("cohorts.add_members", "cohort", 0.2))
        """
        for hook in self.hooks:
            try:
                hook(event)
            except Exception as exc:  # a broken hook must never fail a push
                logger.warning("an event hook raised %s; the event was dropped", type(exc).__name__)

    def operation(self, name: str, attributes: Mapping[str, Any] | None = None) -> Operation | _NoOperation:
        """A context manager around one SDK operation (its span, and the parent of its requests' spans).

        Example::

            async with telemetry.operation("cohorts.add_members", {"moengage.cohort.id": "c1"}) as op:
                ...
        """
        otel = self.otel()
        if otel is None and not self.hooks:
            return _NO_OPERATION
        return Operation(self, otel, name, attributes)

    def probe(
        self, operation: str, method: str, route: str, family: str, segment_id: str | None = None
    ) -> Probe | None:
        """What one request records, or ``None`` when nothing is listening (the zero-cost path).

        Example::

            probe = telemetry.probe("segments.list", "GET", "/v3/custom-segments", "list")
        """
        otel = self.otel()
        if otel is None and not self.hooks:
            return None
        return Probe(self, otel, operation, method, route, family, segment_id)


_CURRENT: contextvars.ContextVar[Operation | None] = contextvars.ContextVar("moengage_operation", default=None)


class Operation:
    """One operation's span; counts its requests, retries and bytes. Enter with ``async with``/``with``.

    Example::

        async with telemetry.operation("cohorts.add_members") as op:
            op.record_report(report)
    """

    def __init__(self, telemetry: Telemetry, otel: _Otel | None, name: str, attributes: Mapping[str, Any] | None):
        self.telemetry = telemetry
        self.otel = otel
        self.name = name
        self.requests = self.retries = self.bytes = 0
        self.span: Any = None
        self._attributes = {"moengage.operation": name, **(attributes or {})}
        self._token: contextvars.Token[Operation | None] | None = None
        self._scope: Any = None

    def __enter__(self) -> Operation:
        otel = self.otel
        if otel is not None and otel.tracer is not None:
            self.span = otel.tracer.start_span("moengage." + self.name, attributes=self._attributes)
            self._scope = otel.trace.use_span(self.span, end_on_exit=False)
            self._scope.__enter__()
        self._token = _CURRENT.set(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)
        span = self.span
        if span is None:
            return
        span.set_attributes(
            {"moengage.requests": self.requests, "moengage.retries": self.retries, "moengage.bytes_sent": self.bytes}
        )
        if exc_type is not None:
            # The class name only: messages are kept out of telemetry (they may name inputs).
            span.set_attribute("error.type", exc_type.__name__)
            span.set_status(self.otel.trace.StatusCode.ERROR, exc_type.__name__)  # type: ignore[union-attr]
        self._scope.__exit__(None, None, None)  # the span's own status is set above, without the message
        span.end()

    async def __aenter__(self) -> Operation:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def record_report(self, report: CohortSyncReport) -> None:
        """Put a cohort push's outcome on the span and the ``moengage.cohort.uids`` counter.

        Example::

            op.record_report(report)  # accepted, failed, invalid, duplicates, skipped, not sent
        """
        counts = {
            "accepted": report.accepted,
            "failed": report.failed,
            "invalid": report.invalid,
            "duplicate": report.duplicates,
            "skipped": report.skipped,
            "not_sent": report.not_sent,
        }
        if self.span is not None:
            self.span.set_attributes(
                {
                    "moengage.cohort.uids.submitted": report.submitted,
                    **{f"moengage.cohort.uids.{k}": v for k, v in counts.items()},
                    "moengage.cohort.cancelled": report.cancelled,
                }
            )
        otel = self.otel
        if otel is not None and otel.metered:
            for outcome, count in counts.items():
                if count:
                    otel.uids.add(count, {"moengage.cohort.action": report.action, "moengage.cohort.outcome": outcome})

    def on_report(
        self, chained: Callable[[CohortSyncReport], object] | None
    ) -> Callable[[CohortSyncReport], object] | None:
        """An ``on_report`` callback that records the report here, then calls ``chained``.

        Example::

            run = CohortSync(..., on_report=op.on_report(user_callback))
        """

        def record(report: CohortSyncReport) -> object:
            self.record_report(report)
            return chained(report) if chained is not None else None

        return record


class _NoOperation:
    """The operation when nothing listens: every method does nothing."""

    def __enter__(self) -> _NoOperation:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    async def __aenter__(self) -> _NoOperation:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def record_report(self, report: CohortSyncReport) -> None:
        return None

    def on_report(
        self, chained: Callable[[CohortSyncReport], object] | None
    ) -> Callable[[CohortSyncReport], object] | None:
        return chained


_NO_OPERATION = _NoOperation()


class Probe:
    """What one request (all its attempts) records: spans, events, metrics. Made by :meth:`Telemetry.probe`.

    Example::

        probe.attempt(1, 1234); probe.response(200, None, "req-1")
    """

    def __init__(
        self,
        telemetry: Telemetry,
        otel: _Otel | None,
        operation: str,
        method: str,
        route: str,
        family: str,
        segment_id: str | None,
    ) -> None:
        self.telemetry = telemetry
        self.otel = otel
        self.method = method
        self.route = route
        self.family = family
        # A request outside any operation (a single-request call) is its own operation.
        current = _CURRENT.get()
        self._own: Operation | None = None
        if current is None:
            attributes = {"moengage.segment.id": segment_id} if segment_id else None
            self._own = current = Operation(telemetry, otel, operation, attributes)
            current.__enter__()
        self.op = current
        self._span: Any = None
        self._started = 0.0
        self._attempt = 0
        self._bytes = 0
        self._in_flight = False

    def _base(self) -> dict[str, Any]:
        return {
            "http.request.method": self.method,
            "url.template": self.route,
            "moengage.limit_family": self.family,
            **self.telemetry._server,
        }

    def limiter_wait(self, waited: float) -> None:
        """The limiter held the next attempt back ``waited`` seconds.

        Example::

            probe.limiter_wait(0.25)
        """
        op = self.op
        if op.span is not None:
            op.span.add_event(
                "moengage.rate_limiter.wait", {"moengage.limit_family": self.family, "moengage.wait.seconds": waited}
            )
        otel = self.otel
        if otel is not None and otel.metered:
            otel.limiter_wait.record(waited, {"moengage.limit_family": self.family})
        if self.telemetry.hooks:
            self.telemetry.emit(LimiterWaitEvent(op.name, self.family, waited))

    def attempt(self, attempt: int, size: int) -> None:
        """Attempt number ``attempt`` (1-based) of ``size`` body bytes is being sent.

        Example::

            probe.attempt(2, len(body))
        """
        self._attempt, self._bytes = attempt, size
        self._in_flight = True
        self._started = time.perf_counter()
        op = self.op
        op.requests += 1
        op.bytes += size
        otel = self.otel
        if otel is not None and otel.tracer is not None:
            attributes = self._base()
            if attempt > 1:
                attributes["http.request.resend_count"] = attempt - 1
            attributes["http.request.body.size"] = size
            self._span = otel.tracer.start_span(
                f"{self.method} {self.route}", kind=otel.trace.SpanKind.CLIENT, attributes=attributes
            )
        if self.telemetry.hooks:
            self.telemetry.emit(RequestEvent(op.name, self.method, self.route, attempt, size))

    def response(self, status: int | None, error: str | None, request_id: str | None) -> None:
        """The attempt ended with ``status`` (``None``: no response) and error class name ``error``.

        Example::

            probe.response(503, "ServerError", "r-9")
        """
        duration = time.perf_counter() - self._started
        self._in_flight = False
        span, self._span = self._span, None
        otel = self.otel
        if span is not None:
            if status is not None:
                span.set_attribute("http.response.status_code", status)
            if request_id:
                span.set_attribute("moengage.request_id", request_id)
            if error is not None:
                span.set_attribute("error.type", str(status) if status is not None else error)
                span.set_status(otel.trace.StatusCode.ERROR)  # type: ignore[union-attr]
            span.end()
        if otel is not None and otel.metered:
            attributes: dict[str, Any] = {
                "http.request.method": self.method,
                "url.template": self.route,
                "moengage.limit_family": self.family,
                **self.telemetry._server,
            }
            if status is not None:
                attributes["http.response.status_code"] = status
            if error is not None:
                attributes["error.type"] = str(status) if status is not None else error
            otel.duration.record(duration, attributes)
            otel.requests.add(1, attributes)
            otel.bytes_sent.add(self._bytes, {"moengage.limit_family": self.family})
            if status == 429:
                otel.throttled.add(1, {"moengage.limit_family": self.family})
        if self.telemetry.hooks:
            self.telemetry.emit(
                ResponseEvent(self.op.name, self.method, self.route, self._attempt, status, duration, request_id, error)
            )

    def retry(self, attempt: int, delay: float, reason: str) -> None:
        """Attempt ``attempt`` failed with ``reason`` and the call is re-sent after ``delay`` seconds.

        Example::

            probe.retry(1, 0.5, "HTTP 503")
        """
        op = self.op
        op.retries += 1
        if op.span is not None:
            op.span.add_event(
                "moengage.retry",
                {
                    "http.request.method": self.method,
                    "url.template": self.route,
                    "moengage.attempt": attempt,
                    "moengage.retry.delay": delay,
                    "moengage.retry.reason": reason,
                },
            )
        otel = self.otel
        if otel is not None and otel.metered:
            otel.retries.add(1, {"moengage.limit_family": self.family, "moengage.retry.reason": reason})
        if self.telemetry.hooks:
            self.telemetry.emit(RetryEvent(op.name, self.method, self.route, attempt, delay, reason))

    def finish(self, exc_type: type[BaseException] | None = None) -> None:
        """The request is over (returned or raised ``exc_type``): end an operation it opened itself.

        Example::

            probe.finish()
        """
        if self._in_flight:
            # The attempt ended in an exception that is not an API error (cancelled, or raised by a custom
            # transport): it is still an attempt that failed, for its span, the metrics and the hooks.
            self.response(None, exc_type.__name__ if exc_type is not None else "CancelledError", None)
        if self._own is not None:
            self._own.__exit__(exc_type, None, None)
