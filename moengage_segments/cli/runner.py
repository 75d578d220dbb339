"""``main``: parse, run one command on an event loop, print its result, map failures to exit codes.

Everything printed goes through redacting streams (the API key is masked wherever it would appear), and
Ctrl-C cancels the running command instead of killing it, so a cohort push can say what was sent.

Example::

    sys.exit(main(["segments", "list", "--json"]))
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence

from moengage_segments.cli.args import parse_args
from moengage_segments.cli.commands import COMMANDS, Command
from moengage_segments.cli.context import Context
from moengage_segments.cli.failures import ExitCode, describe, error_document
from moengage_segments.cli.output import Output, Result, make_output
from moengage_segments.cli.redact import Redactor, redacted_stdio
from moengage_segments.config import ENV_API_KEY

__all__ = ["main"]


def _command(key: tuple[str, ...]) -> Command:
    # Imported on demand: the emulator and the demo pull in modules a plain API call never needs.
    if key[:2] == ("cohort", "sync"):
        from moengage_segments.cli.cohort_ledger import cohort_sync

        return cohort_sync
    if key[:2] == ("cohort", "ledger"):
        from moengage_segments.cli.cohort_ledger import ledger_command

        return ledger_command
    if key[0] == "cohort":
        from moengage_segments.cli.cohort import cohort_push

        return cohort_push
    if key == ("emulator",):
        from moengage_segments.cli.emulator import serve_emulator

        return serve_emulator
    if key == ("demo",):
        from moengage_segments.cli.demo import run_demo

        return run_demo
    return COMMANDS[key]


def _keys_in_argv(argv: Sequence[str]) -> Iterator[str]:
    """API keys given on the command line, found before parsing so even a parse error cannot echo one."""
    for i, arg in enumerate(argv):
        if arg == "--api-key" and i + 1 < len(argv):
            yield argv[i + 1]
        elif arg.startswith("--api-key="):
            yield arg.split("=", 1)[1]


@contextlib.contextmanager
def _logging(debug: bool) -> Iterator[None]:
    """SDK log records to stderr: everything with --debug, warnings and errors otherwise."""
    logger = logging.getLogger("moengage_segments")
    handler = logging.StreamHandler(sys.stderr)  # the redacting stream
    if debug:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


async def _run_cancellable(command: Command, ctx: Context) -> Result:
    """Run the command as a task that the first Ctrl-C (or SIGTERM) cancels; a second one aborts at once.

    SIGTERM (``kill``, a service manager, a container stopping) is handled like Ctrl-C, so the emulator
    shuts down cleanly and a cohort push still says what was sent.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    presses = 0

    def on_signal(what: str) -> None:
        nonlocal presses
        presses += 1
        if presses > 1:
            raise KeyboardInterrupt
        task.cancel()  # first: a note that cannot be written (stderr's reader gone) must not keep us running
        with contextlib.suppress(OSError):
            ctx.out.note(f"{what}: stopping (Ctrl-C again to abort at once)")

    installed = []
    for signum, what in ((signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated")):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # Windows, non-main thread
            loop.add_signal_handler(signum, on_signal, what)
            installed.append(signum)
    try:
        return await command(ctx)
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def _fail(out: Output, exc: BaseException, debug: bool) -> int:
    code, line = describe(exc)
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    out.error(line)
    if out.json_mode:
        out.print_json(error_document(exc, code, line))
    return int(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``moengage-segments`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Example::

        code = main(["cohort", "add", "uids.txt", "--cohort-id", "c1", "--partner", "crm", "--dry-run"])
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with redacted_stdio() as redactor:
            redactor.add(os.environ.get(ENV_API_KEY))
            for key in _keys_in_argv(argv):
                redactor.add(key)
            return _main(argv, redactor)
    except BrokenPipeError:
        # `moengage-segments segments list | head`: the reader is gone, so stop quietly as other command-line
        # tools do, instead of a traceback. Standard output now goes nowhere, so that the interpreter's
        # final flush of what is still buffered cannot fail again.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return int(ExitCode.BROKEN_PIPE)


def _main(argv: list[str], redactor: Redactor) -> int:
    # Until the arguments are parsed, guess the output mode from argv so usage errors honour --json.
    out = make_output(json_mode="--json" in argv, plain=True)
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # --help exits through argparse (errors raise UsageError instead)
        return exc.code if isinstance(exc.code, int) else 0
    except Exception as exc:
        return _fail(out, exc, "--debug" in argv)
    out = make_output(json_mode=args.json, plain=args.plain)
    ctx = Context(args, out, redactor)
    with _logging(args.debug):
        try:
            result = asyncio.run(_run_cancellable(_command(args.command), ctx))
        except (KeyboardInterrupt, asyncio.CancelledError):
            out.error("interrupted")
            return int(ExitCode.INTERRUPTED)
        except Exception as exc:
            return _fail(out, exc, args.debug)
    out.emit(result)
    return int(result.exit_code)
