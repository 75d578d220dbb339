"""``moengage-segments emulator``: serve the local emulator of the API until Ctrl-C.

It accepts the workspace ID, API key and db name of the connection flags or ``MOENGAGE_*`` variables
(so one environment serves both sides), else the emulator's documented defaults.

Example::

    $ moengage-segments emulator --port 8080 --time-scale 60 --generate-users 1000 --files ./csv
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from moengage_segments.cli.context import Context
from moengage_segments.cli.failures import UsageError
from moengage_segments.cli.output import Fields, Result, Text
from moengage_segments.config import ENV_API_KEY, ENV_DB_NAME, ENV_WORKSPACE_ID

__all__ = ["serve_emulator"]


async def serve_emulator(ctx: Context) -> Result:
    """Start the emulator, print how to reach it, serve until cancelled (Ctrl-C), exit 0."""
    from moengage_segments.testing import DEFAULT_API_KEY, DEFAULT_DB_NAME, DEFAULT_WORKSPACE_ID, Emulator

    a = ctx.args
    workspace_id = a.workspace_id or os.environ.get(ENV_WORKSPACE_ID) or DEFAULT_WORKSPACE_ID
    user_key = a.api_key or os.environ.get(ENV_API_KEY)
    db_name = a.db_name or os.environ.get(ENV_DB_NAME) or DEFAULT_DB_NAME
    try:
        emu = Emulator(
            workspace_id,
            user_key or DEFAULT_API_KEY,
            db_name,
            host=a.host,
            port=a.port,
            time_scale=a.time_scale,
            rate_limits=False if a.no_rate_limits else None,
            accept_any_uid=a.accept_any_uid,
            optional_db_name=a.optional_db_name,
            files_dir=a.files,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    seeded_text, uids = "0", []
    if a.generate_users > 0:
        uids = emu.generate_users(a.generate_users, with_email=True)
        # e.g. "1,000 (user-0000000 ... user-0000999)": the uids a cohort push to this emulator may use
        seeded_text = f"{len(uids):,} ({uids[0]}" + (f" ... {uids[-1]})" if len(uids) > 1 else ")")
    async with emu:
        # The emulator's default key is a public constant; a key the user chose is never echoed.
        key_text = "(the key you gave)" if user_key else DEFAULT_API_KEY
        info = {
            "base_url": emu.base_url,
            "workspace_id": workspace_id,
            "db_name": db_name,
            "users": a.generate_users,
            "time_scale": a.time_scale,
            "uids": [uids[0], uids[-1]] if uids else [],
            "files_url": emu.files_url if a.files else None,
        }
        if not user_key:
            info["api_key"] = DEFAULT_API_KEY
        ctx.out.emit(
            Result(
                data=info,
                views=(
                    Fields(
                        (
                            ("base URL", emu.base_url),
                            ("workspace ID", workspace_id),
                            ("API key", key_text),
                            ("db name", db_name),
                            ("seeded users", seeded_text),
                            ("time scale", a.time_scale),
                            *((("files", f"{emu.files_url}<name> serves {a.files}/<name>"),) if a.files else ()),
                        ),
                        title="MoEngage emulator running (Ctrl-C to stop)",
                    ),
                    Text(
                        f"export MOENGAGE_BASE_URL={emu.base_url} MOENGAGE_WORKSPACE_ID={workspace_id} "
                        f"MOENGAGE_DB_NAME={db_name}" + ("" if user_key else f" MOENGAGE_API_KEY={DEFAULT_API_KEY}")
                    ),
                ),
            )
        )
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
    ctx.out.note("emulator stopped")
    return Result(data=None, quiet=True)
