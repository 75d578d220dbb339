"""Stream user IDs from a file without loading it: one uid a line, or one column of a CSV file.

Also the one format of a failed-uids file (:class:`FailedUidsWriter`): CSV with a ``uid`` header, read
back with ``read_uids(path, column="uid")``.

Example::

    from moengage_segments import read_uids

    report = await client.cohorts.add_members(cohort, read_uids("uids.txt"))
    report = await client.cohorts.add_members(cohort, read_uids("export.csv", column="user_id"))
"""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Callable, Iterable, Iterator

from moengage_segments.errors import ValidationError

__all__ = [
    "BLOCK_SIZE",
    "CHUNK_SIZE",
    "FAILED_REASON_COLUMN",
    "FAILED_UIDS_COLUMN",
    "FailedUidsWriter",
    "UidFile",
    "is_same_file",
    "line_chunks",
    "read_uids",
]

#: Bytes read at a time from a one-uid-a-line file.
BLOCK_SIZE = 1 << 20
#: Input items read (and validated) at a time by the cohort engine. Also fixes where batches are cut, which
#: resumable runs rely on: changing it makes old journals unusable (it is part of the journal header).
CHUNK_SIZE = 8192
#: The header (and only column) of a failed-uids file.
FAILED_UIDS_COLUMN = "uid"
#: The column of a failed-uids file saying why each uid was not accepted.
FAILED_REASON_COLUMN = "reason"


class UidFile:
    """A re-iterable stream of uids from a file (see :func:`read_uids`).

    Each iteration opens the file again, so the same object can be planned, then pushed, then resumed;
    a pipe or a device (``regular`` is False) can be read once only.
    ``block_size`` is how many bytes a one-uid-a-line file is read at a time (it changes nothing but
    memory use).

    Example::

        uids = read_uids("uids.txt")
        print(sum(1 for _ in uids))
    """

    def __init__(
        self, path: str | os.PathLike[str], column: str | int | None = None, *, block_size: int = BLOCK_SIZE
    ) -> None:
        self.path = os.fspath(path)
        self.column = column
        #: How many uids :meth:`count` found (None until it runs); the cohort engine's progress total.
        self.counted: int | None = None
        if isinstance(column, bool) or (column is not None and not isinstance(column, (str, int))):
            raise ValidationError("column", "must be a header name, a 0-based index or None")
        if isinstance(column, int) and column < 0:
            raise ValidationError("column", "index must be >= 0")
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValidationError("block_size", "must be a positive number of bytes")
        self.block_size = block_size
        # Checked now, so a typo fails where it is made rather than when a push starts reading.
        if os.path.isdir(self.path):
            raise ValidationError("path", f"{self.path!r} is a directory, not a uid file")
        if not os.path.exists(self.path):
            raise ValidationError("path", f"no such file: {self.path!r}")
        if not os.access(self.path, os.R_OK):
            raise ValidationError("path", f"{self.path!r} is not readable")
        #: False for a pipe or a device (``<(zcat uids.gz)``, ``/dev/stdin`` on a pipe): it can be read once
        #: only, so it is never counted ahead of a push and a second iteration finds it empty.
        self.regular = stat.S_ISREG(os.stat(self.path).st_mode)

    def __repr__(self) -> str:
        return f"read_uids({self.path!r}, column={self.column!r})"

    def __iter__(self) -> Iterator[str]:
        """Yield the uids one by one."""
        for chunk in self.iter_chunks():
            yield from chunk

    def count(self) -> int:
        """Read the file once and return how many uids it holds (remembered in ``counted``).

        A push given a counted file has a progress total, hence an ETA, from its first snapshot; an
        uncounted file is counted on the side while the push runs. A pipe or a device is refused with
        :class:`~moengage_segments.errors.ValidationError`: counting would consume what the push must read.

        Example::

            uids = read_uids("uids.txt")
            print(f"{uids.count():,} uids")
        """
        if not self.regular:
            raise ValidationError("path", f"{self.path!r} is a pipe or a device: it can be read once only, not counted")
        self.counted = sum(len(chunk) for chunk in self.iter_chunks())
        return self.counted

    def iter_chunks(self, size: int = CHUNK_SIZE) -> Iterator[list[str]]:
        """Yield the uids in non-empty lists (the cohort engine reads files this way).

        A CSV column comes in lists of ``size`` uids (the last may be shorter); a one-uid-a-line file comes
        in one list per block read (``block_size``, 1 MiB by default), whatever ``size``.

        Example::

            for chunk in read_uids("uids.txt").iter_chunks():
                print(len(chunk), chunk[0])
        """
        if self.column is None:
            with open(self.path, "rb") as f:
                yield from line_chunks(f.read, self.block_size)
        else:
            yield from self._csv_chunks(size)

    def _csv_chunks(self, size: int) -> Iterator[list[str]]:
        with open(self.path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
            reader = csv.reader(f)
            column = self.column
            if isinstance(column, str):
                header = next(reader, None)
                if header is None or column not in header:
                    raise ValidationError("column", f"{self.path}: no column named {column!r} in the header row")
                index = header.index(column)
            else:
                assert column is not None
                index = column
            chunk: list[str] = []
            try:
                for row in reader:
                    if not row:
                        continue  # a blank line is not a record
                    if index >= len(row):
                        where = f"{self.path}:{reader.line_num}"
                        raise ValidationError("column", f"{where}: row has {len(row)} fields, no column {index}")
                    chunk.append(row[index])
                    if len(chunk) >= size:
                        yield chunk
                        chunk = []
            except csv.Error as exc:  # e.g. a field longer than the csv module's limit
                raise ValidationError("path", f"{self.path}:{reader.line_num}: unreadable CSV row: {exc}") from None
            if chunk:
                yield chunk


def line_chunks(read: Callable[[int], bytes], block_size: int = BLOCK_SIZE) -> Iterator[list[str]]:
    r"""Split a byte stream into uids, one a line, and yield them in non-empty lists (one per block read).

    ``read(n)`` returns up to ``n`` bytes, and ``b""`` at the end (``file.read``, or ``os.read`` on a
    pipe). A line ends with ``\n``, ``\r\n`` or a lone ``\r``; blank lines are skipped; a UTF-8 byte-order
    mark at the start is dropped; nothing else is stripped. Bytes that are not UTF-8 become lone
    surrogates, which the cohort engine reports as invalid uids.

    Example::

        import io

        assert list(line_chunks(io.BytesIO(b"a\r\nb\rc\n").read)) == [["a", "b", "c"]]
    """
    # Binary blocks cut after their last line end, then decoded and split in C: no per-line Python work.
    # A cut never falls inside a multi-byte character (line ends are ASCII). A "\r\n" split between two
    # blocks leaves an empty line at the start of the next block, skipped like any blank line.
    rest = b""
    first = True
    while True:
        block = read(block_size)
        if not block:
            break
        block = rest + block
        # A "\r" is looked for after the last "\n" only: in an LF file it would be a vain scan of each block.
        newline = block.rfind(b"\n")
        cut = max(newline, block.rfind(b"\r", newline + 1)) + 1
        if cut == 0:
            rest = block
            continue
        rest = block[cut:]
        lines = _split(block[:cut], first)
        first = False
        if lines:
            yield lines
    if rest:
        lines = _split(rest, first)
        if lines:
            yield lines


def _split(block: bytes, first: bool) -> list[str]:
    text = block.decode("utf-8", "surrogateescape")
    if first and text.startswith("\ufeff"):
        text = text[1:]  # a UTF-8 byte-order mark is not part of the first uid
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if not lines[-1]:
        lines.pop()  # the line end the block was cut after: not a blank line, so no filtering pass for it
    if "" in lines:
        lines = [line for line in lines if line]  # blank lines are not uids
    return lines


class FailedUidsWriter:
    """Writes a failed-uids file: CSV (RFC 4180, UTF-8) with the columns ``uid`` and ``reason``.

    The csv module quotes every uid holding a comma, a quote or a line break, so any uid reads back
    unchanged with ``read_uids(path, column="uid")`` (``--column uid`` on the command line); ``reason``
    says why it was not accepted (``refused: HTTP 400 ...``, ``not sent: cancelled``). Opening the file
    empties it, so a file with the header alone means nothing failed.

    Example::

        writer = FailedUidsWriter("failed.csv")
        writer.write(["u1", "line\\nbreak"], "refused: HTTP 400")
        writer.close()
        assert list(read_uids("failed.csv", column="uid")) == ["u1", "line\\nbreak"]
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._file = open(self.path, "w", encoding="utf-8", errors="surrogateescape", newline="")  # noqa: SIM115
        # RFC 4180 line ends: the csv module then quotes any uid holding "\r" or "\n" (on every Python).
        self._csv = csv.writer(self._file)
        self._csv.writerow([FAILED_UIDS_COLUMN, FAILED_REASON_COLUMN])
        #: Rows written so far (the header not counted).
        self.written = 0

    def write(self, uids: Iterable[str], reason: str) -> None:
        """Append ``uids``, one row each, with the reason they were not accepted.

        Example::

            writer.write(["u1", 'quoted "u2"'], "not sent: cancelled")
        """
        rows = [[uid, reason] for uid in uids]
        self._csv.writerows(rows)
        self.written += len(rows)

    def close(self) -> None:
        """Flush and close the file. Idempotent.

        Example::

            writer.close()
        """
        self._file.close()


def is_same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when two paths name one file (through links and relative paths), existing or not.

    An output file (failed uids, a checkpoint, a report) that is also the input would be emptied or
    overwritten before, or while, the input is read.

    Example::

        assert is_same_file("uids.txt", "./uids.txt")
    """
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def read_uids(path: str | os.PathLike[str], column: str | int | None = None) -> UidFile:
    r"""Stream uids from ``path`` without loading the file.

    With ``column=None`` the file holds one uid a line (UTF-8; a line ends with ``\n``, ``\r\n`` or ``\r``;
    a byte-order mark is dropped; blank lines are skipped; nothing else is stripped). With ``column`` (a
    header name, or a 0-based index for files without a header row) it is a CSV file and the uids are that
    column's values (an empty cell is passed on, and reported as an invalid uid). A failed-uids file is
    read back with ``column="uid"``. A pipe given as a path (``/dev/fd/63`` from a shell's ``<(...)``) is read
    once: it is never counted ahead of the push. Bytes that are not UTF-8 give uids the engine reports as invalid
    instead of stopping the run. A missing, unreadable or directory path raises
    :class:`~moengage_segments.errors.ValidationError` (field ``path``) at once.

    Example::

        report = await client.cohorts.add_members(cohort, read_uids("export.csv", column="user_id"))
    """
    return UidFile(path, column)
