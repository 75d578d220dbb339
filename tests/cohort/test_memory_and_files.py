"""Memory stays flat on a generated stream; read_uids streams text and CSV files."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from moengage_segments import AsyncClient, Cohort, read_uids
from tests.cohort._sink import Sink

COHORT = Cohort(id="mem", name="Mem", partner="p")


def stream(n: int) -> Iterator[str]:
    for i in range(n):
        yield f"stream-user-{i:010d}"


async def peak_for(n: int) -> int:
    async with Sink(record=False) as sink, AsyncClient("ws", "key", base_url=sink.url, rate_limits=None) as client:
        await client.cohorts.add_members(COHORT, ["warm-up"])  # session, connector and imports allocated
        tracemalloc.start()
        try:
            report = await client.cohorts.add_members(COHORT, stream(n), max_request_bytes=20_000, max_in_flight=2)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert report.accepted == n == sink.received - 1
    return peak


async def test_memory_flat_in_input_size() -> None:
    small = await peak_for(20_000)
    large = await peak_for(200_000)  # ten times the input, ~ten times the batches
    # Holding the input would cost >= 10 MB more for the large run; flat means the same few batches.
    assert large < small * 1.5 + 512 * 1024, (small, large)


def test_read_uids_text_file(tmp_path: Path) -> None:
    path = tmp_path / "uids.txt"
    path.write_bytes(b"\xef\xbb\xbfu1\r\nu2\n\n  spaced \nbad\xffbyte\nlast")
    assert list(read_uids(path)) == ["u1", "u2", "  spaced ", "bad\udcffbyte", "last"]
    uids = read_uids(path)
    assert list(uids) == list(uids)  # re-iterable


def test_read_uids_large_file_crosses_block_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "many.txt"
    expected = [f"user-{i}-é" for i in range(300_000)]  # ~4 MB: several 1 MB blocks, multibyte chars
    path.write_text("\n".join(expected) + "\n", encoding="utf-8")
    assert list(read_uids(path)) == expected


def test_read_uids_csv_column(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text('id,name\r\nu1,"Doe, J"\r\n\r\n"u,2",x\r\n,empty\r\n', encoding="utf-8")
    assert list(read_uids(path, column="id")) == ["u1", "u,2", ""]
    assert list(read_uids(path, column=1)) == ["name", "Doe, J", "x", "empty"]
    with pytest.raises(ValueError, match="no column named 'uid'"):
        list(read_uids(path, column="uid"))
    with pytest.raises(ValueError, match="no column 5"):
        list(read_uids(path, column=5))


async def test_invalid_bytes_in_a_file_are_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "uids.txt"
    path.write_bytes(b"good1\nbad\xff\ngood2\n")
    async with Sink() as sink, AsyncClient("ws", "key", base_url=sink.url, rate_limits=None) as client:
        report = await client.cohorts.add_members(COHORT, read_uids(path))
        assert sink.members[COHORT.id] == {"good1", "good2"}
    assert report.invalid == 1 and report.invalid_reasons == {"uid is not valid Unicode (lone surrogate)": 1}
