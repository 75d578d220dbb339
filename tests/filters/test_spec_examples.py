"""Every filter example in the vendor's OpenAPI file round-trips: payload -> objects -> payload, equal."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from moengage_segments.filters import FilterGroup, RawFilter, parse_filter_payload, parse_group
from tests.filters._support import assert_schema_valid, load_spec, spec_available

GROUP_KEYS = ("included_filters", "excluded_filters")


def _walk(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (location, dict) for every dict holding included/excluded filters anywhere in ``node``."""
    if isinstance(node, dict):
        if any(k in node for k in GROUP_KEYS):
            yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{where}[{i}]")


def _example_bodies() -> list[tuple[str, dict[str, Any]]]:
    if not spec_available():
        return []
    spec = load_spec()
    found: list[tuple[str, dict[str, Any]]] = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for where, body in _walk(op, f"{method.upper()} {path}"):
                found.append((where, body))
    for where, body in _walk(spec["components"].get("responses", {}), "components/responses"):
        found.append((where, body))
    return found


def _markdown_blocks() -> list[tuple[str, str]]:
    if not spec_available():
        return []
    blocks: list[tuple[str, str]] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")
        elif isinstance(node, str):
            for i, m in enumerate(re.finditer(r"```json\n(.*?)```", node, re.S)):
                blocks.append((f"{where}#json{i}", m.group(1)))

    walk(load_spec(), "")
    return blocks


BODIES = _example_bodies()
BLOCKS = _markdown_blocks()


def test_spec_has_examples() -> None:
    load_spec()  # skips with a reason when the folder is absent
    assert len(BODIES) >= 20, "expected the ~20 request examples plus the response examples"
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize(("where", "body"), BODIES, ids=[w for w, _ in BODIES])
def test_example_round_trips_strict(where: str, body: dict[str, Any]) -> None:
    for key in GROUP_KEYS:
        if key not in body:
            continue
        payload = body[key]
        group = parse_group(payload, path=key)
        assert group.to_payload() == payload
        # The lenient reader must give the very same objects for a valid payload.
        assert parse_group(payload, path=key, strict=False) == group
        assert not _has_raw(group)


@pytest.mark.parametrize(("where", "body"), BODIES, ids=[w for w, _ in BODIES])
def test_example_matches_spec_schema(where: str, body: dict[str, Any]) -> None:
    for key in GROUP_KEYS:
        if key in body and "/requestBody/" in where:
            assert_schema_valid(body[key])


def _has_raw(group: FilterGroup) -> bool:
    return any(isinstance(f, RawFilter) or (isinstance(f, FilterGroup) and _has_raw(f)) for f in group.filters)


# Skeletons used to give the markdown fragments ("attributes": {...}) a filter to live in.
_EVENT = {
    "filter_type": "actions",
    "action_name": "purchase",
    "executed": True,
    "execution": {"type": "atleast", "count": 1},
    "primary_time_range": {"type": "inTheLast", "value": 30, "value_type": "relative_past", "period_unit": "days"},
    "attributes": {"filter_operator": "and", "filters": []},
}
_AFFINITY = {
    "filter_type": "psychographic_event",
    "action_name": "purchase",
    "executed": True,
    "execution": {"type": "atleast", "count": 1},
    "operator_type": "predominant",
    "primary_time_range": {"type": "inTheLast", "value_type": "relative_past", "days": 90},
}


def _as_filter(fragment: dict[str, Any]) -> dict[str, Any] | None:
    if "filter_type" in fragment:
        return fragment
    if set(fragment) <= {"attributes", "aggregation_attributes"}:
        return {**_EVENT, **fragment}
    if set(fragment) == {"psychographic_attributes"}:
        return {**_AFFINITY, **fragment}
    if "attribute_name" in fragment:  # one aggregation condition
        return {**_EVENT, "aggregation_attributes": {"filter_operator": "and", "filters": [fragment]}}
    return None


@pytest.mark.parametrize(("where", "text"), BLOCKS, ids=[w for w, _ in BLOCKS])
def test_markdown_example_round_trips(where: str, text: str) -> None:
    if "..." in text:
        pytest.skip("illustrative fragment with '...' placeholders, not JSON")
    try:
        fragment = json.loads(text)
    except json.JSONDecodeError:
        fragment = json.loads("{" + text + "}")  # a '"key": {...}' fragment
    if any(k in fragment for k in GROUP_KEYS):
        for key in GROUP_KEYS:
            payload = fragment[key]
            # The top-level skeleton has empty groups: a template, readable but not sendable as is.
            strict = bool(payload["filters"])
            assert parse_group(payload, path=key, strict=strict).to_payload() == payload
        return
    payload = _as_filter(fragment)
    assert payload is not None, f"unclassified spec fragment: {sorted(fragment)}"
    parsed = parse_filter_payload(payload)
    assert not isinstance(parsed, RawFilter)
    assert parsed.to_payload() == payload
