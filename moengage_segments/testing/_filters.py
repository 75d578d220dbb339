"""Filter trees of v3 segments: validation, canonical form, references, nesting level and description.

Structural validation goes through :func:`validate_filters`, which delegates to the SDK's own filter
parser (``moengage_segments.filters.parse_group``); the emulator-specific rules (nesting levels,
referenced segments, cycles, duplicates) live in :mod:`moengage_segments.testing._filter_segments`.

Example::

    group = {"filter_operator": "and", "filters": [
        {"filter_type": "user_attributes", "name": "city", "data_type": "string",
         "operator": "in", "value": ["Pune"]}]}
    validate_filters(group, "included_filters")
    describe(group)  # 'city is Pune (case insensitive)'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["FilterError", "canonical", "describe", "echo", "nesting_level", "references", "validate_filters"]

_NO_VALUE_OPS = ("exists", "today")


class FilterError(ValueError):
    """A filter tree breaks the documented schema; ``path`` locates the problem.

    Example::

        try:
            validate_filters({"filter_operator": "xor", "filters": []}, "included_filters")
        except FilterError as exc:
            exc.path  # 'included_filters.filter_operator'
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# ---------------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------------
def validate_filters(payload: Any, path: str = "included_filters", *, strict: bool = False) -> None:
    """Check one filter group (``included_filters`` or ``excluded_filters``) against the spec.

    Delegates to the SDK's own parser (:func:`moengage_segments.filters.parse_group`), so the emulator
    and the client agree on what a valid filter is. Raises :class:`FilterError` with the offending path.
    ``strict`` also requires ``category`` on user property filters ("Always include this key").

    Example::

        validate_filters({"filter_operator": "or", "filters": []}, "excluded_filters")
    """
    from moengage_segments.errors import ValidationError
    from moengage_segments.filters import parse_group

    if not isinstance(payload, dict):
        raise FilterError(path, "must be an object with filter_operator and filters")
    try:
        parse_group(payload, path=path, strict=True)
    except ValidationError as exc:
        raise FilterError(exc.field, exc.reason) from exc
    if strict:
        for item in iter_filters(payload):
            if item.get("filter_type") == "user_attributes" and "category" not in item:
                raise FilterError(f"{path}.filters[].category", "is required (strict mode)")


# ---------------------------------------------------------------------------------------------------
# derived views
# ---------------------------------------------------------------------------------------------------
def iter_filters(group: Any) -> Iterator[dict[str, Any]]:
    """Every top-level and nested filter of a (valid) group, depth first.

    Example::

        [f["filter_type"] for f in iter_filters(group)]
    """
    if not isinstance(group, dict):
        return
    for item in group.get("filters", []):
        if isinstance(item, dict):
            yield item
            if item.get("filter_type") == "nested_filters":
                yield from iter_filters(item)


def references(*groups: Any) -> frozenset[str]:
    """Ids of every segment referenced through ``custom_segments`` filters, nested groups included.

    Example::

        references(included, excluded)  # frozenset({'65f1...'})
    """
    return frozenset(str(f["id"]) for g in groups for f in iter_filters(g) if f.get("filter_type") == "custom_segments")


def own_nesting(group: Any) -> int:
    """Levels of ``nested_filters`` groups in ``group`` itself (references not followed), without recursion.

    A definition nested hundreds of levels deep is answered by the nesting rule (413), as the service
    would, before any recursive walk could exhaust the stack.

    Example::

        own_nesting({"filter_operator": "and", "filters": []})  # 0
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(group, 0)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(node, dict) and isinstance(node.get("filters"), list):
            stack.extend(
                (item, level + 1)
                for item in node["filters"]
                if isinstance(item, dict) and item.get("filter_type") == "nested_filters"
            )
        if deepest > 64:  # far past any cap; also ends a dict that contains itself
            break
    return deepest


def nesting_level(group: Any, level_of: Callable[[str], int]) -> int:
    """Levels of nesting: each nested group or referenced segment adds one (help-center rule).

    ``level_of(segment_id)`` gives the level of a referenced segment's own definition.

    Example::

        nesting_level(group, lambda sid: 0)
    """
    deepest = 0
    if not isinstance(group, dict):
        return 0
    for item in group.get("filters", []):
        if not isinstance(item, dict):
            continue
        kind = item.get("filter_type")
        if kind == "nested_filters":
            deepest = max(deepest, 1 + nesting_level(item, level_of))
        elif kind == "custom_segments":
            deepest = max(deepest, 1 + level_of(str(item.get("id"))))
    return deepest


_DEFAULT_FALSE = ("negate", "case_sensitive", "is_dynamic_value")
_UNORDERED_VALUE_OPS = ("in", "containsInTheFollowing", "startsWithInTheFollowing", "endsWithInTheFollowing")


def _normalise(node: Any, inner: bool = False) -> Any:
    if isinstance(node, list):
        return [_normalise(x, inner) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DEFAULT_FALSE and value is False:
            continue  # an explicit default says the same as an absent key
        if key == "filter_type" and value == "action_attributes":
            continue  # optional on event-attribute filters ([SPEC-R])
        if key == "name" and node.get("filter_type") == "custom_segments":
            continue  # only a display label; the reference is the id
        if key == "category" and inner:
            continue
        out[key] = _normalise(value, inner or key in ("attributes", "psychographic_attributes"))
    if isinstance(out.get("value"), list) and out.get("operator") in _UNORDERED_VALUE_OPS:
        out["value"] = sorted(out["value"], key=lambda x: json.dumps(x, sort_keys=True))
    if isinstance(out.get("filters"), list):
        # and/or are commutative: the order of filters does not change the definition.
        out["filters"] = sorted(out["filters"], key=lambda x: json.dumps(x, sort_keys=True))
    return out


def canonical(included: Any, excluded: Any) -> str:
    """A canonical string of a definition: equal strings mean the same segment (409 on duplicates).

    Example::

        canonical(a, None) == canonical(a_with_filters_reordered, None)  # True
    """
    return json.dumps(
        {"included": _normalise(included), "excluded": _normalise(excluded) if excluded else None},
        sort_keys=True,
        separators=(",", ":"),
    )


def echo(group: Any) -> Any:
    """The group as the service echoes it: event-attribute filters lose their ``filter_type``.

    Example::

        echo(group)["filters"][0]["attributes"]["filters"][0].get("filter_type")  # None
    """
    if isinstance(group, list):
        return [echo(x) for x in group]
    if not isinstance(group, dict):
        return group
    out = {k: echo(v) for k, v in group.items()}
    for key in ("attributes",):
        inner = out.get(key)
        if isinstance(inner, dict) and isinstance(inner.get("filters"), list):
            inner["filters"] = [
                {k: v for k, v in f.items() if k != "filter_type"} if isinstance(f, dict) else f
                for f in inner["filters"]
            ]
    return out


# ---------------------------------------------------------------------------------------------------
# description
# ---------------------------------------------------------------------------------------------------
_OP_WORDS = {
    "in": "is",
    "is": "is",
    "contains": "contains",
    "startsWith": "starts with",
    "endsWith": "ends with",
    "containsInTheFollowing": "contains any of",
    "startsWithInTheFollowing": "starts with any of",
    "endsWithInTheFollowing": "ends with any of",
    "exists": "exists",
    "lessThan": "is less than",
    "greaterThan": "is greater than",
    "between": "is between",
    "on": "is on",
    "before": "is before",
    "after": "is after",
    "inTheLast": "is in the last",
    "inTheNext": "is in the next",
    "today": "is today",
}


def _value_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _describe_filter(item: dict[str, Any], segment_name: Callable[[str], str | None]) -> str:
    kind = item.get("filter_type", "user_attributes")
    if kind == "nested_filters":
        return f"({describe(item, segment_name)})"
    if kind == "custom_segments":
        sid = str(item.get("id"))
        return f"In custom segment {segment_name(sid) or item.get('name') or sid}"
    if kind in ("actions", "psychographic_event"):
        verb = "Has executed" if item.get("executed", True) else "Has not executed"
        execution = item.get("execution") or {}
        count = execution.get("count")
        how = f" {execution.get('type')} {count} time{'s' if count != 1 else ''}" if count else ""
        text = f"{verb} {item.get('action_name')}{how}"
        if kind == "psychographic_event":
            text = f"Affinity ({item.get('operator_type')}) for {item.get('action_name')}"
        return text + _time_range_text(item.get("primary_time_range"))
    return _describe_attribute(item)


def _describe_attribute(item: dict[str, Any]) -> str:
    name = item.get("name")
    data_type = item.get("data_type")
    if data_type in ("object", "array_object"):
        inner = f" {str(item.get('filter_operator', 'and')).upper()} ".join(
            _describe_attribute(c) for c in item.get("filters", []) if isinstance(c, dict)
        )
        return f"{name} has ({inner})"
    if data_type == "geopoint":
        return f"{name} is within {item.get('radius', 0)} m of ({item.get('value')}, {item.get('value1')})"
    operator = str(item.get("operator"))
    words = _OP_WORDS.get(operator, operator)
    if item.get("negate"):
        words = "is not" if words == "is" else f"not {words}"
    text = f"{name} {words}"
    if "value" in item and operator not in _NO_VALUE_OPS:
        text += f" {_value_text(item['value'])}"
        if operator == "between":
            text += f" and {_value_text(item.get('value1'))}"
    if operator in ("inTheLast", "inTheNext"):
        text += " days"
    if data_type in ("string", "array_string") and operator not in _NO_VALUE_OPS:
        text += " (case sensitive)" if item.get("case_sensitive") else " (case insensitive)"
    return text


def _time_range_text(time_range: Any) -> str:
    if not isinstance(time_range, dict):
        return ""
    kind = time_range.get("type")
    value = time_range.get("value", time_range.get("days"))
    unit = time_range.get("period_unit", "days")
    if kind == "inTheLast":
        return f" in the last {value} {unit}"
    if kind == "between":
        return f" in-between {value} and {time_range.get('value1', time_range.get('days1'))}"
    return f" {kind} {value}"


def describe(group: Any, segment_name: Callable[[str], str | None] = lambda _sid: None, excluded: Any = None) -> str:
    """A readable summary such as ``age is greater than 18 AND (country is US OR country is UK)``.

    Example::

        describe(included, excluded=excluded)
    """
    if not isinstance(group, dict):
        return ""
    joiner = f" {str(group.get('filter_operator', 'and')).upper()} "
    text = joiner.join(_describe_filter(f, segment_name) for f in group.get("filters", []) if isinstance(f, dict))
    if excluded:
        text += f" EXCLUDING ({describe(excluded, segment_name)})"
    return text
