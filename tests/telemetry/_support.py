"""A fake MoEngage answering every operation through MockTransport, and OpenTelemetry in-memory readers."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from moengage_segments import HTTPRequest, HTTPResponse

WORKSPACE = "WS_OTEL_7"
API_KEY = "sk-OTEL-SECRET-91c2"
TOKEN = base64.b64encode(f"{WORKSPACE}:{API_KEY}".encode()).decode()
SEG_ID = "6388a97a02adb9071ca84ce9"
SEGMENT = {"id": SEG_ID, "name": "vip"}


def service(request: HTTPRequest) -> HTTPResponse:
    """Plausible success answers for every endpoint."""
    path, method = request.path, request.method
    if path == "/v1/integrations/cohortsync":
        return HTTPResponse(200, json={"status": "success", "request_id": "req-ok"})
    if path.startswith("/v2/custom-segments/file-segment"):
        return HTTPResponse(202, json={"cs_id": SEG_ID, "cs_name": "vip", "response_id": "resp-2"})
    if path.startswith("/v2/custom-segments/"):
        return HTTPResponse(200, json={"message": "ok"})
    if path == "/v3/custom-segments" and method == "GET":
        return HTTPResponse(200, json={"data": [SEGMENT], "response_id": "resp-list"})
    if path == "/v3/custom-segments":
        return HTTPResponse(201, json={"data": SEGMENT, "response_id": "resp-create"})
    return HTTPResponse(200, json={"data": SEGMENT, "response_id": "resp-get"})


class Recorder:
    """A tracer provider and a meter provider that keep everything in memory."""

    def __init__(self) -> None:
        self.spans_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans_exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def providers(self) -> dict[str, Any]:
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}

    def spans(self) -> list[ReadableSpan]:
        return list(self.spans_exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]

    def metrics(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """Metric name -> [(attributes, value)] (value: a sum, or a histogram's count)."""
        out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        data = self.reader.get_metrics_data()
        if data is None:
            return out
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = point.count  # type: ignore[attr-defined]
                        out.setdefault(metric.name, []).append((dict(point.attributes or {}), value))
        return out

    def total(self, name: str, where: Callable[[dict[str, Any]], bool] = lambda a: True) -> Any:
        return sum(v for a, v in self.metrics().get(name, []) if where(a))

    def exported_text(self) -> str:
        """Everything exported, as text, for leak checks."""
        spans = "\n".join(s.to_json() for s in self.spans())
        data = self.reader.get_metrics_data()
        return spans + "\n" + (data.to_json() if data is not None else "")
