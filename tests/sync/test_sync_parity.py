"""Parity by introspection: the sync Client has exactly the async surface, mapped.

The mapping rules for types are restated here independently of the generator (a parameter's async-iterable
alternative is dropped; ``__aenter__`` returns the sync class), so a generator bug cannot hide behind itself.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moengage_segments._async import client as async_module
from moengage_segments._async.client import AsyncClient
from moengage_segments._sync import Client
from moengage_segments._sync import client as sync_module

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("gen_sync_for_parity", REPO / "tools" / "gen_sync.py")
assert _spec and _spec.loader
gen_sync = importlib.util.module_from_spec(_spec)
sys.modules["gen_sync_for_parity"] = gen_sync
_spec.loader.exec_module(gen_sync)

RENAMES = {"__aenter__": "__enter__", "__aexit__": "__exit__", "aclose": "close"}

#: Reviewed differences. Async-only: none. Sync-only: none beyond the renames above.
ASYNC_ONLY: set[tuple[str, str]] = set()
SYNC_ONLY: set[tuple[str, str]] = set()

CREDENTIALS = {"workspace_id": "WS", "api_key": "KEY", "data_center": "01"}


def _pairs() -> Iterator[tuple[type[Any], type[Any], str]]:
    """(async class, sync class, attribute path) for the client and every namespace reachable from it."""
    aclient = AsyncClient(**CREDENTIALS)
    sclient = Client(**CREDENTIALS)
    try:
        yield AsyncClient, Client, "client"
        for name, value in vars(aclient).items():
            if name.startswith("_"):
                continue
            assert type(value).__name__.startswith("Async"), f"public attribute {name} is not a namespace"
            twin = getattr(sclient, name)
            yield type(value), type(twin), f"client.{name}"
    finally:
        sclient.close()


PAIRS = list(_pairs())


def _sync_doc(doc: str | None) -> str:
    return str(gen_sync.sync_docstring(doc, [a.__name__ for a, _, _ in PAIRS]))


def _public(cls: type[Any], renames: dict[str, str]) -> set[str]:
    names = {n for n in vars(cls) if not n.startswith("_") or n in renames}
    return {renames.get(n, n) for n in names} - {"__init__"}


def _map_parameter(text: str) -> str:
    """``Iterable[str] | AsyncIterable[str] | None`` -> ``Iterable[str] | None``."""
    members = [m.strip() for m in _normal(text).split(" | ")]
    return " | ".join(m for m in members if not re.match(r"Async(Iterable|Iterator)\[", m))


def _normal(text: str) -> str:
    return ast.unparse(ast.parse(text, mode="eval"))


def test_every_namespace_has_a_twin() -> None:
    assert [(a.__name__, s.__name__) for a, s, _ in PAIRS] == [
        (a.__name__, a.__name__.removeprefix("Async")) for a, _, _ in PAIRS
    ]
    assert len(PAIRS) >= 5  # the client and its four namespaces, at least


@pytest.mark.parametrize(("acls", "scls", "where"), PAIRS, ids=[p[2] for p in PAIRS])
def test_same_public_members(acls: type[Any], scls: type[Any], where: str) -> None:
    async_names = _public(acls, RENAMES) - {n for c, n in ASYNC_ONLY if c == acls.__name__}
    sync_names = {n for n in vars(scls) if not n.startswith("_") or n in RENAMES.values()} - {"__init__"}
    sync_names -= {n for c, n in SYNC_ONLY if c == scls.__name__}
    assert sync_names == async_names


def _members(acls: type[Any], scls: type[Any]) -> Iterator[tuple[str, Any, Any]]:
    for name, avalue in vars(acls).items():
        if name.startswith("_") and name not in RENAMES:
            continue
        yield name, avalue, vars(scls)[RENAMES.get(name, name)]


@pytest.mark.parametrize(("acls", "scls", "where"), PAIRS, ids=[p[2] for p in PAIRS])
def test_signatures_defaults_annotations_and_docstrings(acls: type[Any], scls: type[Any], where: str) -> None:
    for name, avalue, svalue in _members(acls, scls):
        if isinstance(avalue, property):
            assert isinstance(svalue, property), name
            assert svalue.__doc__ == _sync_doc(avalue.__doc__)
            avalue, svalue = avalue.fget, svalue.fget
        assert not inspect.iscoroutinefunction(svalue) and not inspect.isasyncgenfunction(svalue), name
        asig, ssig = inspect.signature(avalue), inspect.signature(svalue)
        assert list(asig.parameters) == list(ssig.parameters), name
        for pname, aparam in asig.parameters.items():
            sparam = ssig.parameters[pname]
            assert sparam.kind == aparam.kind, (name, pname)
            assert sparam.default is aparam.default or sparam.default == aparam.default, (name, pname)
            if aparam.annotation is not inspect.Parameter.empty:
                assert _normal(sparam.annotation) == _map_parameter(aparam.annotation), (name, pname)
        returns = scls.__name__ if name == "__aenter__" else _normal(asig.return_annotation)
        assert _normal(ssig.return_annotation) == returns, name
        assert svalue.__doc__ == _sync_doc(avalue.__doc__), name


def test_client_init_signature_and_docstring() -> None:
    # same names, kinds, defaults and (unmapped) annotations
    assert inspect.signature(Client).parameters == inspect.signature(AsyncClient).parameters
    expected = gen_sync.client_docstring(_sync_doc(AsyncClient.__doc__))
    assert Client.__doc__ == expected
    assert Client.__doc__.startswith("The blocking")
    assert "docs/sync.md" in Client.__doc__


@pytest.mark.parametrize(("acls", "scls", "where"), PAIRS, ids=[p[2] for p in PAIRS])
def test_annotations_resolve_at_runtime(acls: type[Any], scls: type[Any], where: str) -> None:
    # Every name the generated annotations use is importable from the generated module.
    for name, _, svalue in _members(acls, scls):
        fn = svalue.fget if isinstance(svalue, property) else svalue
        hints = typing.get_type_hints(fn, vars(sync_module))
        assert "return" in hints, name


def test_no_async_leftovers_in_generated_code() -> None:
    text = Path(sync_module.__file__ or "").read_text()
    assert "async def" not in text and "await " not in text
    assert text.startswith("# GENERATED by tools/gen_sync.py")
    assert async_module.__name__ in text.splitlines()[0]


@pytest.mark.parametrize(("acls", "scls", "where"), PAIRS, ids=[p[2] for p in PAIRS])
def test_sync_docstrings_do_not_speak_async(acls: type[Any], scls: type[Any], where: str) -> None:
    # The sync add_members once said uids may be "an async iterable" while its signature says Iterable[str].
    docs = [str(scls.__doc__).replace(gen_sync.CLIENT_NOTE, "")]
    docs += [str(svalue.__doc__) for _, _, svalue in _members(acls, scls)]
    for doc in docs:
        assert not re.search(r"\basync\b|\bawait\b|\bAsync[A-Z]|\baclose\b", doc), doc
    if scls.__name__ == "Cohorts":
        assert "read_uids" in scls.add_members.__doc__ and "async" not in scls.add_members.__doc__
