"""Memory stays flat on a generated stream; read_uids streams text and CSV files; failed-uids files round-trip."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moengage_segments import AsyncClient, Cohort, ValidationError, read_uids
from moengage_segments.uids import BLOCK_SIZE, FailedUidsWriter, UidFile
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


@pytest.mark.slow  # streams a large input twice under tracemalloc
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


# -- line ends: "\n", "\r\n" or a lone "\r", at every block size ------------------------------------------

LINE_END_CASES = [
    (b"a\r\nb\r\nc\r\n", ["a", "b", "c"]),  # once read as ['a', 'b', 'c\r']
    (b"a\r\nb\r\nc", ["a", "b", "c"]),
    (b"a\rb\rc\r", ["a", "b", "c"]),  # CR only (old Mac files)
    (b"a\rb\rc", ["a", "b", "c"]),
    (b"\xef\xbb\xbfa\r\nb\r\n", ["a", "b"]),  # BOM + CRLF
    (b"\xef\xbb\xbf\xc3\xa9\r\xc3\xa9 x\r", ["\u00e9", "\u00e9 x"]),  # BOM + CR + multi-byte
    (b"a\r\n\r\nb\n\rc\r\r\n\n", ["a", "b", "c"]),  # mixed, with blank lines
    (b"\xef\xbb\xbf\r\n", []),
    (b" a \r\n\tb\t\r", [" a ", "\tb\t"]),  # nothing but the line end is stripped
]


@pytest.mark.parametrize("block_size", [1, 2, 3, 4, 5, 7, 64, BLOCK_SIZE])
@pytest.mark.parametrize(("data", "expected"), LINE_END_CASES)
def test_line_ends_at_every_block_size(tmp_path: Path, block_size: int, data: bytes, expected: list[str]) -> None:
    path = tmp_path / "uids.txt"
    path.write_bytes(data)
    assert list(UidFile(path, block_size=block_size)) == expected


def test_crlf_straddling_a_block_boundary(tmp_path: Path) -> None:
    uids = [f"user-{i}" for i in range(300)]
    data = "".join(u + "\r\n" for u in uids).encode()
    path = tmp_path / "uids.txt"
    path.write_bytes(data)
    straddled = 0
    for block_size in range(1, 40):
        # The "\r" ends one block and the "\n" starts the next somewhere in the file.
        straddled += any(data[k - 1 : k + 1] == b"\r\n" for k in range(block_size, len(data), block_size))
        assert list(UidFile(path, block_size=block_size)) == uids, block_size
    assert straddled >= 30
    assert list(read_uids(path)) == uids  # one default-sized block


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    lines=st.lists(
        st.tuples(
            st.text(st.characters(blacklist_characters="\r\n\ufeff"), min_size=1, max_size=8),
            st.sampled_from(["\n", "\r\n", "\r"]),
        ),
        max_size=12,
    ),
    bom=st.booleans(),
    block_size=st.integers(min_value=1, max_value=24),
)
def test_any_line_ends_read_back_exactly(lines: list[tuple[str, str]], bom: bool, block_size: int) -> None:
    import io

    from moengage_segments.uids import line_chunks

    data = ("\ufeff" if bom else "") + "".join(uid + end for uid, end in lines)
    chunks = list(line_chunks(io.BytesIO(data.encode("utf-8", "surrogatepass")).read, block_size))
    assert all(chunks)
    assert [uid for chunk in chunks for uid in chunk] == [uid for uid, _ in lines]


def test_block_size_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "uids.txt"
    path.write_text("a\n")
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="block_size"):
            UidFile(path, block_size=bad)  # type: ignore[arg-type]


# -- the failed-uids file reads back unchanged ------------------------------------------------------------

HOSTILE_UIDS = [
    "plain",
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\ninside",
    "trailing\n",
    "\nleading",
    'double "quotes"',
    '"',
    "'single'",
    "comma,separated",
    ",",
    "  leading and trailing spaces  ",
    "\ttab",
    "uid",  # the header's text, as a uid
    "back\\slash",
    "\u00e9\u00e8 \u4e2d\u6587 \U0001f600",
    "\u2028line separator\u2029",
    "\ufeffbom-first",
    "\x85next-line",
    "=SUM(A1)",
]


def test_failed_uids_writer_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "failed.csv"
    writer = FailedUidsWriter(path)
    writer.write(HOSTILE_UIDS, "refused: HTTP 400")
    writer.write([], "not sent: cancelled")
    writer.close()
    writer.close()  # idempotent
    assert writer.written == len(HOSTILE_UIDS)
    assert list(read_uids(path, column="uid")) == HOSTILE_UIDS
    assert list(read_uids(path, column="reason")) == ["refused: HTTP 400"] * len(HOSTILE_UIDS)
    assert path.read_bytes().startswith(b'uid,reason\r\nplain,refused: HTTP 400\r\n"line\nbreak",refused')


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.lists(
        st.text(st.characters(blacklist_characters="\x00"), min_size=1).filter(lambda u: not u.isspace()),
        max_size=10,
    )
)
def test_failed_uids_round_trip_property(tmp_path_factory: pytest.TempPathFactory, uids: list[str]) -> None:
    path = tmp_path_factory.mktemp("failed") / "failed.csv"
    writer = FailedUidsWriter(path)
    writer.write(uids, "refused: HTTP 400")
    writer.close()
    assert list(read_uids(path, column="uid")) == uids


async def test_failed_uids_of_a_push_read_back_and_push_again(tmp_path: Path) -> None:
    path = tmp_path / "failed.csv"

    def refuse_first(number: int, body: dict[str, object]) -> tuple[int, dict[str, str]] | None:
        return (400, {}) if number == 1 else None

    async with Sink(fault=refuse_first) as sink, AsyncClient("ws", "key", base_url=sink.url, rate_limits=None) as c:
        first = await c.cohorts.add_members(COHORT, HOSTILE_UIDS, failed_uids_path=path)
        assert first.failed == len(HOSTILE_UIDS) and COHORT.id not in sink.members
        failed = read_uids(path, column="uid")
        assert list(failed) == HOSTILE_UIDS
        second = await c.cohorts.add_members(COHORT, failed, failed_uids_path=tmp_path / "again.csv")
        assert second.ok and second.accepted == len(HOSTILE_UIDS)
        assert sink.members[COHORT.id] == set(HOSTILE_UIDS)
    assert list(read_uids(tmp_path / "again.csv", column="uid")) == []


def test_a_csv_field_over_the_csv_limit_is_a_validation_error(tmp_path: Path) -> None:
    path = tmp_path / "failed.csv"
    path.write_text("uid\n" + "x" * 200_000 + "\n")
    with pytest.raises(ValueError, match=r"failed\.csv:2") as info:
        list(read_uids(path, column="uid"))
    assert getattr(info.value, "field", None) == "path"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_read_once_never_counted(tmp_path: Path) -> None:
    # Counting a pipe ahead of a push (or on the side while it runs) would take the uids the push must read.
    fifo = tmp_path / "uids.fifo"
    os.mkfifo(fifo)
    uids = read_uids(fifo)
    assert not uids.regular and read_uids(__file__).regular
    with pytest.raises(ValidationError) as info:
        uids.count()
    assert info.value.field == "path" and "read once" in info.value.reason


@pytest.mark.skipif(not Path("/dev/fd").is_dir(), reason="needs /dev/fd (a pipe given as a path)")
async def test_a_pipe_is_pushed_whole_with_progress_on() -> None:
    # With on_progress, an uncounted file is counted on the side; a pipe must not be (it would split the uids).
    uids = [f"p{i:05d}" for i in range(3_000)]
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as writer:
        writer.write("".join(f"{uid}\n" for uid in uids))
    try:
        async with Sink() as sink, AsyncClient("ws", "key", base_url=sink.url, rate_limits=None) as client:
            report = await client.cohorts.add_members(
                Cohort(id="pipe", name="Pipe", partner="p"),
                read_uids(f"/dev/fd/{read_end}"),
                on_progress=lambda p: None,
            )
    finally:
        os.close(read_end)
    assert report.ok and report.accepted == len(uids) and sink.members["pipe"] == set(uids)
