"""Find the fenced ```python blocks of the documentation pages.

Conventions for page authors:

* Every fenced block whose info string starts with ``python`` (or ``py``) is executed by
  ``tests/docs/test_examples.py``, in page order, in one namespace per page (like doctest), so a block
  may use what an earlier block on the same page defined.
* A block that must not run (it needs real credentials, a real network or a real web application) is
  preceded by the comment ``<!-- docs-test: skip -->`` on the line before the fence (blank lines
  between are allowed). Use it sparingly; prefer an example that runs against the emulator.
* Blocks shown only as text (output, shell commands, JSON) use another info string (``text``,
  ``console``, ``json``) or none, and are never executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SKIP_MARKER = "<!-- docs-test: skip -->"
_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    path: Path
    line: int  # 1-based line of the opening fence
    info: str
    code: str
    skip: bool

    @property
    def is_python(self) -> bool:
        lang = self.info.split()[0].lower() if self.info.split() else ""
        return lang in ("python", "py", "python3") or lang.startswith(("python{", "py{"))

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """All fenced blocks of ``path``, in order, with their skip marker."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = match.group("indent"), match.group("fence")
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            line = lines[j]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            j += 1
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        skip = k >= 0 and lines[k].strip() == SKIP_MARKER
        found.append(Block(path, i + 1, match.group("info").strip(), "\n".join(body) + "\n", skip))
        i = j + 1
    return found


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of ``path`` (skipped ones included, flagged)."""
    return [b for b in blocks(path) if b.is_python]
