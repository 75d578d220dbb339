"""Progress reporting for long work: a live rich bar on a terminal, throttled plain lines elsewhere.

Both renderers hand out objects with the same two methods, so commands never ask which one they have.

Example::

    with renderer.progress("cohort add", total=200_000, unit="uids") as bar:
        bar.update(50_000, detail="12 requests")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

__all__ = ["PlainProgress", "ProgressBar", "RichProgress"]


class ProgressBar(Protocol):
    """What a command may do with a progress display.

    Example::

        bar.update(done, total=total, detail="3 in flight")
    """

    def update(self, completed: int, *, total: int | None = None, detail: str = "") -> None:
        """Set the amount done (not an increment), optionally the total and a short detail text."""

    def finish(self, detail: str = "", *, completed: int | None = None) -> None:
        """Show the final state (``completed``: the final amount done); only the first call counts."""


def _count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


class PlainProgress:
    """Progress as plain lines on a stream: the first update, then at most one line per ``interval``.

    Logs of cron jobs and CI stay short: a 200,000-uid push writes a handful of lines, not thousands.

    Example::

        bar = PlainProgress(sys.stderr, "cohort add", total=1000, unit="uids")
        bar.update(500)   # "cohort add: 500/1,000 uids (50%)"
        bar.finish()
    """

    def __init__(
        self,
        stream: TextIO,
        label: str,
        total: int | None,
        unit: str,
        *,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._label = label
        self._total = total
        self._unit = unit
        self._interval = interval
        self._clock = clock
        self._completed = 0
        self._detail = ""
        self._last: float | None = None
        self._finished = False
        if total is None:
            self._write(f"{label}...")

    def update(self, completed: int, *, total: int | None = None, detail: str = "") -> None:
        """Record progress; prints when ``interval`` has passed since the last line."""
        self._completed = completed
        if total is not None:
            self._total = total
        self._detail = detail
        now = self._clock()
        if self._last is None or now - self._last >= self._interval:
            self._last = now
            self._write(self._line())

    def finish(self, detail: str = "", *, completed: int | None = None) -> None:
        """Print the final line (once), with ``completed`` as the final amount when given."""
        if self._finished:
            return
        self._finished = True
        if detail:
            self._detail = detail
        if completed is not None:
            self._completed = completed
        if self._total is None and self._last is None and completed is None:  # a wait: say how it ended
            self._write(f"{self._label}: {self._detail or 'done'}")
        else:
            self._write(self._line())

    def _line(self) -> str:
        text = f"{self._label}: {_count(self._completed)}"
        if self._total is not None:
            text += f"/{_count(self._total)} {self._unit}"
            if self._total:
                text += f" ({100 * self._completed // self._total}%)"
        else:
            text += f" {self._unit}"
        return f"{text}, {self._detail}" if self._detail else text

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


class RichProgress:
    """A live ``rich`` progress bar (a spinner and elapsed time when the total is unknown).

    Example::

        bar = RichProgress(console, "waiting for callback", total=None, unit="")
        bar.finish("201: 3 users")
    """

    def __init__(self, console: Any, label: str, total: int | None, unit: str) -> None:
        from rich.progress import (  # type: ignore[import-not-found, unused-ignore]  # optional extra
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        columns: list[Any] = [SpinnerColumn(), TextColumn("[bold]{task.description}")]
        if total is not None:
            # No rich TimeRemainingColumn: its speed-based guess ignores rate limits; commands put an
            # honest ETA in the detail text instead.
            columns += [BarColumn(), MofNCompleteColumn(), TextColumn(unit), TaskProgressColumn()]
        columns += [TimeElapsedColumn(), TextColumn("{task.fields[detail]}")]
        self._progress = Progress(*columns, console=console, transient=False)
        self._task = self._progress.add_task(label, total=total, detail="")
        self._progress.start()
        self._finished = False

    def update(self, completed: int, *, total: int | None = None, detail: str = "") -> None:
        """Move the bar (thread-safe: rich guards its state with a lock)."""
        if total is not None:
            self._progress.update(self._task, total=total)
        self._progress.update(self._task, completed=completed, detail=detail)

    def finish(self, detail: str = "", *, completed: int | None = None) -> None:
        """Stop the live display, leaving the final bar on screen."""
        if self._finished:
            return
        self._finished = True
        if detail:
            self._progress.update(self._task, detail=detail)
        if completed is not None:
            self._progress.update(self._task, completed=completed)
        self._progress.stop()
