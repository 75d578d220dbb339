"""The documented rules of the v3 filter schema, checked on filter objects.

Every failure is a :class:`~moengage_segments.errors.ValidationError` whose ``field`` is the path of the
offending key (``included.filters[2].operator``) and whose ``reason`` says what is allowed there, so a
bad filter is caught before the request and explained better than the service's generic 400.

Keys the SDK does not know are allowed (the service may accept newer ones), except a key that looks like a
misspelling of a known one (``opertor``): that is almost always a typo the service would ignore silently.
Such a key is reported before any other rule of the object holding it, so a filter whose only
``operator`` is misspelled says ``...opertor: unknown key; did you mean 'operator'?`` rather than
``...operator: is required``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from moengage_segments.errors import ValidationError
from moengage_segments.filters._model import (
    AffinityFilter,
    Aggregation,
    AggregationGroup,
    AttributeFilter,
    AttributeGroup,
    EventFilter,
    Execution,
    Filter,
    FilterGroup,
    GeoFilter,
    ObjectFilter,
    RawFilter,
    SegmentRef,
    TimeRange,
    UserFilter,
)
from moengage_segments.filters._spec import (
    AFFINITY_OPERATOR_TYPES,
    AGGREGATION_OPERATORS,
    AGGREGATION_TYPES,
    ARRAY_FILTER_TYPES,
    ATTRIBUTE_OPERATORS,
    COMPARATORS,
    DATA_TYPES,
    DYNAMIC_TYPES,
    EXECUTION_TYPES,
    EXTRACT_RANGES,
    EXTRACT_TYPES,
    FILTER_TYPES,
    GROUP_OPERATORS,
    PERIOD_UNITS,
    PSYCHOGRAPHIC_OPERATORS,
    TIME_RANGE_TYPES,
    VALUE_TYPES,
)
from moengage_segments.filters._time import parse_iso
from moengage_segments.validation import check_segment_id

__all__ = [
    "AFFINITY_KEYS",
    "AGG_KEYS",
    "BASE_TIME_KEYS",
    "EVENT_KEYS",
    "EXECUTION_KEYS",
    "FILTER_KEYS",
    "GROUP_KEYS",
    "NESTED_KEYS",
    "SEGMENT_KEYS",
    "TIME_KEYS",
    "USER_KEYS",
    "Context",
    "check_filter",
    "check_group",
    "check_segment_ref_id",
    "check_user_filter",
    "operator_alternatives",
    "typo_error",
]

#: Where an attribute filter stands: top level, inside an event's ``attributes``, inside an object
#: attribute, or inside an affinity filter's ``psychographic_attributes``.
Context = Literal["user", "event", "child", "psychographic"]

# Both used with fullmatch: "$" would also match before a trailing newline.
_DYNAMIC_VALUE = re.compile(r"\{\{MoeUserAttribute\['[^'\]]+'\]\}\}")
_MONTH_DAY = re.compile(r"(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
_LIST_OPERATORS = ("in", "containsInTheFollowing", "startsWithInTheFollowing", "endsWithInTheFollowing")
_NO_VALUE_OPERATORS = ("exists", "today")

USER_KEYS = (
    "filter_type",
    "name",
    "data_type",
    "category",
    "operator",
    "negate",
    "value",
    "value1",
    "case_sensitive",
    "value_type",
    "extract_type",
    "array_filter_type",
    "is_dynamic_value",
    "dynamic_attribute_type",
    "project_name",
    "radius",
    "filter_operator",
    "filters",
)
EVENT_KEYS = (
    "filter_type",
    "action_name",
    "project_name",
    "executed",
    "execution",
    "primary_time_range",
    "attributes",
    "aggregation_attributes",
)
AFFINITY_KEYS = (
    "filter_type",
    "action_name",
    "project_name",
    "executed",
    "execution",
    "operator_type",
    "percent_of_times",
    "percent_of_users",
    "psychographic_attributes",
    "attributes",
    "primary_time_range",
)
TIME_KEYS = ("type", "value_type", "value", "value1", "period_unit", "days", "days1", "from", "to")
AGG_KEYS = (
    "attribute_name",
    "data_type",
    "aggregation_type",
    "operator",
    "value",
    "value1",
    "negate",
    "is_dynamic_value",
    "comparator",
    "base_time_range",
)
#: Attribute groups (an event's ``attributes``, affinity attributes, aggregation blocks).
GROUP_KEYS = ("filter_operator", "filters")
#: Root and nested groups (a nested group carries ``filter_type: nested_filters``).
NESTED_KEYS = ("filter_operator", "filters", "filter_type")
SEGMENT_KEYS = ("filter_type", "id", "name")
EXECUTION_KEYS = ("type", "count")
BASE_TIME_KEYS = ("type", "value", "value1")
#: Every key of every filter kind: what a filter without a readable ``filter_type`` is compared with.
FILTER_KEYS = tuple(dict.fromkeys(USER_KEYS + EVENT_KEYS + AFFINITY_KEYS + SEGMENT_KEYS))


def _one_of(values: Iterable[str]) -> str:
    return ", ".join(values)


def is_number(value: Any) -> bool:
    """A JSON number: ``int`` or ``float`` but not ``bool`` (which Python counts as an ``int``)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: Any, minimum: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _swapped(a: str, b: str) -> bool:
    """``a`` is ``b`` with two neighbouring letters swapped (``tpye``), which difflib scores low on short keys."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def typo_error(keys: Iterable[str], path: str, known: Iterable[str]) -> ValidationError | None:
    """The error for the first of ``keys`` that is not in ``known`` but looks like a misspelling of one."""
    known = tuple(known)
    for key in keys:
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.8) or [k for k in known if _swapped(key, k)]
        if close:
            return ValidationError(f"{path}.{key}", f"unknown key; did you mean {close[0]!r}?")
    return None


def _check_extra(extra: Mapping[str, Any], path: str, known: Iterable[str]) -> None:
    error = typo_error(extra, path, known)
    if error is not None:
        raise error


def check_segment_ref_id(value: Any, path: str) -> None:
    """A referenced segment id is 24 hexadecimal characters, as everywhere else in the SDK."""
    check_segment_id(value, path)


def operator_alternatives(operator: str | None, data_type: str, context: Context) -> tuple[str, ...]:
    """The data types (same array-ness as ``data_type``) that allow ``operator``, for a "did you mean" hint.

    Empty when ``operator`` is allowed, unknown everywhere, or ``data_type`` itself is unknown. ``is``/``in``
    on a datetime need an ``extract_type``, so datetime is not offered for them.
    """
    table = PSYCHOGRAPHIC_OPERATORS if context == "psychographic" else ATTRIBUTE_OPERATORS
    allowed = table.get(data_type)
    if operator is None or allowed is None or operator in allowed:
        return ()
    array = data_type.startswith("array_")
    return tuple(
        t
        for t, ops in table.items()
        if operator in ops and t.startswith("array_") == array and not (t == "datetime" and operator in ("is", "in"))
    )


def _check_operator(value: str, path: str) -> None:
    if value not in GROUP_OPERATORS:
        raise ValidationError(path, f"must be 'and' or 'or', got {value!r}")


# --------------------------------------------------------------------------------------------------------
# Groups
# --------------------------------------------------------------------------------------------------------


def check_group(group: FilterGroup, path: str) -> None:
    """Check a root group (``included``/``excluded``) and everything under it."""
    _check_extra(group.extra, path, NESTED_KEYS)
    _check_operator(group.operator, f"{path}.filter_operator")
    if not group.filters:
        raise ValidationError(f"{path}.filters", "must contain at least one filter")
    for i, f in enumerate(group.filters):
        check_filter(f, f"{path}.filters[{i}]")


def check_filter(f: Filter, path: str) -> None:
    """Check one entry of a group's ``filters``."""
    if isinstance(f, FilterGroup):
        check_group(f, path)
    elif isinstance(f, (AttributeFilter, GeoFilter, ObjectFilter)):
        check_user_filter(f, path, "user")
    elif isinstance(f, EventFilter):
        _check_event(f, path)
    elif isinstance(f, AffinityFilter):
        _check_affinity(f, path)
    elif isinstance(f, SegmentRef):
        _check_extra(f.extra, path, SEGMENT_KEYS)
        check_segment_ref_id(f.id, f"{path}.id")
    elif isinstance(f, RawFilter):
        kind = f.filter_type
        reason = (
            f"unknown filter_type {kind!r}" if kind else "filter could not be read"
        ) + f"; allowed: {_one_of(FILTER_TYPES)}"
        raise ValidationError(f"{path}.filter_type", reason)
    else:  # pragma: no cover - guarded by typing
        raise ValidationError(path, f"not a filter: {type(f).__name__}")


# --------------------------------------------------------------------------------------------------------
# User property filters
# --------------------------------------------------------------------------------------------------------


def _check_filter_type(filter_type: str | None, path: str, context: Context) -> None:
    at = f"{path}.filter_type"
    if context == "user" and filter_type != "user_attributes":
        raise ValidationError(at, "must be 'user_attributes' for a user property filter")
    if context == "event" and filter_type not in (None, "action_attributes"):
        raise ValidationError(at, "must be 'action_attributes' (or absent) inside an event's attributes")
    if context == "child" and filter_type not in (None, "user_attributes", "action_attributes"):
        raise ValidationError(at, "must be 'user_attributes', 'action_attributes' or absent in object children")
    if context == "psychographic" and filter_type is not None:
        raise ValidationError(at, "must be absent: psychographic attribute filters carry no filter_type")


def check_user_filter(f: UserFilter | RawFilter, path: str, context: Context) -> None:
    """Check a user-property filter (any data type) standing in ``context``."""
    if isinstance(f, RawFilter):
        raise ValidationError(path, "attribute filter could not be read")
    _check_extra(f.extra, path, USER_KEYS)
    if not f.name.strip():
        raise ValidationError(f"{path}.name", "must be a non-empty attribute name")
    _check_filter_type(f.filter_type, path, context)
    if context == "psychographic":
        if f.data_type not in PSYCHOGRAPHIC_OPERATORS:
            raise ValidationError(
                f"{path}.data_type", f"psychographic attributes allow only string or double, got {f.data_type!r}"
            )
    elif f.data_type not in DATA_TYPES:
        raise ValidationError(f"{path}.data_type", f"unknown data_type {f.data_type!r}; allowed: {_one_of(DATA_TYPES)}")
    if isinstance(f, GeoFilter):
        _check_geo(f, path)
    elif isinstance(f, ObjectFilter):
        _check_object(f, path, context)
    else:
        _check_attribute(f, path, context)


def _check_geo(f: GeoFilter, path: str) -> None:
    if "operator" in f.extra:
        raise ValidationError(f"{path}.operator", "geopoint filters take no operator (the match is 'around')")
    if f.latitude is None or not -90 <= f.latitude <= 90:
        raise ValidationError(f"{path}.value", "is the latitude: a number from -90 to 90")
    if f.longitude is None or not -180 <= f.longitude <= 180:
        raise ValidationError(f"{path}.value1", "is the longitude: a number from -180 to 180")
    if f.radius is None or f.radius <= 0:
        raise ValidationError(f"{path}.radius", "is required for geopoint: a search radius greater than 0")
    _check_not_allowed(f.extra, path, "geopoint")


def _check_object(f: ObjectFilter, path: str, context: Context) -> None:
    for key in ("operator", "negate", "value", "value1"):
        if key in f.extra:
            raise ValidationError(
                f"{path}.{key}", f"not allowed for {f.data_type}: use filter_operator and child filters"
            )
    _check_operator(f.operator, f"{path}.filter_operator")
    if not f.filters:
        raise ValidationError(f"{path}.filters", f"must contain at least one child filter of {f.name!r}")
    _ = context  # children take user_attributes, action_attributes or no filter_type in every context
    for i, child in enumerate(f.filters):
        check_user_filter(child, f"{path}.filters[{i}]", "child")


def _check_not_allowed(extra: Mapping[str, Any], path: str, data_type: str) -> None:
    owner = {"radius": "geopoint", "filter_operator": "object and array_object", "filters": "object and array_object"}
    for key, types in owner.items():
        if key in extra:
            raise ValidationError(f"{path}.{key}", f"not allowed for data_type {data_type!r}; only for {types}")


def _base_type(data_type: str) -> str:
    return data_type[len("array_") :] if data_type.startswith("array_") else data_type


def _check_attribute(f: AttributeFilter, path: str, context: Context) -> None:
    dt = f.data_type
    at = f"{path}.".__add__
    if context == "psychographic":
        allowed = PSYCHOGRAPHIC_OPERATORS[dt]
    elif dt in ATTRIBUTE_OPERATORS:
        allowed = ATTRIBUTE_OPERATORS[dt]
    else:
        raise ValidationError(at("data_type"), f"{dt!r} needs its own filter class (GeoFilter or ObjectFilter)")
    if f.operator is None:
        raise ValidationError(at("operator"), f"is required for data_type {dt!r}; allowed: {_one_of(allowed)}")
    if f.operator not in allowed:
        hint = (
            ""
            if f.extract_type is not None
            else " or ".join(repr(t) for t in operator_alternatives(f.operator, dt, context))
        )
        raise ValidationError(
            at("operator"),
            f"{f.operator!r} is not allowed for data_type {dt!r}; allowed: "
            f"{_one_of(allowed)}" + (f"; did you mean data_type {hint}?" if hint else ""),
        )
    _check_not_allowed(f.extra, path, dt)

    if f.case_sensitive is not None and _base_type(dt) != "string":
        raise ValidationError(at("case_sensitive"), "only allowed for data_type string or array_string")
    if f.array_filter_type is not None:
        if not dt.startswith("array_"):
            raise ValidationError(at("array_filter_type"), "only allowed for array_string or array_double")
        if f.array_filter_type not in ARRAY_FILTER_TYPES:
            raise ValidationError(at("array_filter_type"), "must be 'any_of' or 'all_of'")
    if f.value_type is not None:
        if dt != "datetime":
            raise ValidationError(at("value_type"), "only allowed for data_type datetime")
        if f.value_type not in VALUE_TYPES:
            raise ValidationError(at("value_type"), f"must be one of {_one_of(VALUE_TYPES)}")
    extract = f.extract_type if f.extract_type != "default_option_date" else None
    if f.extract_type is not None:
        psycho_time = context == "psychographic" and f.name == "moe_user_datetime"
        if dt != "datetime" and not psycho_time:
            raise ValidationError(
                at("extract_type"),
                "only allowed for data_type datetime (or the moe_user_datetime time attribute of an affinity filter)",
            )
        allowed_extract = EXTRACT_TYPES if dt == "datetime" else tuple(EXTRACT_RANGES)
        if f.extract_type not in allowed_extract:
            raise ValidationError(at("extract_type"), f"must be one of {_one_of(allowed_extract)}")

    if f.is_dynamic_value:
        _check_dynamic(f, path, context)
        return
    if f.dynamic_attribute_type is not None:
        raise ValidationError(at("dynamic_attribute_type"), "only allowed together with is_dynamic_value: true")
    _check_value(f, path, extract)


def _check_dynamic(f: AttributeFilter, path: str, context: Context) -> None:
    at = f"{path}.".__add__
    if context == "psychographic":
        raise ValidationError(at("is_dynamic_value"), "not available in psychographic attribute filters")
    if f.operator in _NO_VALUE_OPERATORS:
        raise ValidationError(at("is_dynamic_value"), f"not available with operator {f.operator!r}")
    if f.operator == "between" and f.data_type in ("double", "array_double"):
        raise ValidationError(at("is_dynamic_value"), "not available for double/array_double with 'between'")
    base = _base_type(f.data_type)
    if f.dynamic_attribute_type not in DYNAMIC_TYPES:
        raise ValidationError(
            at("dynamic_attribute_type"), f"is required with is_dynamic_value: one of {_one_of(DYNAMIC_TYPES)}"
        )
    if f.dynamic_attribute_type != base:
        raise ValidationError(
            at("dynamic_attribute_type"), f"must be {base!r}, the base type of data_type {f.data_type!r}"
        )
    if not (isinstance(f.value, str) and _DYNAMIC_VALUE.fullmatch(f.value)):
        raise ValidationError(at("value"), "with is_dynamic_value must be \"{{MoeUserAttribute['<name>']}}\"")
    if f.data_type == "datetime" and f.value_type not in (None, "absolute"):
        raise ValidationError(at("value_type"), "must be 'absolute' for a dynamic datetime comparison")


def _check_value(f: AttributeFilter, path: str, extract: str | None) -> None:
    at = f"{path}.".__add__
    op, dt, value = f.operator, f.data_type, f.value
    base = _base_type(dt)

    if op in _NO_VALUE_OPERATORS:
        for key in ("value", "value1"):
            if getattr(f, key) is not None:
                raise ValidationError(at(key), f"must be absent with operator {op!r}")
        if op == "exists" and f.value_type is not None:
            raise ValidationError(at("value_type"), "must be absent with operator 'exists'")
        return
    if value is None:
        raise ValidationError(at("value"), f"is required with operator {op!r}")
    if op != "between" and f.value1 is not None:
        raise ValidationError(at("value1"), "only allowed with operator 'between' (the upper bound)")

    def item_ok(item: Any) -> bool:
        if extract is not None:
            if extract == "date_month_of_the_year":
                return isinstance(item, str) and bool(_MONTH_DAY.fullmatch(item))
            lo, hi = EXTRACT_RANGES.get(extract, (0, 10**9))
            return _is_count(item) and lo <= item <= hi
        if base == "string":
            return isinstance(item, str)
        if base == "double":
            return is_number(item)
        if base == "bool":
            return isinstance(item, bool)
        return isinstance(item, str) and parse_iso(item) is not None  # datetime, absolute

    def item_kind() -> str:
        if extract == "date_month_of_the_year":
            return "'MM-DD' strings such as '06-15'"
        if extract is not None:
            lo, hi = EXTRACT_RANGES.get(extract, (0, 0))
            return f"integers from {lo} to {hi} ({extract})"
        return {"string": "strings", "double": "numbers", "bool": "true or false"}.get(
            base, "ISO 8601 dates such as '2024-01-15T00:00:00.000Z'"
        )

    if dt == "datetime" and extract is None:
        _check_datetime(f, path)
        return

    if op in _LIST_OPERATORS or (dt == "array_string" and op in ("contains", "startsWith", "endsWith")):
        items = value if isinstance(value, tuple) else (value,)
        # ``in`` with a scalar is a documented variant (notes §6.2); the other list operators need lists.
        if not isinstance(value, tuple) and op not in ("in", "contains", "startsWith", "endsWith"):
            raise ValidationError(at("value"), f"must be a list of {item_kind()} with operator {op!r}")
        if not items:
            raise ValidationError(at("value"), f"must not be empty with operator {op!r}")
        for i, item in enumerate(items):
            if not item_ok(item):
                where = at(f"value[{i}]") if isinstance(value, tuple) else at("value")
                raise ValidationError(where, f"must be {item_kind()} for data_type {dt!r}")
        return
    if isinstance(value, tuple):
        raise ValidationError(at("value"), f"must be a single value with operator {op!r}, not a list")
    if not item_ok(value):
        raise ValidationError(at("value"), f"must be {item_kind()} for data_type {dt!r} (a single value)")
    if op == "between":
        if f.value1 is None:
            raise ValidationError(at("value1"), "is required with operator 'between' (the upper bound)")
        if not item_ok(f.value1):
            raise ValidationError(at("value1"), f"must be {item_kind()} for data_type {dt!r}")
        if f.value1 < value:  # type: ignore[operator]
            raise ValidationError(at("value1"), f"must not be less than value ({value!r})")


def _check_datetime(f: AttributeFilter, path: str) -> None:
    at = f"{path}.".__add__
    op, value, vt = f.operator, f.value, f.value_type
    if op in ("is", "in"):
        raise ValidationError(
            at("operator"),
            f"{op!r} on a datetime needs an extract_type (e.g. day_of_the_week); for a full date use 'on'",
        )
    if isinstance(value, tuple):
        raise ValidationError(at("value"), f"must be a single value with operator {op!r}, not a list")
    if op == "inTheLast" and vt != "relative_past":
        raise ValidationError(at("value_type"), "must be 'relative_past' with operator 'inTheLast'")
    if op == "inTheNext" and vt != "relative_future":
        raise ValidationError(at("value_type"), "must be 'relative_future' with operator 'inTheNext'")
    if vt is None:
        raise ValidationError(
            at("value_type"), f"is required with operator {op!r}: absolute, relative_past or relative_future"
        )
    bounds = [("value", value)] + ([("value1", f.value1)] if op == "between" else [])
    if op == "between" and f.value1 is None:
        raise ValidationError(at("value1"), "is required with operator 'between' (the end of the range)")
    parsed: list[Any] = []
    for key, bound in bounds:
        if vt == "absolute":
            moment = parse_iso(bound) if isinstance(bound, str) else None
            if moment is None:
                raise ValidationError(
                    at(key), "must be an ISO 8601 date such as '2024-01-15T00:00:00.000Z' with value_type 'absolute'"
                )
            parsed.append(moment)
        else:
            minimum = 1 if op in ("inTheLast", "inTheNext") else 0
            if not _is_count(bound, minimum):
                raise ValidationError(at(key), f"must be a whole number >= {minimum} with value_type {vt!r}")
            parsed.append(bound)
    if len(parsed) == 2 and parsed[1] < parsed[0]:
        raise ValidationError(at("value1"), "must not be before value (the start of the range)")


# --------------------------------------------------------------------------------------------------------
# Events, affinity, aggregation
# --------------------------------------------------------------------------------------------------------


def _check_execution(execution: Execution | None, executed: bool | None, path: str) -> None:
    at = f"{path}.execution"
    if execution is None:
        raise ValidationError(at, 'is required: e.g. {"type": "atleast", "count": 1}')
    _check_extra(execution.extra, at, EXECUTION_KEYS)
    if execution.type not in EXECUTION_TYPES:
        raise ValidationError(f"{at}.type", f"must be one of {_one_of(EXECUTION_TYPES)}")
    if executed is False:
        if execution.type != "exactly" or execution.count != 0:
            raise ValidationError(at, 'must be {"type": "exactly", "count": 0} when executed is false')
        return
    if execution.type in ("firstTime", "lastTime"):
        if execution.count is not None:
            raise ValidationError(f"{at}.count", f"must be absent with type {execution.type!r}")
    elif not _is_count(execution.count, 1):
        raise ValidationError(f"{at}.count", f"is required with type {execution.type!r}: a whole number > 0")


def _check_event(f: EventFilter, path: str) -> None:
    _check_extra(f.extra, path, EVENT_KEYS)
    if not f.action_name.strip():
        raise ValidationError(f"{path}.action_name", "must be a non-empty event name")
    if f.executed is None:
        raise ValidationError(f"{path}.executed", "is required: true (performed) or false (not performed)")
    _check_execution(f.execution, f.executed, path)
    if f.primary_time_range is None:
        raise ValidationError(
            f"{path}.primary_time_range",
            "is required: e.g. event(...).in_the_last(30) / "
            '{"type": "inTheLast", "value": 30, "value_type": "relative_past", '
            '"period_unit": "days"}',
        )
    _check_window(f.primary_time_range, f"{path}.primary_time_range")
    if f.attributes is None:
        raise ValidationError(
            f"{path}.attributes", 'is required, even when empty: {"filter_operator": "and", "filters": []}'
        )
    _check_attribute_group(f.attributes, f"{path}.attributes", "event", allow_empty=True)
    if f.aggregation_attributes is not None:
        _check_aggregation(f, f.aggregation_attributes, f"{path}.aggregation_attributes")


def _check_attribute_group(group: AttributeGroup, path: str, context: Context, *, allow_empty: bool) -> None:
    _check_extra(group.extra, path, GROUP_KEYS)
    _check_operator(group.operator, f"{path}.filter_operator")
    if not group.filters and not allow_empty:
        raise ValidationError(f"{path}.filters", "must contain at least one attribute filter")
    for i, child in enumerate(group.filters):
        check_user_filter(child, f"{path}.filters[{i}]", context)


def _check_window(tr: TimeRange, path: str) -> None:
    at = f"{path}.".__add__
    _check_extra(tr.extra, path, TIME_KEYS)
    if tr.type not in TIME_RANGE_TYPES:
        raise ValidationError(at("type"), f"must be one of {_one_of(TIME_RANGE_TYPES)}")
    if tr.value_type not in ("absolute", "relative_past"):
        raise ValidationError(at("value_type"), "is required: 'absolute' or 'relative_past'")
    if tr.period_unit is not None and tr.period_unit not in PERIOD_UNITS:
        raise ValidationError(at("period_unit"), f"must be one of {_one_of(PERIOD_UNITS)}")
    # Three documented spellings of the bounds: value/value1 (API), days/days1 (dashboard, affinity
    # relative) and from/to (affinity absolute). Read whichever was used, but never a mix.
    forms = [
        name
        for name, used in (
            ("value/value1", tr.value is not None or tr.value1 is not None),
            ("days/days1", tr.days is not None or tr.days1 is not None),
            ("from/to", tr.from_ is not None or tr.to is not None),
        )
        if used
    ]
    if len(forms) > 1:
        raise ValidationError(path, f"uses both {forms[0]} and {forms[1]}; use one form")
    start_key, end_key = "value", "value1"
    start: Any = tr.value
    end: Any = tr.value1
    if forms == ["days/days1"]:
        start_key, end_key, start, end = "days", "days1", tr.days, tr.days1
    elif forms == ["from/to"]:
        start_key, end_key, start, end = "from", "to", tr.from_, tr.to
    if start is None:
        raise ValidationError(at(start_key), f"is required for a {tr.type!r} window")
    if tr.type != "between" and end is not None:
        raise ValidationError(at(end_key), "only allowed with type 'between' (the end of the window)")
    if tr.type == "between" and end is None:
        raise ValidationError(at(end_key), "is required with type 'between' (the end of the window)")
    if tr.type == "inTheLast" and tr.value_type != "relative_past":
        raise ValidationError(at("value_type"), "must be 'relative_past' with type 'inTheLast'")
    if tr.type == "after" and tr.value_type != "absolute":
        raise ValidationError(at("value_type"), "must be 'absolute' with type 'after' (a date)")
    bounds = [(start_key, start)] + ([(end_key, end)] if tr.type == "between" else [])
    parsed: list[Any] = []
    for key, bound in bounds:
        if tr.value_type == "absolute":
            moment = parse_iso(bound) if isinstance(bound, str) else None
            if moment is None:
                raise ValidationError(
                    at(key), "must be an ISO 8601 date such as '2024-01-15T00:00:00.000Z' with value_type 'absolute'"
                )
            parsed.append(moment)
        else:
            minimum = 1 if tr.type == "inTheLast" else 0
            if not _is_count(bound, minimum):
                raise ValidationError(at(key), f"must be a whole number >= {minimum} with value_type 'relative_past'")
            parsed.append(bound)
    if len(parsed) == 2 and not parsed[1] > parsed[0]:
        raise ValidationError(at(end_key), f"must be greater than {start_key} (the start of the window)")


def _check_aggregation(f: EventFilter, group: AggregationGroup, path: str) -> None:
    _check_extra(group.extra, path, GROUP_KEYS)
    if not f.executed:
        raise ValidationError(path, "aggregation is only allowed when executed is true")
    if f.execution is not None and f.execution.type in ("firstTime", "lastTime"):
        raise ValidationError(path, f"aggregation is not allowed with execution type {f.execution.type!r}")
    if f.primary_time_range is not None and f.primary_time_range.type in ("before", "after"):
        raise ValidationError(
            path,
            f"aggregation is not allowed with an unbounded window "
            f"({f.primary_time_range.type!r}); use inTheLast, between or on",
        )
    _check_operator(group.operator, f"{path}.filter_operator")
    if len(group.filters) != 1:
        raise ValidationError(
            f"{path}.filters", f"must hold exactly one aggregation condition, got {len(group.filters)}"
        )
    agg = group.filters[0]
    at = f"{path}.filters[0]"
    if isinstance(agg, RawFilter):
        raise ValidationError(at, "aggregation condition could not be read")
    _check_aggregation_condition(agg, at)


def _check_aggregation_condition(a: Aggregation, path: str) -> None:
    at = f"{path}.".__add__
    _check_extra(a.extra, path, AGG_KEYS)
    if not a.attribute_name.strip():
        raise ValidationError(at("attribute_name"), "must be the name of a numeric event attribute")
    if a.data_type != "double":
        raise ValidationError(at("data_type"), "must be 'double' (only numeric attributes can be aggregated)")
    if a.aggregation_type not in AGGREGATION_TYPES:
        raise ValidationError(at("aggregation_type"), f"must be one of {_one_of(AGGREGATION_TYPES)}")
    if a.operator not in AGGREGATION_OPERATORS:
        raise ValidationError(at("operator"), f"must be one of {_one_of(AGGREGATION_OPERATORS)}")
    numeric = is_number(a.value) or (a.is_dynamic_value is True and isinstance(a.value, str))
    if a.value is None or not numeric:
        raise ValidationError(
            at("value"), "is required: a number (or a personalization token with is_dynamic_value: true)"
        )
    if a.operator == "between":
        if not is_number(a.value1):
            raise ValidationError(at("value1"), "is required with operator 'between': a number")
        if is_number(a.value) and a.value1 <= a.value:  # type: ignore[operator]
            raise ValidationError(at("value1"), "must be greater than value")
    elif a.value1 is not None:
        raise ValidationError(at("value1"), "only allowed with operator 'between'")
    if a.comparator is not None and a.comparator not in COMPARATORS:
        raise ValidationError(at("comparator"), f"must be one of {_one_of(COMPARATORS)} (or absent)")
    if (a.comparator is None) != (a.base_time_range is None):
        raise ValidationError(
            at("base_time_range"),
            "is required exactly when comparator is set" if a.comparator else "only allowed together with comparator",
        )
    base = a.base_time_range
    if base is not None:
        b = f"{path}.base_time_range"
        _check_extra(base.extra, b, BASE_TIME_KEYS)
        if base.type == "previousPeriod":
            if base.value is not None or base.value1 is not None:
                raise ValidationError(b, "previousPeriod takes no value/value1")
        elif base.type == "between":
            start = parse_iso(base.value) if base.value else None
            end = parse_iso(base.value1) if base.value1 else None
            if start is None:
                raise ValidationError(f"{b}.value", "is required: an ISO 8601 start date")
            if end is None or end <= start:
                raise ValidationError(f"{b}.value1", "is required: an ISO 8601 end date after value")
        else:
            raise ValidationError(f"{b}.type", "must be 'previousPeriod' or 'between'")


def _check_affinity(f: AffinityFilter, path: str) -> None:
    at = f"{path}.".__add__
    _check_extra(f.extra, path, AFFINITY_KEYS)
    if not f.action_name.strip():
        raise ValidationError(at("action_name"), "must be a non-empty event name")
    if f.executed is None:
        raise ValidationError(at("executed"), "is required: true or false")
    _check_execution(f.execution, f.executed, path)
    if f.operator_type not in AFFINITY_OPERATOR_TYPES:
        raise ValidationError(at("operator_type"), f"must be one of {_one_of(AFFINITY_OPERATOR_TYPES)}")
    needs = {"minimum": "percent_of_times", "top": "percent_of_users", "bottom": "percent_of_users"}
    wanted = needs.get(f.operator_type)
    for key in ("percent_of_times", "percent_of_users"):
        value = getattr(f, key)
        if key == wanted:
            if not (_is_count(value, 1) and value <= 100):
                raise ValidationError(
                    at(key), f"is required with operator_type {f.operator_type!r}: a whole number from 1 to 100"
                )
        elif value is not None:
            users = "minimum" if key == "percent_of_times" else "top or bottom"
            raise ValidationError(at(key), f"only allowed with operator_type {users}")
    _check_attribute_group(
        f.psychographic_attributes, at("psychographic_attributes"), "psychographic", allow_empty=False
    )
    if f.attributes is not None:
        _check_attribute_group(f.attributes, at("attributes"), "event", allow_empty=True)
    if f.primary_time_range is None:
        raise ValidationError(
            at("primary_time_range"),
            'is required for affinity filters: e.g. {"type": "inTheLast", "value_type": "relative_past", "days": 90}',
        )
    _check_window(f.primary_time_range, at("primary_time_range"))
