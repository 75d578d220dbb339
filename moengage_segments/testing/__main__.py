"""``python -m moengage_segments.testing``: run the emulator standalone on loopback.

It prints the bound address (the real port, also with ``--port 0``), the credentials and an
``export MOENGAGE_...`` line for the client, then serves until Ctrl-C.

Example::

    python -m moengage_segments.testing --port 8080 --time-scale 60 --generate-users 1000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from moengage_segments.testing._banner import Banner, seeded_text
from moengage_segments.testing._emulator import (
    DEFAULT_API_KEY,
    DEFAULT_DB_NAME,
    DEFAULT_WORKSPACE_ID,
    Emulator,
)

__all__ = ["main"]

_DESCRIPTION = """\
Run the local MoEngage Segments API emulator on a loopback address until Ctrl-C.

On start it prints the base URL (with the real port, also for --port 0), the
workspace ID, the API key (only the emulator's default one), the db name and an
"export MOENGAGE_..." line that points the client and the CLI at it."""

_EPILOG = """\
example:
  python -m moengage_segments.testing --port 8080 --time-scale 60 --generate-users 1000"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m moengage_segments.testing",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--host", default="127.0.0.1", help="loopback address to bind: 127.0.0.1, ::1 or localhost (default: 127.0.0.1)"
    )
    add("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default: 8080)")
    add("--workspace-id", default=DEFAULT_WORKSPACE_ID, help=f"workspace ID (default: {DEFAULT_WORKSPACE_ID})")
    add("--api-key", default=None, help=f"API key; yours is never printed (default: {DEFAULT_API_KEY})")
    add("--db-name", default=DEFAULT_DB_NAME, help=f"database name, MOE-DBNAME (default: {DEFAULT_DB_NAME})")
    add(
        "--time-scale",
        type=float,
        default=1.0,
        help="how fast emulated time runs; 60 = a minute lasts a second (default: 1.0)",
    )
    add(
        "--no-rate-limits",
        action="store_true",
        help="disable every rate limit (default: the documented limits are enforced)",
    )
    add(
        "--accept-any-uid",
        action="store_true",
        help="cohort pushes add uids that were never seeded (default: only seeded uids join)",
    )
    add("--strict", action="store_true", help="stricter reading of rules the sources disagree on (default: off)")
    add(
        "--optional-db-name",
        action="store_true",
        help="accept v2 calls without MOE-DBNAME, as older pages describe (default: required, as the spec says)",
    )
    add(
        "--generate-users",
        type=int,
        default=0,
        metavar="N",
        help="seed N users user-0000000... with e-mails (default: 0)",
    )
    add(
        "--files",
        metavar="DIR",
        default=None,
        help="serve the files of DIR at BASE_URL/_emulator/files/NAME, a file_url for file segments (default: none)",
    )
    add(
        "--max-cohort-body-bytes",
        type=int,
        default=128_000,
        metavar="BYTES",
        help="cohort-sync body cap, 413 above it (default: 128000)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, seed users if asked, print how to reach the emulator, serve until Ctrl-C or SIGTERM.

    Example::

        main(["--port", "0", "--generate-users", "1000"])
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        emu = Emulator(
            args.workspace_id,
            args.api_key or DEFAULT_API_KEY,
            args.db_name,
            host=args.host,
            port=args.port,
            time_scale=args.time_scale,
            rate_limits=False if args.no_rate_limits else None,
            accept_any_uid=args.accept_any_uid,
            strict=args.strict,
            optional_db_name=args.optional_db_name,
            max_cohort_body_bytes=args.max_cohort_body_bytes,
            files_dir=args.files,
        )
    except ValueError as exc:
        parser.error(str(exc))
    uids = emu.generate_users(args.generate_users, with_email=True) if args.generate_users > 0 else []

    async def serve() -> None:
        stop = asyncio.Event()
        # SIGTERM (a service manager, `kill`, a container stopping) shuts down as cleanly as Ctrl-C.
        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signal handlers on Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with emu:
            banner = Banner.of(emu, key_given=bool(args.api_key))
            extra: tuple[tuple[str, str], ...] = (
                ("seeded users", seeded_text(uids)),
                ("time scale", f"{args.time_scale:g}"),
            )
            if args.files:
                extra += (("files", f"{emu.files_url}<name> serves {args.files}/<name>"),)
            print(banner.text(extra), flush=True)
            await stop.wait()

    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(serve())
        except OSError as exc:  # e.g. the port is taken
            print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    print("emulator stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
