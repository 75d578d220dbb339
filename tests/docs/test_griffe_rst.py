"""The docs build's griffe extension turns our reST docstring idioms into Markdown."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from tests.docs.test_examples import DOCS

pytest.importorskip("griffe")


def _extension() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_griffe_rst", DOCS / "reference" / "_griffe_rst.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


convert = _extension().convert


def test_example_literal_block_becomes_a_fenced_python_block() -> None:
    doc = "Do a thing.\n\nExample::\n\n    x = 1\n\n    y = 2\n\nAfter."
    assert convert(doc) == "Do a thing.\n\n**Example**\n\n```python\nx = 1\n\ny = 2\n```\n\nAfter."


def test_paragraph_ending_in_double_colon_keeps_one_colon() -> None:
    assert convert("Read it back::\n\n    group = parse_group(p)\n") == (
        "Read it back:\n\n```python\ngroup = parse_group(p)\n```\n"
    )


def test_indented_literal_block_stays_indented_and_shell_lines_are_console() -> None:
    doc = "* item::\n\n      $ moengage-segments demo\n"
    assert convert(doc) == "* item:\n\n```console\n$ moengage-segments demo\n```\n"


def test_roles_become_inline_code() -> None:
    doc = "See :class:`~moengage_segments.FileSegmentCallback` and :meth:`AsyncCohorts.add_members`."
    assert convert(doc) == "See `FileSegmentCallback` and `AsyncCohorts.add_members`."


def test_text_without_literal_blocks_is_unchanged() -> None:
    doc = "Plain text: with a colon.\n\n* a list\n* ``code``"
    assert convert(doc) == doc
