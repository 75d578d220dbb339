"""The argument parser: every subcommand, its options, and the options all of them share.

argparse (standard library) keeps the command dependency-free; see ``docs/cli.md`` for why.

Example::

    args = build_parser().parse_args(["segments", "list", "--json"])
    assert args.command == ("segments", "list") and args.json
"""

from __future__ import annotations

import argparse
import ast
import difflib
import re
from collections.abc import Sequence
from typing import Any, NoReturn

from moengage_segments._async.cohort_delta import DEFAULT_REFRESH_AFTER, MAX_COHORT_MEMBERS
from moengage_segments._async.streaming import DEFAULT_LINGER
from moengage_segments.cli.failures import UsageError
from moengage_segments.config import (
    DEFAULT_MAX_REQUEST_BYTES,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_DATA_CENTER,
    ENV_DB_NAME,
    ENV_QUOTA_URL,
    ENV_WORKSPACE_ID,
)

__all__ = ["COMMON_DEFAULTS", "build_parser", "parse_args", "shown"]

PROG = "moengage-segments"

#: Values of the shared options when given nowhere (they may appear before or after the subcommand).
COMMON_DEFAULTS: dict[str, Any] = {
    "workspace_id": None,
    "api_key": None,
    "data_center": None,
    "base_url": None,
    "db_name": None,
    "timeout": 30.0,
    "allow_insecure_http": False,
    "quota": None,
    "json": False,
    "plain": False,
    "debug": False,
}


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises :class:`UsageError` instead of exiting, so ``main`` owns exit codes."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{_scrub(message)} (see '{self.prog} --help')")


#: Longest argument a usage error repeats; an API key is longer, so a misplaced key is never printed.
_MAX_SHOWN = 12
_INVALID_CHOICE = re.compile(r"invalid choice: ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")
_UNRECOGNIZED = "unrecognized arguments: "


def shown(text: str) -> str:
    """``text`` quoted when it is short enough to be a typo, else only its length (it may be a secret).

    Example::

        shown("segmnts")                  # "'segmnts'"
        shown("sk-live-Zq8p7XwSecretKey")  # 'a value of 24 characters (not shown)'
    """
    return repr(text) if len(text) <= _MAX_SHOWN else f"a value of {len(text)} characters (not shown)"


def _scrub(message: str) -> str:
    """argparse's message without the values it would repeat: ``--apikey KEY`` must not print the key.

    Options are named (without an ``=value``); the value after an unknown option is never shown, and other
    arguments only when short (see :func:`shown`).
    """
    if message.startswith(_UNRECOGNIZED):
        parts, after_option = [], False
        for token in message[len(_UNRECOGNIZED) :].split(" "):
            if token.startswith("-"):
                parts.append(token.split("=", 1)[0] + (" (value not shown)" if "=" in token else ""))
                after_option = "=" not in token
            elif after_option:
                parts.append("(its value, not shown)")
                after_option = False
            else:
                parts.append(shown(token))
        return _UNRECOGNIZED + " ".join(parts)
    return _INVALID_CHOICE.sub(lambda m: f"invalid choice: {shown(ast.literal_eval(m.group(1)))}", message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {shown(text)}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {shown(text)}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {shown(text)}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


#: The connection flags (dest names), in help order.
CONNECTION = (
    "workspace_id",
    "api_key",
    "data_center",
    "base_url",
    "db_name",
    "timeout",
    "allow_insecure_http",
    "quota",
)
#: Connection flags a command uses, where it is not all of them: the demo runs its own emulator, and the
#: emulator only takes the credentials it should accept. Others are neither offered nor accepted there.
USES_CONNECTION: dict[tuple[str, ...], tuple[str, ...]] = {
    ("demo",): (),
    ("emulator",): ("workspace_id", "api_key", "db_name"),
}


def _common(suppress: bool, connection: Sequence[str] = CONNECTION) -> argparse.ArgumentParser:
    """The shared options. On subcommands their default is SUPPRESS, so a value given before the
    subcommand is not overwritten by the subcommand's default. ``connection``: the connection flags to offer."""
    default: Any = argparse.SUPPRESS if suppress else None
    parent = _Parser(add_help=False)
    flags: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
        "workspace_id": (("--workspace-id",), {"metavar": "ID", "help": f"workspace ID (env {ENV_WORKSPACE_ID})"}),
        "api_key": (
            ("--api-key",),
            {
                "metavar": "KEY",
                "help": f"API key (env {ENV_API_KEY}; prefer the environment: flags show in the process list)",
            },
        ),
        "data_center": (("--data-center",), {"metavar": "DC", "help": f"01-06 or 101 (env {ENV_DATA_CENTER})"}),
        "base_url": (
            ("--base-url",),
            {"metavar": "URL", "help": f"API base URL, e.g. an emulator (env {ENV_BASE_URL})"},
        ),
        "db_name": (("--db-name",), {"metavar": "NAME", "help": f"MOE-DBNAME for v2 calls (env {ENV_DB_NAME})"}),
        "timeout": (
            ("--timeout",),
            {"type": _positive_float, "metavar": "SECONDS", "help": "per-request timeout (default 30)"},
        ),
        "allow_insecure_http": (
            ("--allow-insecure-http",),
            {
                "action": "store_true",
                "help": "allow a plain-http --base-url that is not loopback (the API key travels unencrypted)",
            },
        ),
        "quota": (
            ("--quota",),
            {
                "metavar": "URL",
                "help": "share the workspace's rate limits with other pushers: sqlite:///path/quota.db (this host) "
                f"or redis://host:6379/0 (every host) (env {ENV_QUOTA_URL}; default: this process only)",
            },
        ),
    }
    if connection:
        creds = parent.add_argument_group("connection (flags win over the environment)")
        for dest in connection:
            names, options = flags[dest]
            creds.add_argument(*names, default=default, **options)
    out = parent.add_argument_group("output")
    out.add_argument("--json", action="store_true", default=default, help="print one JSON document on stdout")
    out.add_argument("--plain", action="store_true", default=default, help="plain lines even on a terminal")
    out.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="DEBUG logging and full tracebacks (the API key stays masked)",
    )
    return parent


def _target_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="segment name (or give --id)")
    parser.add_argument("--id", dest="segment_id", metavar="SEGMENT_ID", help="24-hex segment id")


def _file_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file-url", required=True, metavar="URL", help="URL of the one-column CSV file")
    parser.add_argument(
        "--attribute-name",
        default="ID",
        metavar="ATTR",
        help="user attribute the file's values match (default ID, the MoEngage user id)",
    )
    parser.add_argument("--attribute-type", choices=("string", "double"), default="string")
    parser.add_argument(
        "--email",
        dest="emails",
        action="append",
        metavar="ADDRESS",
        help="notify this address when processing ends (repeatable)",
    )
    wait = parser.add_argument_group("processing result")
    wait.add_argument("--callback-url", metavar="URL", help="where MoEngage POSTs the processing result")
    wait.add_argument(
        "--wait", action="store_true", help="receive the callback here and wait for it (exit 1 if processing failed)"
    )
    wait.add_argument(
        "--listen",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="with --wait: address of the callback receiver (default 127.0.0.1, any free port)",
    )
    wait.add_argument(
        "--public-url",
        metavar="URL",
        help="with --wait: your HTTPS URL that forwards to --listen (sent as callback_url)",
    )
    wait.add_argument(
        "--callback-token",
        metavar="TOKEN",
        help="with --wait: the token the callback URL carries; callbacks without it get 403 "
        "(default: a new random token each run)",
    )
    wait.add_argument(
        "--wait-timeout",
        type=_positive_float,
        default=600.0,
        metavar="SECONDS",
        help="with --wait: give up after this long (default 600)",
    )


def _cohort_input_args(parser: argparse.ArgumentParser, input_help: str) -> None:
    """The input file and the cohort it goes to: the same flags for add, remove and sync."""
    parser.add_argument("input", metavar="FILE", help=input_help)
    parser.add_argument("--column", metavar="NAME|INDEX", help="read this CSV column (a header name or 0-based index)")
    parser.add_argument("--cohort-id", required=True, metavar="ID", help="cohort id (parameters.cohort_id)")
    parser.add_argument("--cohort-name", metavar="NAME", help="cohort name (default: the cohort id)")
    parser.add_argument("--partner", required=True, help="partner name (the syncing system)")
    parser.add_argument("--description", help="cohort description")


def _cohort_args(parser: argparse.ArgumentParser) -> None:
    _cohort_input_args(parser, "uids, one a line (or a CSV with --column); '-' for stdin")
    parser.add_argument("--dry-run", action="store_true", help="count, validate and pack; send nothing")
    parser.add_argument("--checkpoint", metavar="FILE", help="journal confirmed batches here; rerun to resume")
    parser.add_argument("--report", metavar="FILE", help="write the full JSON report here")
    parser.add_argument(
        "--failed-uids",
        metavar="FILE",
        help="write the uids that were not accepted here (CSV with a 'uid' column: push again with --column uid)",
    )
    parser.add_argument("--max-in-flight", type=_positive_int, metavar="N", help="concurrent requests")
    parser.add_argument(
        "--max-request-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_REQUEST_BYTES,
        metavar="N",
        help=f"request body budget, envelope included (default {DEFAULT_MAX_REQUEST_BYTES})",
    )
    parser.add_argument(
        "--linger",
        type=_seconds,
        default=DEFAULT_LINGER,
        metavar="SECONDS",
        help=f"a slow stdin: send what has arrived once the input has been idle this long (default {DEFAULT_LINGER:g}; "
        "not with --checkpoint, whose batches must be cut the same on every run)",
    )


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {shown(text)}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _ledger_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger",
        required=True,
        metavar="PATH|URL",
        help="where confirmed membership is kept: a SQLite file (created on first use) or a postgresql:// URL",
    )


def _sync_args(parser: argparse.ArgumentParser) -> None:
    _cohort_input_args(parser, "the desired members, one a line (or --column); '-' for stdin")
    _ledger_arg(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="compute the diff, requests and least time; send nothing"
    )
    parser.add_argument("--full-refresh", action="store_true", help="re-send the whole list (and remove leavers)")
    parser.add_argument(
        "--refresh-after-days",
        type=_non_negative_int,
        default=DEFAULT_REFRESH_AFTER.days,
        metavar="DAYS",
        help=f"make a sync full when the last full one is older (default {DEFAULT_REFRESH_AFTER.days}; 0 = never)",
    )
    parser.add_argument(
        "--max-members",
        type=_non_negative_int,
        default=MAX_COHORT_MEMBERS,
        metavar="N",
        help=f"refuse a list with more distinct uids (default {MAX_COHORT_MEMBERS:,}, where MoEngage stops "
        "updating a cohort; 0 = no limit)",
    )
    parser.add_argument(
        "--lock-timeout",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another sync of the cohort to finish (default 0: fail at once, naming it)",
    )
    parser.add_argument("--report", metavar="FILE", help="write the full JSON report here")
    parser.add_argument("--max-in-flight", type=_positive_int, metavar="N", help="concurrent requests")
    parser.add_argument(
        "--max-request-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_REQUEST_BYTES,
        metavar="N",
        help=f"request body budget, envelope included (default {DEFAULT_MAX_REQUEST_BYTES})",
    )


def build_parser() -> argparse.ArgumentParser:
    """The full parser. Each leaf sets ``command`` to a tuple such as ``("cohort", "add")``.

    Example::

        build_parser().print_help()
    """
    common = _common(suppress=True)
    only = {command: _common(suppress=True, connection=uses) for command, uses in USES_CONNECTION.items()}
    parser = _Parser(
        prog=PROG,
        parents=[_common(suppress=False)],
        description="Command line for the MoEngage Segments API (and its local emulator).",
        epilog="Exit codes: 0 ok, 1 API error, 2 usage error, 3 partial cohort push, 130 interrupted. "
        "Try 'moengage-segments demo'.",
    )
    groups = parser.add_subparsers(dest="group", metavar="COMMAND", required=True, parser_class=_Parser)

    def leaf(sub: Any, name: str, help_text: str, command: tuple[str, ...]) -> argparse.ArgumentParser:
        parents = [only.get(command, common)]
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text, parents=parents)
        p.set_defaults(command=command)
        return p

    file_group = groups.add_parser("file", help="file segments: create, add, remove, replace users from a CSV URL")
    file_sub = file_group.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    p = leaf(file_sub, "create", "create a file segment from a CSV URL", ("file", "create"))
    p.add_argument("name", help="segment name")
    p.add_argument(
        "--expiry-days",
        type=_positive_int,
        required=True,
        metavar="DAYS",
        help="archive the segment after this many days",
    )
    _file_args(p)
    for action, text in (
        ("add", "add the users in a CSV URL to a file segment"),
        ("remove", "remove the users in a CSV URL from a file segment"),
        ("replace", "replace all users of a file segment by those in a CSV URL"),
    ):
        p = leaf(file_sub, action, text, ("file", action))
        _target_args(p)
        _file_args(p)

    seg = groups.add_parser("segments", help="any segment: list, find, get, archive, unarchive")
    seg_sub = seg.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    p = leaf(seg_sub, "list", "list segments", ("segments", "list"))
    p.add_argument("--name", help="only the segment with exactly this name")
    p = leaf(seg_sub, "find", "find the segment with exactly this name (exit 1 if none)", ("segments", "find"))
    p.add_argument("name")
    p = leaf(seg_sub, "get", "show a segment by id", ("segments", "get"))
    p.add_argument("segment_id", metavar="SEGMENT_ID")
    for action in ("archive", "unarchive"):
        p = leaf(seg_sub, action, f"{action} a segment", ("segments", action))
        _target_args(p)

    flt = groups.add_parser("filter", help="filter segments: create, update from a JSON definition")
    flt_sub = flt.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    definition_help = (
        'JSON file: {"included_filters": {...}, "excluded_filters": {...}} or just the included group; \'-\' for stdin'
    )
    p = leaf(flt_sub, "create", "create a filter segment", ("filter", "create"))
    p.add_argument("name")
    p.add_argument("--definition", required=True, metavar="FILE", help=definition_help)
    p = leaf(flt_sub, "update", "replace a filter segment's definition", ("filter", "update"))
    p.add_argument("segment_id", metavar="SEGMENT_ID")
    p.add_argument("--definition", required=True, metavar="FILE", help=definition_help)
    p.add_argument("--name", help="rename the segment too")
    p.add_argument("--updated-by", metavar="EMAIL", help="e-mail recorded as the updater")

    coh = groups.add_parser("cohort", help="cohort sync: add, remove or sync members from a file or stdin")
    coh_sub = coh.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    for action in ("add", "remove"):
        p = leaf(
            coh_sub, action, f"{action} cohort members (any number; batched, paced, resumable)", ("cohort", action)
        )
        _cohort_args(p)
    p = leaf(
        coh_sub,
        "sync",
        "make a cohort match a list, sending only the changes since the last sync (needs --ledger)",
        ("cohort", "sync"),
    )
    _sync_args(p)
    led = coh_sub.add_parser("ledger", help="inspect or drop the ledger records of delta syncs")
    led_sub = led.add_subparsers(dest="ledger_action", metavar="ACTION", required=True, parser_class=_Parser)
    p = leaf(led_sub, "list", "list the cohorts a ledger holds", ("cohort", "ledger", "list"))
    _ledger_arg(p)
    for action, text in (
        ("show", "show one cohort's record (members, in doubt, last push, last full refresh, lock)"),
        ("forget", "drop one cohort's record: its next sync sends the whole list and removes nothing"),
    ):
        p = leaf(led_sub, action, text, ("cohort", "ledger", action))
        _ledger_arg(p)
        p.add_argument("--cohort-id", required=True, metavar="ID", help="cohort id")

    p = leaf(groups, "emulator", "serve the local emulator of the API on a loopback port", ("emulator",))
    p.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any free port)")
    p.add_argument(
        "--time-scale",
        type=_positive_float,
        default=1.0,
        metavar="X",
        help="run emulated time X times faster (60: a rate-limit minute lasts a second)",
    )
    p.add_argument("--no-rate-limits", action="store_true", help="disable the emulator's rate limits")
    p.add_argument("--accept-any-uid", action="store_true", help="cohort pushes add uids that were never seeded")
    p.add_argument(
        "--optional-db-name",
        action="store_true",
        help="accept v2 calls without MOE-DBNAME, as older pages describe (default: required, as the spec says)",
    )
    p.add_argument(
        "--files",
        metavar="DIR",
        help="serve the files of DIR at the printed URL (a file_url for file segments: BASE/_emulator/files/NAME)",
    )
    p.add_argument("--generate-users", type=int, default=0, metavar="N", help="seed N users")

    p = leaf(groups, "demo", "tour the SDK on the built-in emulator (no account needed)", ("demo",))
    p.add_argument(
        "--uids", type=_positive_int, default=200_000, metavar="N", help="cohort size to push (default 200,000)"
    )
    p.add_argument(
        "--time-scale",
        type=_positive_float,
        default=60.0,
        metavar="X",
        help="speed-up of rate-limit windows on both sides (default 60: a minute lasts a second)",
    )
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv``; shared options may come before or after the subcommand.

    A misspelt option gets a did-you-mean (``--partnr``: did you mean ``--partner``?) rather than the
    error argparse would give first (a required option missing). A connection flag given to a command
    that does not use it (``demo --base-url``) is an error, not silently ignored.

    Example::

        args = parse_args(["--json", "segments", "list"])
    """
    argv = list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError:
        unknown = _unknown_options(parser, argv)
        if unknown:
            raise UsageError(unknown) from None
        raise
    unused = [dest for dest in CONNECTION if dest not in USES_CONNECTION.get(args.command, CONNECTION)]
    for dest in unused:
        if getattr(args, dest, None) not in (None, False):
            raise UsageError(_unused_message(args.command, "--" + dest.replace("_", "-")))
    for name, value in COMMON_DEFAULTS.items():
        if not hasattr(args, name) or getattr(args, name) is None:
            setattr(args, name, value)
    return args


def _unknown_options(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """``"unknown option --partnr; did you mean --partner?"`` for the first option its command lacks.

    Options belong to the (sub)command they follow, as argparse reads them: the shared ones may come
    before the command, each command's own after it.
    """
    command: argparse.ArgumentParser = parser
    path: tuple[str, ...] = ()
    for token in argv:
        if token == "--":
            break
        option = token.split("=", 1)[0]
        if not option.startswith("-"):
            subparsers = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
            if subparsers and token in subparsers[0].choices:
                command, path = subparsers[0].choices[token], (*path, token)
            continue
        known = [k for k in command._option_string_actions if k.startswith("--")]
        if not option.startswith("--") or option in known:
            continue
        if sum(1 for k in known if k.startswith(option)) == 1:
            continue  # an unambiguous abbreviation, which argparse accepts
        dest = option[2:].replace("-", "_")
        if path in USES_CONNECTION and dest in CONNECTION:
            return _unused_message(path, option)
        close = difflib.get_close_matches(option, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"unknown option {option}{hint} (see '{command.prog} --help')"
    return None


def _unused_message(command: tuple[str, ...], flag: str) -> str:
    why = "it runs its own emulator" if command == ("demo",) else "it serves the API, it does not call it"
    return f"{' '.join(command)} does not use {flag}: {why} (see '{PROG} {' '.join(command)} --help')"
