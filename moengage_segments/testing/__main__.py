"""``python -m moengage_segments.testing``: run the emulator standalone on loopback.

Example::

    python -m moengage_segments.testing --port 8080 --workspace-id WS --api-key KEY --time-scale 60
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from moengage_segments.testing._emulator import (
    DEFAULT_API_KEY,
    DEFAULT_DB_NAME,
    DEFAULT_WORKSPACE_ID,
    Emulator,
)

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, seed users if asked, serve until Ctrl-C.

    Example::

        main(["--port", "8080", "--generate-users", "1000"])
    """
    parser = argparse.ArgumentParser(prog="python -m moengage_segments.testing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workspace-id", default=DEFAULT_WORKSPACE_ID)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--db-name", default=DEFAULT_DB_NAME)
    parser.add_argument("--time-scale", type=float, default=1.0, help="60 = a minute lasts a second")
    parser.add_argument("--no-rate-limits", action="store_true", help="disable every rate limit")
    parser.add_argument("--accept-any-uid", action="store_true", help="cohort pushes add unseeded uids")
    parser.add_argument("--strict", action="store_true", help="stricter reading of disputed rules")
    parser.add_argument("--generate-users", type=int, default=0, metavar="N", help="seed N users")
    parser.add_argument("--max-cohort-body-bytes", type=int, default=128_000)
    args = parser.parse_args(argv)
    try:
        emu = Emulator(
            args.workspace_id,
            args.api_key,
            args.db_name,
            host=args.host,
            port=args.port,
            time_scale=args.time_scale,
            rate_limits=False if args.no_rate_limits else None,
            accept_any_uid=args.accept_any_uid,
            strict=args.strict,
            max_cohort_body_bytes=args.max_cohort_body_bytes,
        )
    except ValueError as exc:
        parser.error(str(exc))
    if args.generate_users:
        emu.generate_users(args.generate_users, with_email=True)
    print(
        f"MoEngage emulator on http://{args.host}:{args.port} "
        f"(workspace {args.workspace_id!r}, db {args.db_name!r}); Ctrl-C to stop",
        file=sys.stderr,
    )
    emu.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
