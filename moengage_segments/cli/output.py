"""The output layer: what a command returns (data plus views), and two renderers that show it.

A command returns a :class:`Result`: ``data`` (what ``--json`` prints) and ``views`` (tables, key/value
blocks, lines) for people. :class:`Output` prints one or the other; the renderer decides how views look:

* :class:`RichRenderer`: tables and live progress bars, when ``rich`` is installed and both stdout and
  stderr are terminals;
* :class:`PlainRenderer`: aligned text and throttled progress lines everywhere else (pipes, cron, CI,
  ``--json``, ``--plain``).

Results go to stdout; progress, notes and errors go to stderr, so ``--json | jq`` always sees one document.

Example::

    out = make_output(json_mode=False)
    out.emit(Result(data={"id": "x"}, views=(Fields((("id", "x"),)),)))
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO

import attrs

from moengage_segments.cli.failures import ExitCode
from moengage_segments.cli.progress import PlainProgress, ProgressBar, RichProgress

__all__ = [
    "Fields",
    "Output",
    "PlainRenderer",
    "Renderer",
    "Result",
    "RichRenderer",
    "Table",
    "Text",
    "jsonable",
    "make_output",
    "rich_available",
]


@attrs.frozen
class Table:
    """Rows under column headings.

    Example::

        Table(("id", "name"), [("6388...", "vip")], title="segments")
    """

    columns: Sequence[str]
    rows: Sequence[Sequence[object]]
    title: str | None = None


@attrs.frozen
class Fields:
    """A block of ``name: value`` pairs.

    Example::

        Fields((("segment id", ack.segment_id), ("status", ack.status)), title="file create")
    """

    items: Sequence[tuple[str, object]]
    title: str | None = None


@attrs.frozen
class Text:
    """One line of text for people.

    Example::

        Text("archived 'summer-sale'")
    """

    text: str


View = Table | Fields | Text


@attrs.frozen
class Result:
    """What a command produced: ``data`` for ``--json``, ``views`` for people, and the exit code.

    Example::

        return Result(data=jsonable(ack), views=(Text("accepted"),))
    """

    data: Any
    views: Sequence[View] = ()
    exit_code: ExitCode = ExitCode.OK
    #: True when the command already printed everything (a server that reported on start).
    quiet: bool = False


def jsonable(value: Any) -> Any:
    """Turn SDK models (attrs classes, filter objects, datetimes) into plain JSON values.

    Example::

        json.dumps(jsonable(segment))
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    to_payload = getattr(value, "to_payload", None)
    if callable(to_payload):  # typed filter groups and filters
        return jsonable(to_payload())
    if attrs.has(type(value)):
        return {f.name: jsonable(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return str(value)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, _dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


class Renderer:
    """How views, notes, errors and progress look. Subclasses: plain text and rich.

    Example::

        renderer.render(Table(("a",), [(1,)]))
    """

    def __init__(self, stdout: TextIO, stderr: TextIO) -> None:
        self.stdout = stdout
        self.stderr = stderr

    def render(self, view: View) -> None:
        """Show one view on stdout."""
        raise NotImplementedError

    def note(self, text: str) -> None:
        """An informational line on stderr (kept out of stdout so pipes stay clean)."""
        raise NotImplementedError

    def error(self, text: str) -> None:
        """The one-line error on stderr."""
        raise NotImplementedError

    def progress(self, label: str, total: int | None, unit: str) -> ProgressBar:
        """A progress display on stderr; ``total=None`` for a wait of unknown length."""
        raise NotImplementedError


class PlainRenderer(Renderer):
    """Aligned plain text, for pipes, logs and ``--plain``.

    Example::

        PlainRenderer(sys.stdout, sys.stderr).render(Text("ok"))
    """

    def __init__(self, stdout: TextIO, stderr: TextIO, *, progress_interval: float = 2.0) -> None:
        super().__init__(stdout, stderr)
        self._interval = progress_interval

    def render(self, view: View) -> None:
        if isinstance(view, Text):
            self._print(view.text)
        elif isinstance(view, Fields):
            if view.title:
                self._print(view.title)
            width = max((len(name) for name, _ in view.items), default=0)
            for name, value in view.items:
                self._print(f"  {name.ljust(width)}  {_cell(value)}")
        else:
            self._table(view)

    def _table(self, table: Table) -> None:
        rows = [[_cell(c) for c in row] for row in table.rows]
        widths = [len(c) for c in table.columns]
        for row in rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        if table.title:
            self._print(table.title)
        self._print("  ".join(c.ljust(w) for c, w in zip(table.columns, widths, strict=True)).rstrip())
        for row in rows:
            self._print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())

    def note(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def error(self, text: str) -> None:
        self.note(f"error: {text}")

    def progress(self, label: str, total: int | None, unit: str) -> ProgressBar:
        return PlainProgress(self.stderr, label, total, unit, interval=self._interval)

    def _print(self, text: str) -> None:
        self.stdout.write(text + "\n")


class RichRenderer(Renderer):
    """Tables and live progress bars with ``rich`` (only used on a terminal).

    Example::

        RichRenderer(sys.stdout, sys.stderr).render(Table(("id", "name"), rows))
    """

    def __init__(self, stdout: TextIO, stderr: TextIO, *, force_terminal: bool | None = None) -> None:
        super().__init__(stdout, stderr)
        from rich.console import Console  # type: ignore[import-not-found, unused-ignore]  # optional extra

        # highlight=False: rich would otherwise colour numbers and ids inside our plain messages.
        self._out = Console(file=stdout, highlight=False, force_terminal=force_terminal)
        self._err = Console(file=stderr, highlight=False, force_terminal=force_terminal)

    def render(self, view: View) -> None:
        from rich.table import Table as RichTable  # type: ignore[import-not-found, unused-ignore]

        if isinstance(view, Text):
            self._out.print(view.text, markup=False)
            return
        if isinstance(view, Fields):
            grid = RichTable.grid(padding=(0, 2))
            grid.add_column(style="bold")
            grid.add_column()
            for name, value in view.items:
                grid.add_row(name, _cell(value))
            if view.title:
                self._out.print(view.title, style="bold underline", markup=False)
            self._out.print(grid)
            return
        table = RichTable(title=view.title)
        for column in view.columns:
            table.add_column(column)
        for row in view.rows:
            table.add_row(*(_cell(c) for c in row))
        self._out.print(table)

    def note(self, text: str) -> None:
        self._err.print(text, markup=False, style="dim")

    def error(self, text: str) -> None:
        self._err.print(f"error: {text}", markup=False, style="bold red")

    def progress(self, label: str, total: int | None, unit: str) -> ProgressBar:
        return RichProgress(self._err, label, total, unit)


def rich_available() -> bool:
    """True when the optional ``rich`` package can be imported (``pip install 'moengage-segments[cli]'``).

    Example::

        if not rich_available(): print("plain output")
    """
    try:
        import rich  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


class Output:
    """The one object commands print through.

    Example::

        with out.progress("pushing", total=n, unit="uids") as bar:
            bar.update(done)
        out.emit(result)
    """

    def __init__(self, renderer: Renderer, *, json_mode: bool) -> None:
        self.renderer = renderer
        self.json_mode = json_mode

    def emit(self, result: Result) -> None:
        """Print a result: its JSON document with ``--json``, else its views."""
        if result.quiet:
            return
        if self.json_mode:
            self.print_json(result.data)
        else:
            for view in result.views:
                self.renderer.render(view)
        self.renderer.stdout.flush()

    def show(self, *views: View) -> None:
        """Show views now (for people only; ``--json`` prints just the final result)."""
        if not self.json_mode:
            for view in views:
                self.renderer.render(view)
            self.renderer.stdout.flush()

    def print_json(self, data: Any) -> None:
        """Print one JSON document on stdout."""
        self.renderer.stdout.write(json.dumps(jsonable(data), indent=2, ensure_ascii=False) + "\n")
        self.renderer.stdout.flush()

    def note(self, text: str) -> None:
        """An informational line on stderr."""
        self.renderer.note(text)

    def error(self, text: str) -> None:
        """The one-line error on stderr."""
        self.renderer.error(text)

    @contextlib.contextmanager
    def progress(self, label: str, total: int | None = None, unit: str = "") -> Iterator[ProgressBar]:
        """A progress display for the block; finished (left on screen) however the block ends."""
        bar = self.renderer.progress(label, total, unit)
        try:
            yield bar
        finally:
            bar.finish()


def make_output(
    *,
    json_mode: bool,
    plain: bool = False,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> Output:
    """Pick the renderer once: rich on a real terminal when installed, plain text otherwise.

    Example::

        out = make_output(json_mode=args.json, plain=args.plain)
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    fancy = (
        not json_mode
        and not plain
        and os.environ.get("TERM") != "dumb"
        and stdout.isatty()
        and stderr.isatty()
        and rich_available()
    )
    renderer: Renderer = RichRenderer(stdout, stderr) if fancy else PlainRenderer(stdout, stderr)
    return Output(renderer, json_mode=json_mode)
