"""Griffe extension used by the docs build: renders the reST idioms of our docstrings as Markdown.

Our docstrings are written for ``help()`` and use two reST habits that mkdocstrings would otherwise show
verbatim: literal blocks introduced by ``::`` (``Example::`` followed by an indented block) and
cross-reference roles (``:class:`~moengage_segments.Cohort```). This extension rewrites, in the
docstring only as the site sees it (the code is not touched):

* ``Example::`` / ``Examples::`` + indented block -> a bold "Example" label and a fenced code block;
* ``some text::`` + indented block -> ``some text:`` and a fenced code block; a lone ``::`` disappears;
* ``:class:`~a.b.C``` -> ```C```, ``:meth:`a.b``` -> ```a.b```, and ``:role:`x <y>``` -> ```x```.

Registered in ``mkdocs.yml`` under ``plugins.mkdocstrings.handlers.python.options.extensions``.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|mod|data|exc|obj|const):`~?([^`<]+?)(?:\s*<[^>]+>)?`")
_LABEL = re.compile(r"^(\s*)(Examples?)::\s*$")


def _lang(block: str) -> str:
    first = block.lstrip().splitlines()[0] if block.strip() else ""
    if first.startswith(("$", "moengage-segments", "python -m", "pip ")):
        return "console"
    if first.startswith(("{", "[")) and not first.startswith("[x"):
        return "json"
    return "python"


def convert(text: str) -> str:
    """Return ``text`` with reST literal blocks fenced and roles turned into inline code."""
    text = _ROLE.sub(lambda m: f"`{_short(m)}`", text)
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.rstrip()
        if stripped.endswith("::") and not stripped.endswith(":::"):
            indent = len(line) - len(line.lstrip())
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            body: list[str] = []
            while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
                body.append(lines[j])
                j += 1
            while body and not body[-1].strip():
                body.pop()
            if body:
                label = _LABEL.match(stripped)
                if label:
                    out.append(f"{label.group(1)}**{label.group(2)}**")
                elif stripped.strip() != "::":
                    out.append(stripped[:-1])
                pad = " " * indent
                block = textwrap.dedent("\n".join(body))
                out.append("")
                out.append(f"{pad}```{_lang(block)}")
                out.extend(pad + b if b else "" for b in block.splitlines())
                out.append(f"{pad}```")
                out.append("")
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _short(match: re.Match[str]) -> str:
    target = match.group(1).strip()
    return target.rsplit(".", 1)[-1] if match.group(0).split("`", 1)[1].startswith("~") else target


class ReSTBlocks(griffe.Extension):
    """Rewrite each docstring once, when its object is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
