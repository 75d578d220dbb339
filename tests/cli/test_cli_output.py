"""The output layer in-process: renderer choice, plain and rich rendering, progress throttling, redaction."""

from __future__ import annotations

import io
import json

import pytest

from moengage_segments.cli import ExitCode, main
from moengage_segments.cli.failures import describe
from moengage_segments.cli.output import (
    Fields,
    Output,
    PlainRenderer,
    Result,
    RichRenderer,
    Table,
    Text,
    make_output,
    rich_available,
)
from moengage_segments.cli.progress import PlainProgress
from moengage_segments.cli.redact import RedactingStream, Redactor
from moengage_segments.errors import ConflictError, RateLimitError, ValidationError


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_renderer_when_not_a_terminal_or_json_or_plain() -> None:
    assert isinstance(make_output(json_mode=False, stdout=io.StringIO(), stderr=io.StringIO()).renderer, PlainRenderer)
    assert isinstance(make_output(json_mode=True, stdout=_Tty(), stderr=_Tty()).renderer, PlainRenderer)
    assert isinstance(make_output(json_mode=False, plain=True, stdout=_Tty(), stderr=_Tty()).renderer, PlainRenderer)


@pytest.mark.skipif(not rich_available(), reason="rich not installed")
def test_rich_renderer_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    out, err = _Tty(), _Tty()
    output = make_output(json_mode=False, stdout=out, stderr=err)
    assert isinstance(output.renderer, RichRenderer)
    output.emit(
        Result(
            data=None,
            views=(Table(("id", "name"), [("abc", "vip")], title="segments"), Fields((("users", 1234),)), Text("done")),
        )
    )
    text = out.getvalue()
    assert "segments" in text and "vip" in text and "1,234" in text and "done" in text
    with output.progress("pushing", total=10, unit="uids") as bar:
        bar.update(5, detail="2 requests")
    assert "pushing" in err.getvalue()


def test_plain_table_and_fields_are_aligned() -> None:
    out = io.StringIO()
    renderer = PlainRenderer(out, io.StringIO())
    renderer.render(Table(("id", "name"), [("a", "long-name"), ("bbbb", None)]))
    renderer.render(Fields((("x", 1), ("longer", 2.5)), title="t"))
    assert out.getvalue().splitlines() == [
        "id    name",
        "a     long-name",
        "bbbb  -",
        "t",
        "  x       1",
        "  longer  2.50",
    ]


def test_json_mode_prints_only_the_data() -> None:
    out = io.StringIO()
    output = Output(PlainRenderer(out, io.StringIO()), json_mode=True)
    output.show(Text("not in json"))
    output.emit(Result(data={"a": 1}, views=(Text("nope"),)))
    assert json.loads(out.getvalue()) == {"a": 1}


def test_plain_progress_is_throttled() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = PlainProgress(stream, "push", total=100, unit="uids", interval=2.0, clock=lambda: now[0])
    for done in range(0, 101, 10):
        bar.update(done, detail=f"{done} r")
        now[0] += 0.5
    bar.finish()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "push: 0/100 uids (0%), 0 r"
    assert lines[-1] == "push: 100/100 uids (100%), 100 r"
    assert len(lines) == 4  # t=0, 2, 4 and the final line, not one per update


def test_plain_progress_for_a_wait() -> None:
    stream = io.StringIO()
    bar = PlainProgress(stream, "waiting", total=None, unit="")
    bar.finish("status 201")
    assert stream.getvalue().splitlines() == ["waiting...", "waiting: status 201"]


def test_redactor_masks_longest_first_and_ignores_tiny_values() -> None:
    redactor = Redactor()
    redactor.add("abc")  # too short to be a key: not masked
    redactor.add("secret-key")
    redactor.add("secret-key-2")
    stream = io.StringIO()
    RedactingStream(stream, redactor).write("abc secret-key-2 secret-key")
    assert stream.getvalue() == "abc *** ***"


def test_describe_maps_exceptions_to_exit_codes() -> None:
    assert describe(ValidationError("name", "bad"))[0] == ExitCode.USAGE
    assert describe(ConflictError(409, code="Conflict", message="exists"))[0] == ExitCode.API_ERROR
    code, line = describe(RateLimitError(429, message="slow\ndown"))
    assert code == ExitCode.API_ERROR and "\n" not in line and "rate limited" in line
    assert describe(FileNotFoundError(2, "No such file or directory", "x.txt"))[0] == ExitCode.USAGE
    assert describe(RuntimeError("boom"))[1].startswith("unexpected RuntimeError")


def test_main_in_process_restores_stdio_and_returns_codes(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    before = sys.stdout, sys.stderr
    assert main(["--help"]) == 0
    assert main(["segments", "nope"]) == 2
    assert (sys.stdout, sys.stderr) == before
    assert "invalid choice" in capsys.readouterr().err


def test_failed_batch_table_truncates_long_errors_in_plain_output() -> None:
    from moengage_segments.cli.cohort import MAX_ERROR_WIDTH, report_views
    from moengage_segments.models.reports import BatchRecord, CohortSyncReport

    long_error = "HTTP 400: " + "the service explained at length " * 20
    report = CohortSyncReport(
        action="add_members",
        cohort_id="c",
        submitted=10,
        accepted=5,
        failed=5,
        invalid=0,
        duplicates=0,
        not_sent=0,
        skipped=0,
        requests=2,
        bytes=100,
        retries=0,
        elapsed=1.0,
        batches=(
            BatchRecord(index=0, members=5, bytes=50, status="failed", failed=5, error=long_error, request_id="req-1"),
        ),
    )
    out = io.StringIO()
    renderer = PlainRenderer(out, io.StringIO())
    for view in report_views(report):
        renderer.render(view)
    row = next(line for line in out.getvalue().splitlines() if "req-1" in line)
    assert "HTTP 400: the service explained" in row and "..." in row
    assert len(row) < MAX_ERROR_WIDTH + 40
    assert report.to_dict()["batches"][0]["error"] == long_error  # --json and --report keep it whole


def test_plain_progress_finish_with_final_counts() -> None:
    stream = io.StringIO()
    bar = PlainProgress(stream, "push", total=100, unit="uids", interval=60.0, clock=lambda: 0.0)
    bar.update(10, detail="1 requests, 1 in flight")
    bar.update(40, detail="4 requests")  # throttled: not printed
    bar.finish("5 requests, interrupted", completed=50)
    assert stream.getvalue().splitlines() == [
        "push: 10/100 uids (10%), 1 requests, 1 in flight",
        "push: 50/100 uids (50%), 5 requests, interrupted",
    ]
    unknown = io.StringIO()
    PlainProgress(unknown, "push", total=None, unit="uids").finish("done", completed=7)
    assert unknown.getvalue().splitlines() == ["push...", "push: 7 uids, done"]
