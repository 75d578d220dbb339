"""The API reference covers every public name, and every public name and member has an example.

"Has an example" means the docstring contains ``Example`` or a reST literal block (``::`` at the end of a
line), which the docs build renders as a code block. Members are the public methods and properties of the
public classes, including those inherited from the SDK's own base classes; dunders, data fields (attrs
fields, class attributes) and what is inherited from builtins or libraries are not checked.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import griffe
import pytest

import moengage_segments
from tests.docs.test_examples import DOCS

PUBLIC_MODULES = (
    "moengage_segments",
    "moengage_segments.filters",
    "moengage_segments.callbacks",
    "moengage_segments.testing",
    "moengage_segments.errors",
)
DIRECTIVE = re.compile(r"^::: (\S+)", re.M)
REPO = Path(__file__).resolve().parents[2]

#: Members allowed without an example, ``"module.Class.member": "why an example would be silly"``.
#: Keep it short and reviewed; an entry that gains an example (or disappears) fails the test below.
NO_EXAMPLE: dict[str, str] = {}


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


def _has_example(doc: str | None) -> bool:
    return doc is not None and ("Example" in doc or "::\n" in doc)


@functools.cache
def _griffe_package() -> griffe.Module:
    """The package as the docs build sees it (constants' docstrings are the string after the assignment)."""
    package = griffe.load("moengage_segments", search_paths=[str(REPO)], resolve_aliases=True)
    assert isinstance(package, griffe.Module)
    return package


def _constant_doc(module: str, name: str) -> str | None:
    path = ".".join([*module.split(".")[1:], name])
    docstring = _griffe_package()[path].docstring
    return docstring.value if docstring is not None else None


@pytest.mark.parametrize(("module", "name"), ALL_NAMES, ids=[f"{m}.{n}" for m, n in ALL_NAMES])
def test_every_public_name_has_an_example(module: str, name: str) -> None:
    obj = getattr(importlib.import_module(module), name)
    # A constant or a type alias has its docstring in the string after the assignment.
    doc = inspect.getdoc(obj) if inspect.isclass(obj) or inspect.isfunction(obj) else _constant_doc(module, name)
    assert _has_example(doc), f"{module}.{name}: docstring without an example"


def _members(cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods and properties of ``cls``, from the class and its SDK base classes."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("moengage_segments"):
            continue  # object, Exception, attrs and library bases
        for name, raw in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            obj = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
            if isinstance(obj, (property, functools.cached_property)) or inspect.isfunction(obj):
                yield name, obj


def _all_members() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    done: set[int] = set()  # a member shared by several public classes is checked once
    for module, name in ALL_NAMES:
        cls = getattr(importlib.import_module(module), name)
        if not inspect.isclass(cls):
            continue
        for member, obj in _members(cls):
            if id(obj) not in done:
                done.add(id(obj))
                out.append((f"{module}.{name}.{member}", obj))
    return out


ALL_MEMBERS = _all_members()


@pytest.mark.parametrize(("qualname", "member"), ALL_MEMBERS, ids=[q for q, _ in ALL_MEMBERS])
def test_every_public_member_has_an_example(qualname: str, member: Any) -> None:
    if qualname in NO_EXAMPLE:
        pytest.skip(f"allowed without an example: {NO_EXAMPLE[qualname]}")
    assert _has_example(inspect.getdoc(member)), f"{qualname}: docstring without an example"


def test_no_example_allow_list_is_current() -> None:
    members = dict(ALL_MEMBERS)
    for qualname in NO_EXAMPLE:
        assert qualname in members, f"NO_EXAMPLE: {qualname} is not a public member any more"
        assert not _has_example(inspect.getdoc(members[qualname])), f"NO_EXAMPLE: {qualname} has an example now"


def test_members_are_found() -> None:
    import moengage_segments.filters as filters

    found = {
        (cls.__name__, name)
        for cls in (
            moengage_segments.CohortSyncReport,
            moengage_segments.UidFile,
            moengage_segments.Cohorts,
            filters.EventFilter,
            filters.AttrRef,
        )
        for name, _ in _members(cls)
    }
    for expected in (
        ("CohortSyncReport", "ok"),
        ("CohortSyncReport", "to_json"),
        ("UidFile", "iter_chunks"),
        ("Cohorts", "add_members"),
        ("EventFilter", "at_least"),
        ("AttrRef", "template"),
    ):
        assert expected in found
    assert ("CohortSyncReport", "accepted") not in found  # a data field
    assert not any(name.startswith("_") for _, name in found)


def test_package_docstring_has_an_example() -> None:
    assert "Example" in (moengage_segments.__doc__ or "")
