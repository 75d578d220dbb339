"""The API reference covers every public name, and every public class and function has an example."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

import moengage_segments
from tests.docs.test_examples import DOCS

PUBLIC_MODULES = ("moengage_segments", "moengage_segments.filters", "moengage_segments.callbacks",
                  "moengage_segments.testing", "moengage_segments.errors")
DIRECTIVE = re.compile(r"^::: (\S+)", re.M)


def _directives() -> set[str]:
    return {m for page in (DOCS / "reference").glob("*.md") for m in DIRECTIVE.findall(page.read_text("utf-8"))}


def _covered(module: str, name: str, directives: set[str]) -> bool:
    """``::: module.name``, or a directive for a module that renders the name as a member."""
    if f"{module}.{name}" in directives:
        return True
    if module != "moengage_segments" and module in directives:
        return True  # a module directive renders every name of its __all__
    home = getattr(getattr(importlib.import_module(module), name), "__module__", "")
    return home in directives  # e.g. moengage_segments.ConflictError under '::: moengage_segments.errors'


def _public(module: str) -> list[tuple[str, str]]:
    return [(module, n) for n in importlib.import_module(module).__all__ if not n.startswith("__")]


ALL_NAMES = [pair for module in PUBLIC_MODULES for pair in _public(module)]


def test_every_public_module_has_a_reference_directive() -> None:
    directives = _directives()
    for module in PUBLIC_MODULES[1:]:
        assert module in directives, f"docs/reference has no '::: {module}'"


@pytest.mark.parametrize(("module", "name"), ALL_NAMES, ids=[f"{m}.{n}" for m, n in ALL_NAMES])
def test_every_public_name_is_in_the_reference(module: str, name: str) -> None:
    assert _covered(module, name, _directives()), f"add '::: {module}.{name}' to a page of docs/reference"


@pytest.mark.parametrize(("module", "name"), ALL_NAMES, ids=[f"{m}.{n}" for m, n in ALL_NAMES])
def test_every_public_class_and_function_has_an_example(module: str, name: str) -> None:
    obj = getattr(importlib.import_module(module), name)
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        pytest.skip("a constant: documented by its module")
    doc = inspect.getdoc(obj) or ""
    assert "Example" in doc or "::\n" in doc, f"{module}.{name}: docstring without an example"


def test_package_docstring_has_an_example() -> None:
    assert "Example" in (moengage_segments.__doc__ or "")
