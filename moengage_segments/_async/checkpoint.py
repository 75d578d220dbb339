"""The journal of a resumable cohort push: which batches the service confirmed.

A journal is an append-only text file. The first line describes the run (action, cohort, packing
parameters); each further line confirms one batch: its index, the input position at which it was cut,
its member count and a digest of its body. Every line carries a CRC32 so a damaged file is detected
rather than trusted. Each line is written whole on an ``O_APPEND`` descriptor (a short write is
completed; a failed write, such as a full disk, cuts the torn line off again and fails the run at once with
:class:`CheckpointError`), so a process killed at any point leaves at most an unfinished last line, which
is ignored (that batch is simply sent again: cohort add/remove is idempotent). ``fsync`` runs at most once
a second and at the end, so a power loss can forget the last second of confirmations, which only means
re-sending them.

A run holds an exclusive lock on its journal (``flock``), so a second process (or a second run in the
same process) on the same checkpoint fails at once with :class:`CheckpointError` instead of sending the
same batches again.

Because batches are cut deterministically from the input (same input, same packing parameters, same
batches), a restarted run re-packs the input, checks each journaled batch's digest against the batch it
cuts at that index, and skips it. A different input or different parameters raise
:class:`CheckpointError` instead of silently skipping the wrong members.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
import sys
import time
import zlib
from collections.abc import Mapping
from typing import Any

from moengage_segments.errors import CheckpointError

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True


__all__ = ["JOURNAL_FORMAT", "CheckpointError", "Journal", "digest"]

JOURNAL_FORMAT = "moengage-segments/cohort-journal/1"
_FSYNC_INTERVAL = 1.0


def digest(body: bytes) -> str:
    """A short digest of one request body, as journaled.

    Example::

        assert len(digest(b"{}")) == 24
    """
    return hashlib.blake2b(body, digest_size=12).hexdigest()


def _line(record: Mapping[str, Any]) -> bytes:
    text = json.dumps(record, separators=(",", ":"), sort_keys=True)
    return f"{zlib.crc32(text.encode()):08x} {text}\n".encode()


def _parse(path: str, number: int, raw: bytes) -> dict[str, Any]:
    try:
        crc, _, text = raw.decode("utf-8").partition(" ")
        if int(crc, 16) != zlib.crc32(text.encode()):
            raise ValueError("checksum mismatch")
        record = json.loads(text)
        if not isinstance(record, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        raise CheckpointError(f"checkpoint journal {path!r} is damaged at line {number}: {exc}") from None
    return record


class Journal:
    """An open checkpoint journal. Use :meth:`open`; call :meth:`close` when the run ends.

    Example::

        journal = Journal.open("push.journal", {"action": "add_members", "cohort_id": "c1"})
        if not journal.is_confirmed(0, position, body_digest): ...
        journal.confirm(0, position, members, body_digest)
        journal.close()
    """

    def __init__(self, path: str, fd: int, confirmed: dict[int, tuple[int, int, str]], size: int) -> None:
        self.path = path
        self._fd: int | None = fd
        self._size = size  # bytes of whole lines in the file: where a failed write is cut back to
        #: index -> (position, members, digest) of every batch confirmed so far, this run included.
        self.confirmed = confirmed
        #: Indexes confirmed by earlier runs that this run has matched against its input.
        self.matched: set[int] = set()
        self._earlier = frozenset(confirmed)
        self._last_sync = time.monotonic()
        self._syncing = False

    @classmethod
    def open(cls, path: str | os.PathLike[str], header: Mapping[str, Any]) -> Journal:
        """Open (or create) the journal at ``path`` for a run described by ``header``.

        Raises :class:`CheckpointError` when the file is damaged or was written for another run.
        """
        path = os.fspath(path)
        # Locked before reading, so what is read is what this run appends to.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            if not _try_lock(fd):
                raise CheckpointError(
                    f"checkpoint journal {path!r} is in use by another run (it is locked); wait for that run "
                    "to end, or use another checkpoint path"
                )
            return cls._load(path, fd, header)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def _load(cls, path: str, fd: int, header: Mapping[str, Any]) -> Journal:
        expected = {"format": JOURNAL_FORMAT, **header}
        confirmed: dict[int, tuple[int, int, str]] = {}
        with open(fd, "rb", closefd=False) as f:
            data = f.read()
        keep = len(data)
        if data and not data.endswith(b"\n"):
            # A line cut short by a crash: never confirmed, so drop it (its batch will be re-sent).
            keep = data.rfind(b"\n") + 1
        header_line = _line(expected)
        if keep == 0 and data and not header_line.startswith(data):
            # No whole line, and not our header cut short either: some other file (a uid list without a
            # line break, say), which must not be emptied and overwritten.
            raise CheckpointError(f"{path!r} is not a cohort-sync checkpoint journal")
        lines = data[:keep].split(b"\n")[:-1] if keep else []
        if lines:
            found = _parse(path, 1, lines[0])
            if found.get("format") != JOURNAL_FORMAT:
                raise CheckpointError(f"{path!r} is not a cohort-sync checkpoint journal")
            for key, value in expected.items():
                if found.get(key) != value:
                    raise CheckpointError(
                        f"checkpoint journal {path!r} belongs to another run: {key} is {found.get(key)!r} there, "
                        f"{value!r} now (use a new checkpoint path for a different push)"
                    )
            for number, raw in enumerate(lines[1:], start=2):
                record = _parse(path, number, raw)
                try:
                    confirmed[int(record["i"])] = (int(record["p"]), int(record["n"]), str(record["d"]))
                except (KeyError, TypeError, ValueError):
                    raise CheckpointError(f"checkpoint journal {path!r} is damaged at line {number}") from None
        if keep != len(data):
            os.ftruncate(fd, keep)
        journal = cls(path, fd, confirmed, keep if lines else 0)
        if not lines:
            os.ftruncate(fd, 0)
            journal._append(header_line)
            os.fsync(fd)
        return journal

    def is_confirmed(self, index: int, position: int, body_digest: str) -> bool:
        """True when an earlier run confirmed this very batch; raises if it confirmed a different one."""
        if index not in self._earlier:
            return False
        was_position, _, was_digest = self.confirmed[index]
        if was_position != position or was_digest != body_digest:
            raise CheckpointError(
                f"the input differs from the run journaled in {self.path!r}: batch {index} (cut at input "
                f"position {position}) does not match the confirmed one (position {was_position}); resume "
                "with exactly the same input and settings, or use a new checkpoint path"
            )
        self.matched.add(index)
        return True

    def unmatched(self) -> list[int]:
        """Batches confirmed by earlier runs that this run's input never produced (input got shorter)."""
        return sorted(self._earlier - self.matched)

    def confirm(self, index: int, position: int, members: int, body_digest: str) -> None:
        """Record that the service accepted every member of batch ``index``."""
        if self._fd is None:
            return
        self._append(_line({"i": index, "p": position, "n": members, "d": body_digest}))
        self.confirmed[index] = (position, members, body_digest)
        now = time.monotonic()
        if not self._syncing and now - self._last_sync >= _FSYNC_INTERVAL:
            self._last_sync = now
            self._syncing = True
            # fsync off the event loop; the next one waits for this to finish.
            future = asyncio.get_running_loop().run_in_executor(None, os.fsync, self._fd)
            future.add_done_callback(self._synced)

    def _append(self, line: bytes) -> None:
        """Write ``line`` whole, or cut the file back to its last whole line and raise CheckpointError."""
        assert self._fd is not None
        done = 0
        try:
            while done < len(line):
                written = os.write(self._fd, line[done:])
                if written <= 0:
                    raise OSError(errno.EIO, "the write made no progress")
                done += written
        except OSError as exc:
            fd, self._fd = self._fd, None  # no further line may follow a torn one
            try:
                os.ftruncate(fd, self._size)
            except OSError:
                pass  # the reader ignores an unfinished last line anyway
            finally:
                os.close(fd)
            raise CheckpointError(
                f"cannot write to the checkpoint journal {self.path!r}: {exc.strerror or exc}; the run was "
                "stopped (batches sent but not journaled will be sent again on resume)"
            ) from exc
        self._size += done

    def _synced(self, future: asyncio.Future[None]) -> None:
        self._syncing = False
        if not future.cancelled():
            future.exception()  # an fsync error is retried at close, where it is raised

    def close(self) -> None:
        """Flush to disk and close. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
