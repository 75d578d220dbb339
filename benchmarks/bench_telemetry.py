"""The cost of telemetry: cohort packing and add_members throughput with and without instrumentation.

    python benchmarks/bench_telemetry.py [uids] [rounds]

Modes, interleaved round by round against the same minimal local sink (a separate process, answering at
once, so the client's CPU is all that is measured), limits off:

* off          -- no hooks, no provider: the zero-cost path (OpenTelemetry is imported but not configured);
* noop         -- OpenTelemetry's no-op tracer and meter providers passed to the client: every span and
                  instrument call is made and does nothing (goal: under 2 % slower than off);
* sdk          -- the OpenTelemetry SDK's providers with an in-memory span exporter and metric reader
                  (for information: what real recording costs);
* hook         -- one event hook that does nothing.

The packer itself is not instrumented (telemetry is per request, never per uid); its throughput is
measured through ``cohorts.plan`` on clients of each mode to show that.

Throughput is reported from the client process's CPU time (``time.process_time``; the sink runs in another
process), which a shared, noisy host disturbs far less than wall time. A second measure isolates the
per-request cost: ``send_batch`` of one uid through ``MockTransport`` (no network), in microseconds.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).parent))
from _sink import SinkProcess

from moengage_segments import AsyncClient, Cohort, HTTPResponse
from moengage_segments.testing import MockTransport

COHORT = Cohort(id="bench", name="Bench", partner="warehouse")


def options(mode: str) -> dict[str, Any]:
    if mode == "noop":
        return {"tracer_provider": trace.NoOpTracerProvider(), "meter_provider": metrics.NoOpMeterProvider()}
    if mode == "sdk":
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
        return {"tracer_provider": tracer_provider, "meter_provider": MeterProvider([InMemoryMetricReader()])}
    if mode == "hook":
        return {"event_hooks": [lambda event: None]}
    return {}


async def push(url: str, mode: str, n: int) -> tuple[float, float]:
    items = [f"{i:024d}" for i in range(n)]  # fresh strings every run (str caches its hash)
    async with AsyncClient("ws", "key", base_url=url, rate_limits=None, max_connections=8, **options(mode)) as client:
        await client.cohorts.add_members(COHORT, items[:10])  # open the connection pool
        started = time.process_time()
        plan = await client.cohorts.plan(COHORT, items)
        planned = time.process_time() - started
        started = time.process_time()
        report = await client.cohorts.add_members(COHORT, items, max_in_flight=8)
        pushed = time.process_time() - started
    assert report.ok and report.accepted == n and plan.requests == len(report.batches), report
    return n / planned, n / pushed


async def per_request(mode: str, calls: int) -> float:
    """Microseconds of client CPU per single-uid ``send_batch`` through MockTransport."""
    mock = MockTransport(lambda request: HTTPResponse(200, json={"status": "success"}))
    async with AsyncClient("ws", "key", "01", transport=mock, rate_limits=None, **options(mode)) as client:
        for _ in range(50):
            await client.cohorts.send_batch(COHORT, "add_members", ["u"])
        started = time.process_time()
        for _ in range(calls):
            await client.cohorts.send_batch(COHORT, "add_members", ["u"])
        return (time.process_time() - started) / calls * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    modes = ["off", "noop", "sdk", "hook"]
    plans: dict[str, list[float]] = {m: [] for m in modes}
    pushes: dict[str, list[float]] = {m: [] for m in modes}
    with SinkProcess(0.0) as url:
        for r in range(rounds):
            for mode in modes[r % len(modes) :] + modes[: r % len(modes)]:  # rotate the order each round
                plan_rate, push_rate = asyncio.run(push(url, mode, n))
                plans[mode].append(plan_rate)
                pushes[mode].append(push_rate)
    micro: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(rounds):
        for mode in modes:
            micro[mode].append(asyncio.run(per_request(mode, 3000)))
    print(f"uids={n:,} rounds={rounds} concurrency=8, sink answering at once (separate process), best of rounds")
    print("throughput from client CPU time:")
    base_plan, base_push = max(plans["off"]), max(pushes["off"])
    for mode in modes:
        best_plan, best_push = max(plans[mode]), max(pushes[mode])
        print(
            f"{mode:5} plan {best_plan:>12,.0f} uids/s ({best_plan / base_plan - 1:+.1%})   "
            f"add_members {best_push:>12,.0f} uids/s ({best_push / base_push - 1:+.1%})"
        )
    for mode in modes:
        print(f"  {mode:5} add_members runs (M uids/s): " + ", ".join(f"{p / 1e6:.2f}" for p in pushes[mode]))
    print("one send_batch through MockTransport, client CPU per call (best of rounds):")
    for mode in modes:
        print(f"  {mode:5} {min(micro[mode]):7.1f} us  (+{min(micro[mode]) - min(micro['off']):.1f} us vs off)")


if __name__ == "__main__":
    main()
