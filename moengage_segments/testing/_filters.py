"""Filter trees of v3 segments: validation, canonical form, references, nesting level and description.

All structural validation goes through :func:`_validate_filters`, so it can be delegated to the SDK's own
filter parser when that exists; the emulator-specific rules (nesting levels, referenced segments, cycles)
live in :mod:`moengage_segments.testing._filter_segments`.

Example::

    group = {"filter_operator": "and", "filters": [
        {"filter_type": "user_attributes", "name": "city", "data_type": "string",
         "operator": "in", "value": ["Pune"]}]}
    _validate_filters(group, "included_filters")
    describe(group)  # 'city is Pune (case insensitive)'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["FilterError", "_validate_filters", "canonical", "describe", "echo", "nesting_level", "references"]

GROUP_OPERATORS = ("and", "or")
DATA_TYPES = ("string", "double", "bool", "datetime", "geopoint", "array_string", "array_double",
              "object", "array_object")
_STRING_OPS = ("in", "is", "contains", "startsWith", "endsWith", "containsInTheFollowing",
               "startsWithInTheFollowing", "endsWithInTheFollowing", "exists")
_NUMBER_OPS = ("in", "lessThan", "greaterThan", "between", "exists", "is")
OPERATORS: dict[str, tuple[str, ...]] = {
    "string": _STRING_OPS,
    "double": _NUMBER_OPS,
    "bool": ("is", "exists"),
    "datetime": ("on", "between", "before", "after", "inTheLast", "inTheNext", "today", "is", "in", "exists"),
    "geopoint": (),
    # [SPEC] and [SPEC-R] differ for arrays; the union is accepted (API notes §9).
    "array_string": _STRING_OPS,
    "array_double": _NUMBER_OPS,
    "object": (),
    "array_object": (),
}
_NO_VALUE_OPS = ("exists", "today")
VALUE_TYPES = ("absolute", "relative_past", "relative_future")
EXTRACT_TYPES = ("time_of_the_day", "day_of_the_week", "day_of_the_month", "month_of_the_year",
                 "date_month_of_the_year", "default_option_date")
EXECUTION_TYPES = ("atleast", "exactly", "atmost", "firstTime", "lastTime")
TIME_RANGE_TYPES = ("inTheLast", "between", "on", "before", "after")
PERIOD_UNITS = ("hours", "days", "weeks", "months")
OPERATOR_TYPES = ("predominant", "minimum", "top", "bottom")
PSYCHO_OPS = ("is", "in", "contains", "startsWith", "endsWith", "exists", "lessThan", "greaterThan", "between")
AGG_TYPES = ("sum", "avg", "min", "max", "median")
FILTER_TYPES = ("user_attributes", "actions", "psychographic_event", "custom_segments", "nested_filters")


class FilterError(ValueError):
    """A filter tree breaks the documented schema; ``path`` locates the problem.

    Example::

        try:
            _validate_filters({"filter_operator": "xor", "filters": []}, "included_filters")
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
def _validate_filters(payload: Any, path: str = "included_filters", *, strict: bool = False) -> None:
    """Check one filter group (``included_filters`` or ``excluded_filters``) against the spec.

    Raises :class:`FilterError` on the first problem. ``strict`` also requires ``category`` on user
    property filters ("Always include this key"; older examples omit it).

    Example::

        _validate_filters({"filter_operator": "or", "filters": []}, "excluded_filters")
    """
    _group(payload, path, _filter, strict)


def _group(
    value: Any, path: str, item: Callable[[Any, str, bool], None], strict: bool, *, min_items: int = 0
) -> None:
    if not isinstance(value, dict):
        raise FilterError(path, "must be an object with filter_operator and filters")
    _enum(value, "filter_operator", GROUP_OPERATORS, path)
    filters = value.get("filters")
    if not isinstance(filters, list):
        raise FilterError(f"{path}.filters", "is required and must be a list")
    if len(filters) < min_items:
        raise FilterError(f"{path}.filters", f"must contain at least {min_items} filter(s)")
    for index, child in enumerate(filters):
        item(child, f"{path}.filters[{index}]", strict)


def _filter(value: Any, path: str, strict: bool) -> None:
    if not isinstance(value, dict):
        raise FilterError(path, "must be an object")
    kind = _enum(value, "filter_type", FILTER_TYPES, path)
    if kind == "user_attributes":
        _attribute(value, path, strict, allowed_types=("user_attributes",))
    elif kind == "actions":
        _action(value, path, strict)
    elif kind == "psychographic_event":
        _affinity(value, path, strict)
    elif kind == "custom_segments":
        _text(value, "id", path)
    else:
        _group(value, path, _filter, strict)


def _attribute(value: Any, path: str, strict: bool, *, allowed_types: tuple[str, ...]) -> None:
    if not isinstance(value, dict):
        raise FilterError(path, "must be an object")
    if "filter_type" in value:  # optional for event-attribute and object children ([SPEC-R])
        _enum(value, "filter_type", allowed_types, path)
    _text(value, "name", path)
    data_type = _enum(value, "data_type", DATA_TYPES, path)
    if strict and "category" not in value:
        raise FilterError(f"{path}.category", "is required (strict mode)")
    for flag in ("negate", "case_sensitive", "is_dynamic_value"):
        if flag in value and not isinstance(value[flag], bool):
            raise FilterError(f"{path}.{flag}", "must be a boolean")
    for key, allowed in (("value_type", VALUE_TYPES), ("extract_type", EXTRACT_TYPES),
                         ("array_filter_type", ("any_of", "all_of"))):
        if key in value:
            _enum(value, key, allowed, path)
    if data_type in ("object", "array_object"):
        child_types = ("user_attributes", "action_attributes")
        _group(value, path, lambda v, p, s: _attribute(v, p, s, allowed_types=child_types), strict,
               min_items=1)
        return
    if data_type == "geopoint":
        for key in ("value", "value1"):
            if not _is_number(value.get(key)):
                raise FilterError(f"{path}.{key}", "must be a number (latitude/longitude)")
        if "radius" in value and not _is_number(value["radius"]):
            raise FilterError(f"{path}.radius", "must be a number")
        return
    operator = value.get("operator")
    if operator not in OPERATORS[data_type]:
        raise FilterError(f"{path}.operator", f"must be one of {list(OPERATORS[data_type])} for {data_type}")
    if value.get("is_dynamic_value"):
        _enum(value, "dynamic_attribute_type", ("string", "double", "bool", "datetime"), path)
    if operator in _NO_VALUE_OPS:
        return
    if "value" not in value:
        raise FilterError(f"{path}.value", f"is required for operator {operator!r}")
    raw = value["value"]
    scalar_or_list = (str, int, float, bool, list)
    if not isinstance(raw, scalar_or_list) or (
        isinstance(raw, list) and not all(isinstance(x, (str, int, float)) for x in raw)
    ):
        raise FilterError(f"{path}.value", "must be a string, number, boolean or a list of strings/numbers")
    if operator == "between" and "value1" not in value:
        raise FilterError(f"{path}.value1", "is required for operator 'between'")


def _action(value: dict[str, Any], path: str, strict: bool) -> None:
    _text(value, "action_name", path)
    executed = value.get("executed")
    if not isinstance(executed, bool):
        raise FilterError(f"{path}.executed", "is required and must be a boolean")
    _execution(value, path, executed)
    time_range = value.get("primary_time_range")
    if not isinstance(time_range, dict):
        raise FilterError(f"{path}.primary_time_range", "is required and must be an object")
    tr_path = f"{path}.primary_time_range"
    kind = _enum(time_range, "type", TIME_RANGE_TYPES, tr_path)
    _enum(time_range, "value_type", ("absolute", "relative_past"), tr_path)
    if "period_unit" in time_range:
        _enum(time_range, "period_unit", PERIOD_UNITS, tr_path)
    if "value" not in time_range and "days" not in time_range:
        raise FilterError(f"{tr_path}.value", "is required")
    if kind == "between" and "value1" not in time_range and "days1" not in time_range:
        raise FilterError(f"{tr_path}.value1", "is required for 'between'")
    if "attributes" not in value:
        raise FilterError(f"{path}.attributes", "is required (send an empty group when unused)")
    _event_attributes(value["attributes"], f"{path}.attributes", strict)
    if "aggregation_attributes" in value:
        _group(value["aggregation_attributes"], f"{path}.aggregation_attributes", _aggregation, strict)


def _execution(value: dict[str, Any], path: str, executed: bool) -> None:
    execution = value.get("execution")
    if not isinstance(execution, dict):
        raise FilterError(f"{path}.execution", "is required and must be an object")
    kind = _enum(execution, "type", EXECUTION_TYPES, f"{path}.execution")
    if kind in ("atleast", "exactly", "atmost"):
        count = execution.get("count")
        # count 0 is what the dashboard sends for "has not executed" (executed: false).
        minimum = 0 if not executed else 1
        if not isinstance(count, int) or isinstance(count, bool) or count < minimum:
            raise FilterError(f"{path}.execution.count", f"is required and must be an integer >= {minimum}")


def _event_attributes(value: Any, path: str, strict: bool) -> None:
    child_types = ("action_attributes", "user_attributes")
    _group(value, path, lambda v, p, s: _attribute(v, p, s, allowed_types=child_types), strict)


def _aggregation(value: Any, path: str, strict: bool) -> None:
    if not isinstance(value, dict):
        raise FilterError(path, "must be an object")
    _text(value, "attribute_name", path)
    _enum(value, "data_type", ("double",), path)
    _enum(value, "aggregation_type", AGG_TYPES, path)
    _enum(value, "operator", ("is", "between", "lessThan", "greaterThan"), path)
    if not _is_number(value.get("value")):
        raise FilterError(f"{path}.value", "is required and must be a number")


def _affinity(value: dict[str, Any], path: str, strict: bool) -> None:
    _text(value, "action_name", path)
    executed = value.get("executed", True)
    if not isinstance(executed, bool):
        raise FilterError(f"{path}.executed", "must be a boolean")
    _execution(value, path, executed)
    kind = _enum(value, "operator_type", OPERATOR_TYPES, path)
    needed = {"minimum": "percent_of_times", "top": "percent_of_users", "bottom": "percent_of_users"}.get(kind)
    if needed is not None:
        pct = value.get(needed)
        if not isinstance(pct, int) or isinstance(pct, bool) or not 1 <= pct <= 100:
            raise FilterError(f"{path}.{needed}", f"is required for {kind!r} and must be an integer 1-100")
    _group(value.get("psychographic_attributes"), f"{path}.psychographic_attributes", _psycho, strict,
           min_items=1)
    if "attributes" in value:
        _event_attributes(value["attributes"], f"{path}.attributes", strict)
    time_range = value.get("primary_time_range")
    if not isinstance(time_range, dict):
        raise FilterError(f"{path}.primary_time_range", "is required and must be an object")
    _text(time_range, "type", f"{path}.primary_time_range")
    _enum(time_range, "value_type", ("absolute", "relative_past"), f"{path}.primary_time_range")


def _psycho(value: Any, path: str, strict: bool) -> None:
    if not isinstance(value, dict):
        raise FilterError(path, "must be an object")
    _text(value, "name", path)
    _enum(value, "data_type", ("string", "double"), path)
    if "operator" in value:
        _enum(value, "operator", PSYCHO_OPS, path)


def _enum(value: dict[str, Any], key: str, allowed: tuple[str, ...], path: str) -> str:
    got = value.get(key)
    if got not in allowed:
        shown = "missing" if key not in value else repr(got)
        raise FilterError(f"{path}.{key}", f"must be one of {list(allowed)} (got {shown})")
    return str(got)


def _text(value: dict[str, Any], key: str, path: str) -> str:
    got = value.get(key)
    if not isinstance(got, str) or not got.strip():
        raise FilterError(f"{path}.{key}", "is required and must be a non-empty string")
    return got


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
    return frozenset(
        str(f["id"]) for g in groups for f in iter_filters(g) if f.get("filter_type") == "custom_segments"
    )


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
    "in": "is", "is": "is", "contains": "contains", "startsWith": "starts with", "endsWith": "ends with",
    "containsInTheFollowing": "contains any of", "startsWithInTheFollowing": "starts with any of",
    "endsWithInTheFollowing": "ends with any of", "exists": "exists", "lessThan": "is less than",
    "greaterThan": "is greater than", "between": "is between", "on": "is on", "before": "is before",
    "after": "is after", "inTheLast": "is in the last", "inTheNext": "is in the next", "today": "is today",
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


def describe(group: Any, segment_name: Callable[[str], str | None] = lambda _sid: None,
             excluded: Any = None) -> str:
    """A readable summary such as ``age is greater than 18 AND (country is US OR country is UK)``.

    Example::

        describe(included, excluded=excluded)
    """
    if not isinstance(group, dict):
        return ""
    joiner = f" {str(group.get('filter_operator', 'and')).upper()} "
    text = joiner.join(
        _describe_filter(f, segment_name) for f in group.get("filters", []) if isinstance(f, dict)
    )
    if excluded:
        text += f" EXCLUDING ({describe(excluded, segment_name)})"
    return text
