"""Linger: a trickling input is read and sent in partial chunks and batches; fast input stays packed to the byte;
a checkpoint run cuts the same batches whatever the timing."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from moengage_segments import AsyncClient, Client, Cohort, CohortSyncProgress, ValidationError
from moengage_segments._async.streaming import lingering_chunks
from moengage_segments.testing import Emulator
from tests.cohort._sink import Sink

COHORT = Cohort(id="churn", name="Churn risk", partner="warehouse")
#: How long a test waits for something that must happen; a stuck input fails instead of hanging.
PATIENCE = 10.0


async def _arrived(sink: Sink, count: int) -> None:
    while sink.received < count:  # noqa: ASYNC110  # polling a counter of the test sink
        await asyncio.sleep(0.005)


async def test_a_stalled_async_iterable_has_its_first_uids_sent_meanwhile() -> None:
    async with Sink() as sink, AsyncClient("ws", "key", base_url=sink.url, rate_limits=None) as client:
        stalled_until_sent = asyncio.Event()

        async def trickle() -> AsyncIterator[str]:
            for i in range(100):
                yield f"early-{i}"
            # Like a pipe whose writer waits: nothing more until the first 100 have reached the service.
            await asyncio.wait_for(_arrived(sink, 100), PATIENCE)
            stalled_until_sent.set()
            for i in range(50):
                yield f"late-{i}"

        snapshots: list[CohortSyncProgress] = []
        report = await client.cohorts.add_members(COHORT, trickle(), linger=0.02, on_progress=snapshots.append)
    assert stalled_until_sent.is_set()
    assert report.ok and report.accepted == 150
    assert sink.members[COHORT.id] == {f"early-{i}" for i in range(100)} | {f"late-{i}" for i in range(50)}


def test_a_stalled_generator_through_the_sync_client_flows_too() -> None:
    received = threading.Event()

    with Emulator.in_thread(accept_any_uid=True, rate_limits=False) as emu:

        def members() -> int:
            info = emu.cohort_segment(COHORT.id)
            return 0 if info is None else info.member_count

        def trickle() -> Iterator[str]:
            yield from (f"early-{i}" for i in range(100))
            # A blocking source (a socket, sys.stdin) that waits: read in a thread, it must not hold the batch.
            for _ in range(int(PATIENCE / 0.005)):
                if members() >= 100:
                    received.set()
                    break
                time.sleep(0.005)
            yield from (f"late-{i}" for i in range(50))

        with Client(emu.workspace_id, emu.api_key, base_url=emu.base_url, rate_limits=None) as client:
            report = client.cohorts.add_members(COHORT, trickle(), linger=0.02)
        assert members() == 150
    assert received.is_set()
    assert report.ok and report.accepted == 150


async def test_fast_input_stays_packed_to_the_byte() -> None:
    async def fast() -> AsyncIterator[str]:
        for i in range(30_000):
            yield f"user-{i:06d}"

    async with Sink() as sink, AsyncClient("ws", "key", base_url=sink.url, rate_limits=None) as client:
        report = await client.cohorts.add_members(COHORT, fast(), max_request_bytes=20_000, linger=0.2)
    assert report.ok and report.accepted == 30_000
    assert all(b.bytes >= 0.99 * 20_000 for b in report.batches[:-1])


async def test_a_checkpoint_run_cuts_the_same_batches_whatever_the_timing(tmp_path: Path) -> None:
    journal = tmp_path / "push.journal"

    async def source(stall: float) -> AsyncIterator[str]:
        for i in range(300):
            if i == 150:
                await asyncio.sleep(stall)  # idle for longer than the linger
            yield f"user-{i:04d}"

    async with Sink() as sink, AsyncClient("ws", "key", base_url=sink.url, rate_limits=None) as client:
        first = await client.cohorts.add_members(
            COHORT, source(0.1), checkpoint=journal, max_request_bytes=4_000, linger=0.01
        )
        again = await client.cohorts.add_members(
            COHORT, source(0.0), checkpoint=journal, max_request_bytes=4_000, linger=0.01
        )
    assert first.ok and again.ok
    # Had the first run flushed at the stall, its batches would not match these and the journal would refuse.
    assert again.skipped == 300 and again.requests == 0


async def test_lingering_chunks_yields_partial_lists_and_raises_the_inputs_error() -> None:
    gate = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        yield "a"
        yield "b"
        await gate.wait()
        yield "c"
        raise OSError("pipe broke")

    chunks = lingering_chunks(source(), 100, 0.01)
    assert await asyncio.wait_for(chunks.__anext__(), PATIENCE) == ["a", "b"]
    gate.set()
    assert await chunks.__anext__() == ["c"]
    with pytest.raises(OSError, match="pipe broke"):
        await chunks.__anext__()


async def test_linger_is_validated() -> None:
    async with AsyncClient("ws", "key", base_url="http://127.0.0.1:9", rate_limits=None) as client:
        for bad in (-1, "0.2", True):
            with pytest.raises(ValidationError, match="linger"):
                await client.cohorts.add_members(COHORT, ["u1"], linger=bad)  # type: ignore[arg-type]
