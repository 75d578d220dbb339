"""Payload (dict) -> filter objects.

Parsing is two steps: a structural read here (is it an object, is ``negate`` a boolean, ...), then, in
strict mode, the rules in :mod:`._validate`. In lenient mode (for what the server returns) a filter that
cannot be read structurally, or has an unknown ``filter_type``, is kept whole as a :class:`RawFilter`, so
a segment with a filter kind newer than this SDK still loads and round-trips.

A required key that is missing is reported as a misspelling instead when the object holds an unknown key
that looks like it (``{"opertor": "in"}`` says ``...opertor: unknown key; did you mean 'operator'?``), the
same message :mod:`._validate` gives for a misspelled optional key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from moengage_segments.errors import ValidationError
from moengage_segments.filters._model import (
    AffinityFilter,
    Aggregation,
    AggregationGroup,
    AttributeFilter,
    AttributeGroup,
    BaseTimeRange,
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
from moengage_segments.filters._spec import FILTER_TYPES
from moengage_segments.filters._validate import (
    AFFINITY_KEYS,
    AGG_KEYS,
    BASE_TIME_KEYS,
    EVENT_KEYS,
    EXECUTION_KEYS,
    FILTER_KEYS,
    GROUP_KEYS,
    NESTED_KEYS,
    SEGMENT_KEYS,
    TIME_KEYS,
    USER_KEYS,
    is_number,
    typo_error,
)

__all__ = ["parse_filter", "parse_group_structure"]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


class _Obj:
    """Reads typed fields out of one JSON object and remembers which keys were used (the rest is extra)."""

    def __init__(self, data: Any, path: str, what: str, known: tuple[str, ...]) -> None:
        if not isinstance(data, Mapping):
            raise ValidationError(path, f"must be an object ({what}), got {_kind(data)}")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.known = known
        self.used: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def missing(self, key: str, reason: str) -> ValidationError:
        """The error for a missing required ``key``: a likely misspelling of a known key if there is one."""
        return typo_error(self.data, self.path, self.known) or ValidationError(self.at(key), reason)

    def raw(self, key: str) -> Any:
        self.used.add(key)
        return self.data.get(key)

    def has(self, key: str) -> bool:
        return key in self.data

    def str_(self, key: str, *, required: str | None = None) -> str | None:
        value = self.raw(key)
        if value is None:
            if required is not None and key not in self.data:
                raise self.missing(key, f"is required: {required}")
            if key in self.data:
                raise ValidationError(self.at(key), "must be a string, got null")
            return None
        if not isinstance(value, str):
            raise ValidationError(self.at(key), f"must be a string, got {_kind(value)}")
        return value

    def req_str(self, key: str, what: str) -> str:
        value = self.str_(key, required=what)
        assert value is not None
        return value

    def bool_(self, key: str) -> bool | None:
        value = self.raw(key)
        if value is None and key not in self.data:
            return None
        if not isinstance(value, bool):
            raise ValidationError(self.at(key), f"must be true or false, got {_kind(value)}")
        return value

    def int_(self, key: str) -> int | None:
        value = self.raw(key)
        if value is None and key not in self.data:
            return None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(self.at(key), f"must be an integer, got {_kind(value)}")
        return value

    def number(self, key: str) -> float | None:
        value = self.raw(key)
        if value is None and key not in self.data:
            return None
        if not is_number(value):
            raise ValidationError(self.at(key), f"must be a number, got {_kind(value)}")
        result: float = value
        return result

    def bound(self, key: str) -> str | int | float | None:
        value = self.raw(key)
        if value is None and key not in self.data:
            return None
        if not (isinstance(value, str) or is_number(value)):
            raise ValidationError(self.at(key), f"must be a string or a number, got {_kind(value)}")
        result: str | int | float = value
        return result

    def value(self, key: str) -> Any:
        value = self.raw(key)
        if value is None and key not in self.data:
            return None
        if isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if not (isinstance(item, str) or is_number(item)):
                    raise ValidationError(
                        f"{self.at(key)}[{i}]", f"list items must be strings or numbers, got {_kind(item)}"
                    )
            return tuple(value)
        if not (isinstance(value, (str, bool)) or is_number(value)):
            raise ValidationError(self.at(key), f"must be a string, number, boolean or list, got {_kind(value)}")
        return value

    def list_(self, key: str, what: str) -> list[Any]:
        self.used.add(key)
        if key not in self.data:
            raise self.missing(key, f"is required: {what}")
        value = self.data[key]
        if not isinstance(value, (list, tuple)):
            raise ValidationError(self.at(key), f"must be a list ({what}), got {_kind(value)}")
        return list(value)

    def extra(self) -> dict[str, Any]:
        return {k: v for k, v in self.data.items() if k not in self.used}


# ---------------------------------------------------------------------------------------------------------

MAX_FILTER_DEPTH = 16
"""How deeply filter groups may nest (``nested_filters`` groups and object-attribute child filters).

The service counts far fewer levels (the help centre names 3, referenced segments included); this bound
only keeps a runaway definition from exhausting Python's stack. Deeper input is a ``ValidationError``
naming the first group past it.

Example::

    from moengage_segments.filters import MAX_FILTER_DEPTH
    assert MAX_FILTER_DEPTH == 16
"""


def check_depth(value: Any, path: str) -> None:
    """Raise :class:`ValidationError` at the first group nested deeper than :data:`MAX_FILTER_DEPTH`.

    Takes a payload (dicts and lists) or filter objects, and walks it without recursion, so neither a
    500-level definition nor a dict that contains itself can raise ``RecursionError`` or loop.
    """
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack:
        node, where, depth = stack.pop()
        children = node.get("filters") if isinstance(node, Mapping) else getattr(node, "filters", None)
        if not isinstance(children, (list, tuple)):
            continue
        if depth > MAX_FILTER_DEPTH:
            raise ValidationError(
                where, f"filter groups are nested more than {MAX_FILTER_DEPTH} levels deep; flatten the definition"
            )
        stack.extend((child, f"{where}.filters[{i}]", depth + 1) for i, child in enumerate(children))


def parse_group_structure(payload: Any, path: str, *, strict: bool) -> FilterGroup:
    """Read a root group (``{"filter_operator", "filters"}``) without running the validation rules."""
    obj = _Obj(payload, path, 'a filter group: {"filter_operator": "and"|"or", "filters": [...]}', NESTED_KEYS)
    operator = obj.req_str("filter_operator", '"and" or "or"')
    items = obj.list_("filters", "the filters of this group")
    filters = tuple(_filter_or_raw(item, f"{path}.filters[{i}]", strict) for i, item in enumerate(items))
    return FilterGroup(operator, filters, extra=obj.extra())


def _filter_or_raw(item: Any, path: str, strict: bool) -> Filter:
    if strict:
        return parse_filter(item, path, strict=True)
    try:
        return parse_filter(item, path, strict=False)
    except ValidationError:
        # Lenient: the server may send shapes this SDK does not know; keep them instead of failing.
        return RawFilter(item)


def parse_filter(item: Any, path: str, *, strict: bool) -> Filter:
    """Read one entry of a group's ``filters`` list, dispatching on ``filter_type``."""
    obj = _Obj(item, path, "a filter", FILTER_KEYS)
    kind = obj.data.get("filter_type")
    if kind == "user_attributes":
        return _user(obj, strict)
    if kind == "actions":
        obj.known = EVENT_KEYS
        return _event(obj, strict)
    if kind == "psychographic_event":
        obj.known = AFFINITY_KEYS
        return _affinity(obj, strict)
    if kind == "custom_segments":
        obj.known = SEGMENT_KEYS
        obj.used.add("filter_type")
        ref = SegmentRef(obj.req_str("id", "the id of the saved segment"), obj.str_("name"))
        return attrs.evolve(ref, extra=obj.extra())
    if kind == "nested_filters":
        obj.known = NESTED_KEYS
        obj.used.add("filter_type")
        operator = obj.req_str("filter_operator", '"and" or "or"')
        items = obj.list_("filters", "the filters of this nested group")
        filters = tuple(_filter_or_raw(x, f"{path}.filters[{i}]", strict) for i, x in enumerate(items))
        return FilterGroup(operator, filters, extra=obj.extra())
    allowed = ", ".join(FILTER_TYPES)
    if "filter_type" not in obj.data:
        raise obj.missing("filter_type", f"is required; allowed: {allowed}")
    if kind == "action_attributes":
        raise ValidationError(
            f"{path}.filter_type",
            f"'action_attributes' is only allowed inside an event's attributes block; allowed here: {allowed}",
        )
    raise ValidationError(f"{path}.filter_type", f"unknown filter_type {kind!r}; allowed: {allowed}")


def _user(obj: _Obj, strict: bool) -> UserFilter:
    obj.known = USER_KEYS
    filter_type = obj.str_("filter_type")
    name = obj.req_str("name", "the attribute name")
    data_type = obj.req_str("data_type", "the attribute's data type")
    category = obj.str_("category")
    project_name = obj.str_("project_name")
    if data_type == "geopoint":
        geo = GeoFilter(
            name=name,
            latitude=obj.number("value"),
            longitude=obj.number("value1"),
            radius=obj.number("radius"),
            negate=obj.bool_("negate"),
            category=category,
            project_name=project_name,
            filter_type=filter_type,
        )
        return attrs.evolve(geo, extra=obj.extra())
    if data_type in ("object", "array_object"):
        operator = obj.req_str("filter_operator", f'"and" or "or" (combines the {data_type} child filters)')
        items = obj.list_("filters", f"the child filters of the {data_type} attribute")
        children = tuple(_child_or_raw(x, f"{obj.path}.filters[{i}]", strict) for i, x in enumerate(items))
        return ObjectFilter(
            name=name,
            data_type=data_type,
            operator=operator,
            filters=children,
            category=category,
            project_name=project_name,
            filter_type=filter_type,
            extra=obj.extra(),
        )
    return AttributeFilter(
        name=name,
        data_type=data_type,
        operator=obj.str_("operator"),
        value=obj.value("value"),
        value1=obj.bound("value1"),
        negate=obj.bool_("negate"),
        case_sensitive=obj.bool_("case_sensitive"),
        value_type=obj.str_("value_type"),
        extract_type=obj.str_("extract_type"),
        array_filter_type=obj.str_("array_filter_type"),
        is_dynamic_value=obj.bool_("is_dynamic_value"),
        dynamic_attribute_type=obj.str_("dynamic_attribute_type"),
        category=category,
        project_name=project_name,
        filter_type=filter_type,
        extra=obj.extra(),
    )


def _child_or_raw(item: Any, path: str, strict: bool) -> UserFilter | RawFilter:
    try:
        return _user(_Obj(item, path, "an attribute filter", USER_KEYS), strict)
    except ValidationError:
        if strict:
            raise
        return RawFilter(item)


def _attribute_group(value: Any, path: str, strict: bool) -> AttributeGroup:
    obj = _Obj(value, path, 'an attribute group: {"filter_operator": "and"|"or", "filters": [...]}', GROUP_KEYS)
    operator = obj.req_str("filter_operator", '"and" or "or"')
    items = obj.list_("filters", "attribute filters (may be empty)")
    filters = tuple(_child_or_raw(x, f"{path}.filters[{i}]", strict) for i, x in enumerate(items))
    return AttributeGroup(operator=operator, filters=filters, extra=obj.extra())


def _execution(obj: _Obj) -> Execution | None:
    if not obj.has("execution"):
        obj.used.add("execution")
        return None
    ex = _Obj(
        obj.raw("execution"), obj.at("execution"), 'the frequency: {"type": "atleast", "count": 1}', EXECUTION_KEYS
    )
    return Execution(
        type=ex.req_str("type", "atleast, exactly, atmost, firstTime or lastTime"),
        count=ex.int_("count"),
        extra=ex.extra(),
    )


def _time_range(obj: _Obj) -> TimeRange | None:
    if not obj.has("primary_time_range"):
        obj.used.add("primary_time_range")
        return None
    tr = _Obj(obj.raw("primary_time_range"), obj.at("primary_time_range"), "the time window", TIME_KEYS)
    return TimeRange(
        type=tr.req_str("type", "inTheLast, between, on, before or after"),
        value_type=tr.str_("value_type"),
        value=tr.bound("value"),
        value1=tr.bound("value1"),
        period_unit=tr.str_("period_unit"),
        days=tr.int_("days"),
        days1=tr.int_("days1"),
        from_=tr.str_("from"),
        to=tr.str_("to"),
        extra=tr.extra(),
    )


def _optional_group(obj: _Obj, key: str, strict: bool) -> AttributeGroup | None:
    if not obj.has(key):
        obj.used.add(key)
        return None
    return _attribute_group(obj.raw(key), obj.at(key), strict)


def _event(obj: _Obj, strict: bool) -> EventFilter:
    obj.used.add("filter_type")
    aggregation: AggregationGroup | None = None
    name = obj.req_str("action_name", "the event name")
    project_name = obj.str_("project_name")
    executed = obj.bool_("executed")
    execution = _execution(obj)
    window = _time_range(obj)
    attributes = _optional_group(obj, "attributes", strict)
    if obj.has("aggregation_attributes"):
        aggregation = _aggregation_group(obj.raw("aggregation_attributes"), obj.at("aggregation_attributes"), strict)
    obj.used.add("aggregation_attributes")
    return EventFilter(
        action_name=name,
        project_name=project_name,
        executed=executed,
        execution=execution,
        primary_time_range=window,
        attributes=attributes,
        aggregation_attributes=aggregation,
        extra=obj.extra(),
    )


def _aggregation_group(value: Any, path: str, strict: bool) -> AggregationGroup:
    obj = _Obj(value, path, 'the aggregation block: {"filter_operator": "and", "filters": [one condition]}', GROUP_KEYS)
    operator = obj.req_str("filter_operator", '"and" or "or"')
    items = obj.list_("filters", "exactly one aggregation condition")
    filters: list[Aggregation | RawFilter] = []
    for i, item in enumerate(items):
        try:
            filters.append(_aggregation(item, f"{path}.filters[{i}]"))
        except ValidationError:
            if strict:
                raise
            filters.append(RawFilter(item))
    return AggregationGroup(operator=operator, filters=tuple(filters), extra=obj.extra())


def _aggregation(value: Any, path: str) -> Aggregation:
    obj = _Obj(value, path, "an aggregation condition", AGG_KEYS)
    base: BaseTimeRange | None = None
    attribute_name = obj.req_str("attribute_name", "the numeric event attribute to aggregate")
    aggregation_type = obj.req_str("aggregation_type", "sum, avg, min, max or median")
    operator = obj.req_str("operator", "is, between, lessThan or greaterThan")
    if obj.has("base_time_range"):
        b = _Obj(obj.raw("base_time_range"), obj.at("base_time_range"), "the base window", BASE_TIME_KEYS)
        base = BaseTimeRange(
            type=b.req_str("type", "previousPeriod or between"),
            value=b.str_("value"),
            value1=b.str_("value1"),
            extra=b.extra(),
        )
    obj.used.add("base_time_range")
    return Aggregation(
        attribute_name=attribute_name,
        data_type=obj.str_("data_type"),
        aggregation_type=aggregation_type,
        operator=operator,
        value=obj.bound("value"),
        value1=obj.bound("value1"),
        negate=obj.bool_("negate"),
        is_dynamic_value=obj.bool_("is_dynamic_value"),
        comparator=obj.str_("comparator"),
        base_time_range=base,
        extra=obj.extra(),
    )


def _affinity(obj: _Obj, strict: bool) -> AffinityFilter:
    obj.used.add("filter_type")
    name = obj.req_str("action_name", "the event name")
    operator_type = obj.req_str("operator_type", "predominant, minimum, top or bottom")
    if not obj.has("psychographic_attributes"):
        raise obj.missing(
            "psychographic_attributes", "is required: at least one attribute filter saying what the affinity is about"
        )
    psycho = _attribute_group(obj.raw("psychographic_attributes"), obj.at("psychographic_attributes"), strict)
    return AffinityFilter(
        action_name=name,
        operator_type=operator_type,
        psychographic_attributes=psycho,
        project_name=obj.str_("project_name"),
        executed=obj.bool_("executed"),
        execution=_execution(obj),
        percent_of_times=obj.int_("percent_of_times"),
        percent_of_users=obj.int_("percent_of_users"),
        primary_time_range=_time_range(obj),
        attributes=_optional_group(obj, "attributes", strict),
        extra=obj.extra(),
    )
