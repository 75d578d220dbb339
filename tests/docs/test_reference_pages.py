"""Reference pages a newcomer reads first: builders before the filter model, no internals, no pytest hooks."""

from __future__ import annotations

import re

import moengage_segments.filters as filters
from tests.docs.test_examples import DOCS

REFERENCE = DOCS / "reference"


def _directives(page: str) -> list[str]:
    return re.findall(r"^::: (\S+)", (REFERENCE / page).read_text("utf-8"), re.M)


def test_filters_reference_puts_the_builders_first() -> None:
    names = [d.rsplit(".", 1)[1] for d in _directives("filters.md") if d != "moengage_segments.filters"]
    assert names[:6] == ["attr", "event", "affinity", "segment", "all_of", "any_of"]
    assert sorted(names) == sorted(filters.__all__)  # each public name once
    first_class = next(i for i, n in enumerate(names) if n[0].isupper())
    assert {"attr", "event", "affinity", "all_of", "any_of", "sum_of", "attr_ref", "event_time"} <= set(
        names[:first_class]
    )
    assert names.index("FilterGroup") > names.index("parse_group")  # the model comes last


def test_client_pages_hide_constructor_internals() -> None:
    for page, client in (("clients.md", "AsyncClient"), ("sync-client.md", "Client")):
        text = (REFERENCE / page).read_text("utf-8")
        assert f"::: moengage_segments.{client}\n    options:\n      show_attribute_values: false" in text
        namespaces = [d for d in _directives(page) if d != f"moengage_segments.{client}" and "Transport" not in d]
        for namespace in namespaces[:4]:
            assert f"::: {namespace}\n    options:\n      merge_init_into_class: false" in text, namespace


def test_testing_reference_lists_the_fixtures_not_the_hook() -> None:
    text = (REFERENCE / "testing.md").read_text("utf-8")
    assert "pytest_configure" not in text
    assert "- moengage_emulator" in text and "- moengage_client" in text
