"""Stream user IDs from a file without loading it: one uid a line, or one column of a CSV file.

Example::

    from moengage_segments import read_uids

    report = await client.cohorts.add_members(cohort, read_uids("uids.txt"))
    report = await client.cohorts.add_members(cohort, read_uids("export.csv", column="user_id"))
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator

from moengage_segments.errors import ValidationError

__all__ = ["CHUNK_SIZE", "UidFile", "read_uids"]

_BLOCK = 1 << 20
#: Input items read (and validated) at a time by the cohort engine. Also fixes where batches are cut, which
#: resumable runs rely on: changing it makes old journals unusable (it is part of the journal header).
CHUNK_SIZE = 8192


class UidFile:
    """A re-iterable stream of uids from a file (see :func:`read_uids`).

    Each iteration opens the file again, so the same object can be planned, then pushed, then resumed.

    Example::

        uids = read_uids("uids.txt")
        print(sum(1 for _ in uids))
    """

    def __init__(self, path: str | os.PathLike[str], column: str | int | None = None) -> None:
        self.path = os.fspath(path)
        self.column = column
        if isinstance(column, bool) or (column is not None and not isinstance(column, (str, int))):
            raise ValidationError("column", "must be a header name, a 0-based index or None")
        if isinstance(column, int) and column < 0:
            raise ValidationError("column", "index must be >= 0")
        # Checked now, so a typo fails where it is made rather than when a push starts reading.
        if os.path.isdir(self.path):
            raise ValidationError("path", f"{self.path!r} is a directory, not a uid file")
        if not os.path.exists(self.path):
            raise ValidationError("path", f"no such file: {self.path!r}")
        if not os.access(self.path, os.R_OK):
            raise ValidationError("path", f"{self.path!r} is not readable")

    def __repr__(self) -> str:
        return f"read_uids({self.path!r}, column={self.column!r})"

    def __iter__(self) -> Iterator[str]:
        """Yield the uids one by one."""
        for chunk in self.iter_chunks():
            yield from chunk

    def iter_chunks(self, size: int = CHUNK_SIZE) -> Iterator[list[str]]:
        """Yield the uids in non-empty lists (the cohort engine reads files this way).

        A CSV column comes in lists of ``size`` uids (the last may be shorter); a one-uid-a-line file comes
        in one list per 1 MiB block read, whatever ``size``.

        Example::

            for chunk in read_uids("uids.txt").iter_chunks():
                print(len(chunk), chunk[0])
        """
        if self.column is None:
            yield from self._text_chunks()
        else:
            yield from self._csv_chunks(size)

    def _text_chunks(self) -> Iterator[list[str]]:
        # Binary blocks split at the last newline, then decoded and split in C: no per-line Python work.
        # Undecodable bytes become lone surrogates, which the engine reports as invalid uids.
        with open(self.path, "rb") as f:
            rest = b""
            first = True
            while True:
                block = f.read(_BLOCK)
                if not block:
                    break
                block = rest + block
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    rest = block
                    continue
                rest = block[cut:]
                lines = _split(block[: cut - 1], first)
                first = False
                if lines:
                    yield lines
            if rest:
                lines = _split(rest, first)
                if lines:
                    yield lines

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
            for number, row in enumerate(reader, start=2 if isinstance(column, str) else 1):
                if not row:
                    continue  # a blank line is not a record
                if index >= len(row):
                    where = f"{self.path}:{number}"
                    raise ValidationError("column", f"{where}: row has {len(row)} fields, no column {index}")
                chunk.append(row[index])
                if len(chunk) >= size:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk


def _split(block: bytes, first: bool) -> list[str]:
    text = block.decode("utf-8", "surrogateescape")
    if first and text.startswith("\ufeff"):
        text = text[1:]  # a UTF-8 byte-order mark is not part of the first uid
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if "" in lines:
        lines = [line for line in lines if line]  # blank lines are not uids
    return lines


def read_uids(path: str | os.PathLike[str], column: str | int | None = None) -> UidFile:
    """Stream uids from ``path`` without loading the file.

    With ``column=None`` the file holds one uid a line (UTF-8, ``\\n`` or ``\\r\\n``; blank lines are
    skipped; nothing else is stripped). With ``column`` (a header name, or a 0-based index for files
    without a header row) it is a CSV file and the uids are that column's values (an empty cell is
    passed on, and reported as an invalid uid). Bytes that are not UTF-8 give uids the engine reports
    as invalid instead of stopping the run. A missing, unreadable or directory path raises
    :class:`~moengage_segments.errors.ValidationError` (field ``path``) at once.

    Example::

        report = await client.cohorts.add_members(cohort, read_uids("export.csv", column="user_id"))
    """
    return UidFile(path, column)
