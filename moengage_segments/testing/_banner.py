"""What a running emulator prints: how to reach it, and the ``export MOENGAGE_...`` line for a client.

Shared by ``python -m moengage_segments.testing`` and usable by ``moengage-segments emulator`` (the CLI
imports the testing package, never the reverse). The emulator's default key is a public constant and is
shown; a key the user chose is never echoed.

Example::

    banner = Banner.of(emu, key_given=False)
    print(banner.text())
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from moengage_segments.config import ENV_API_KEY, ENV_BASE_URL, ENV_DB_NAME, ENV_WORKSPACE_ID

if TYPE_CHECKING:
    from moengage_segments.testing._emulator import Emulator

__all__ = ["KEY_GIVEN_TEXT", "TITLE", "Banner", "seeded_text"]

#: Shown instead of an API key the user chose.
KEY_GIVEN_TEXT = "(the key you gave)"
#: The banner's first line.
TITLE = "MoEngage emulator running (Ctrl-C to stop)"


def seeded_text(uids: Sequence[str]) -> str:
    """``"1,000 (user-0000000 ... user-0000999)"``: how many users were seeded, first and last uid.

    Example::

        seeded_text(["u1", "u2"])  # "2 (u1 ... u2)"
    """
    if not uids:
        return "0"
    return f"{len(uids):,} ({uids[0]}" + (f" ... {uids[-1]})" if len(uids) > 1 else ")")


@attrs.frozen
class Banner:
    """The connection details of a running emulator.

    ``api_key`` is ``None`` when the user chose the key: it is then neither shown nor exported.

    Example::

        Banner("http://127.0.0.1:8080", "WS", "db", None).export_line()
        # 'export MOENGAGE_BASE_URL=http://127.0.0.1:8080 MOENGAGE_WORKSPACE_ID=WS MOENGAGE_DB_NAME=db'
    """

    base_url: str
    workspace_id: str
    db_name: str
    api_key: str | None = attrs.field(repr=False)

    @classmethod
    def of(cls, emu: Emulator, *, key_given: bool) -> Banner:
        """The banner of a started emulator; ``key_given``: the user chose the key (do not echo it).

        Example::

            async with Emulator() as emu:
                print(Banner.of(emu, key_given=False).export_line())
        """
        return cls(emu.base_url, emu.workspace_id, emu.db_name, None if key_given else emu.api_key)

    def fields(self) -> tuple[tuple[str, str], ...]:
        """``(label, value)`` pairs: base URL, workspace ID, API key, db name.

        Example::

            dict(banner.fields())["API key"]  # 'emulator-api-key' or '(the key you gave)'
        """
        return (
            ("base URL", self.base_url),
            ("workspace ID", self.workspace_id),
            ("API key", KEY_GIVEN_TEXT if self.api_key is None else self.api_key),
            ("db name", self.db_name),
        )

    def export_line(self) -> str:
        """A shell line that points ``AsyncClient()``/``Client()`` and the CLI at this emulator.

        The API key is included only when it is the emulator's (not one the user chose).

        Example::

            banner.export_line()  # 'export MOENGAGE_BASE_URL=http://127.0.0.1:8080 ...'
        """
        pairs = [(ENV_BASE_URL, self.base_url), (ENV_WORKSPACE_ID, self.workspace_id), (ENV_DB_NAME, self.db_name)]
        if self.api_key is not None:
            pairs.append((ENV_API_KEY, self.api_key))
        return "export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in pairs)

    def text(self, extra: Sequence[tuple[str, str]] = ()) -> str:
        """The title, the aligned fields (then ``extra`` ones) and the export line, as printed.

        Example::

            print(banner.text([("seeded users", seeded_text(uids)), ("time scale", "60")]))
        """
        rows = (*self.fields(), *extra)
        width = max(len(label) for label, _ in rows)
        lines = [TITLE, *(f"  {label:<{width}}  {value}" for label, value in rows), self.export_line()]
        return "\n".join(lines)
