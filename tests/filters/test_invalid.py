"""Invalid filters are rejected before sending, with the path of the offending key and what is allowed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from moengage_segments.errors import ValidationError
from moengage_segments.filters import coerce_group, parse_group


def ua(**over: Any) -> dict[str, Any]:
    base = {
        "filter_type": "user_attributes",
        "name": "city",
        "data_type": "string",
        "operator": "in",
        "negate": False,
        "case_sensitive": False,
        "value": ["New York"],
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not _DROP}


def ev(**over: Any) -> dict[str, Any]:
    base = {
        "filter_type": "actions",
        "action_name": "purchase",
        "executed": True,
        "execution": {"type": "atleast", "count": 1},
        "primary_time_range": {"type": "inTheLast", "value": 30, "value_type": "relative_past", "period_unit": "days"},
        "attributes": {"filter_operator": "and", "filters": []},
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not _DROP}


def aff(**over: Any) -> dict[str, Any]:
    base = {
        "filter_type": "psychographic_event",
        "action_name": "purchase",
        "executed": True,
        "execution": {"type": "atleast", "count": 1},
        "operator_type": "top",
        "percent_of_users": 10,
        "psychographic_attributes": {
            "filter_operator": "and",
            "filters": [
                {
                    "name": "product_category",
                    "data_type": "string",
                    "category": "Event Attributes",
                    "operator": "exists",
                    "negate": False,
                }
            ],
        },
        "primary_time_range": {"type": "inTheLast", "value_type": "relative_past", "days": 30},
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not _DROP}


def agg(**over: Any) -> dict[str, Any]:
    cond = {
        "attribute_name": "revenue",
        "data_type": "double",
        "aggregation_type": "sum",
        "operator": "greaterThan",
        "value": 1000,
        "negate": False,
    }
    cond.update(over)
    return {"filter_operator": "and", "filters": [{k: v for k, v in cond.items() if v is not _DROP}]}


def window(**over: Any) -> dict[str, Any]:
    base = {"type": "inTheLast", "value": 30, "value_type": "relative_past", "period_unit": "days"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()
OK = ua()  # a valid filter, placed first so the bad one is always at filters[1]

CASES: list[tuple[str, Any, str, str]] = [
    # (id, bad filter, expected field, fragment of the reason)
    ("string-between", ua(operator="between", value=1, value1=2), "included.filters[1].operator", "allowed: in, is"),
    (
        "bool-in",
        ua(name="vip", data_type="bool", operator="in", value=["yes"], case_sensitive=_DROP),
        "included.filters[1].operator",
        "allowed: is, exists",
    ),
    ("unknown-operator", ua(operator="equals"), "included.filters[1].operator", "not allowed"),
    ("missing-operator", ua(operator=_DROP), "included.filters[1].operator", "is required"),
    ("unknown-data-type", ua(data_type="text"), "included.filters[1].data_type", "allowed: string"),
    ("missing-name", ua(name=_DROP), "included.filters[1].name", "is required"),
    ("empty-name", ua(name="  "), "included.filters[1].name", "non-empty"),
    (
        "missing-filter-type",
        {k: v for k, v in ua().items() if k != "filter_type"},
        "included.filters[1].filter_type",
        "is required",
    ),
    ("unknown-filter-type", ua(filter_type="user_props"), "included.filters[1].filter_type", "unknown filter_type"),
    (
        "action-attributes-at-top",
        ua(filter_type="action_attributes"),
        "included.filters[1].filter_type",
        "only allowed inside an event",
    ),
    ("in-empty-list", ua(value=[]), "included.filters[1].value", "must not be empty"),
    ("in-number-for-string", ua(value=["a", 3]), "included.filters[1].value[1]", "must be strings"),
    ("is-with-list", ua(operator="is", value=["a"]), "included.filters[1].value", "single value"),
    (
        "contains-following-scalar",
        ua(operator="containsInTheFollowing", value="a"),
        "included.filters[1].value",
        "must be a list",
    ),
    ("exists-with-value", ua(operator="exists", value="x"), "included.filters[1].value", "must be absent"),
    ("missing-value", ua(value=_DROP), "included.filters[1].value", "is required"),
    ("negate-not-bool", ua(negate="no"), "included.filters[1].negate", "true or false"),
    (
        "case-sensitive-on-double",
        ua(name="age", data_type="double", operator="greaterThan", value=3),
        "included.filters[1].case_sensitive",
        "only allowed for data_type string",
    ),
    (
        "double-between-reversed",
        ua(name="age", data_type="double", operator="between", value=65, value1=18, case_sensitive=_DROP),
        "included.filters[1].value1",
        "not be less",
    ),
    (
        "double-between-no-upper",
        ua(name="age", data_type="double", operator="between", value=18, case_sensitive=_DROP),
        "included.filters[1].value1",
        "is required",
    ),
    (
        "value1-without-between",
        ua(name="age", data_type="double", operator="lessThan", value=3, value1=4, case_sensitive=_DROP),
        "included.filters[1].value1",
        "only allowed",
    ),
    (
        "double-text-value",
        ua(name="age", data_type="double", operator="lessThan", value="3", case_sensitive=_DROP),
        "included.filters[1].value",
        "must be numbers",
    ),
    (
        "datetime-in-the-last-absolute",
        ua(
            name="seen",
            data_type="datetime",
            operator="inTheLast",
            value=7,
            value_type="absolute",
            case_sensitive=_DROP,
        ),
        "included.filters[1].value_type",
        "relative_past",
    ),
    (
        "datetime-on-bad-date",
        ua(
            name="seen",
            data_type="datetime",
            operator="on",
            value="15/01/2024",
            value_type="absolute",
            case_sensitive=_DROP,
        ),
        "included.filters[1].value",
        "ISO 8601",
    ),
    (
        "datetime-missing-value-type",
        ua(name="seen", data_type="datetime", operator="before", value=3, case_sensitive=_DROP),
        "included.filters[1].value_type",
        "is required",
    ),
    (
        "datetime-in-without-extract",
        ua(name="seen", data_type="datetime", operator="in", value=[1], case_sensitive=_DROP),
        "included.filters[1].operator",
        "extract_type",
    ),
    (
        "extract-out-of-range",
        ua(
            name="seen",
            data_type="datetime",
            operator="is",
            value=24,
            extract_type="time_of_the_day",
            case_sensitive=_DROP,
        ),
        "included.filters[1].value",
        "from 0 to 23",
    ),
    (
        "extract-month-day-format",
        ua(
            name="dob",
            data_type="datetime",
            operator="is",
            value="6-15",
            extract_type="date_month_of_the_year",
            case_sensitive=_DROP,
        ),
        "included.filters[1].value",
        "MM-DD",
    ),
    (
        "value-type-on-string",
        ua(value_type="absolute"),
        "included.filters[1].value_type",
        "only allowed for data_type datetime",
    ),
    (
        "array-filter-type-on-string",
        ua(array_filter_type="any_of"),
        "included.filters[1].array_filter_type",
        "only allowed for array",
    ),
    (
        "array-filter-type-unknown",
        ua(data_type="array_string", array_filter_type="some_of"),
        "included.filters[1].array_filter_type",
        "any_of",
    ),
    (
        "geo-missing-radius",
        {"filter_type": "user_attributes", "name": "loc", "data_type": "geopoint", "value": 40.7, "value1": -74.0},
        "included.filters[1].radius",
        "is required",
    ),
    (
        "geo-latitude-range",
        {
            "filter_type": "user_attributes",
            "name": "loc",
            "data_type": "geopoint",
            "value": 140.7,
            "value1": -74.0,
            "radius": 10,
        },
        "included.filters[1].value",
        "latitude",
    ),
    (
        "geo-with-operator",
        {
            "filter_type": "user_attributes",
            "name": "loc",
            "data_type": "geopoint",
            "operator": "in",
            "value": 40.7,
            "value1": -74.0,
            "radius": 10,
        },
        "included.filters[1].operator",
        "no operator",
    ),
    ("radius-on-string", ua(radius=5), "included.filters[1].radius", "only for geopoint"),
    (
        "object-without-children",
        {
            "filter_type": "user_attributes",
            "name": "address",
            "data_type": "object",
            "filter_operator": "and",
            "filters": [],
        },
        "included.filters[1].filters",
        "at least one",
    ),
    (
        "object-bad-child",
        {
            "filter_type": "user_attributes",
            "name": "address",
            "data_type": "object",
            "filter_operator": "and",
            "filters": [ua(operator="lessThan", value="x")],
        },
        "included.filters[1].filters[0].operator",
        "not allowed",
    ),
    (
        "object-with-negate",
        {
            "filter_type": "user_attributes",
            "name": "address",
            "data_type": "object",
            "filter_operator": "and",
            "negate": True,
            "filters": [ua()],
        },
        "included.filters[1].negate",
        "not allowed for object",
    ),
    (
        "dynamic-without-type",
        ua(
            name="order_value",
            data_type="double",
            operator="greaterThan",
            value="{{MoeUserAttribute['ltv']}}",
            is_dynamic_value=True,
            case_sensitive=_DROP,
        ),
        "included.filters[1].dynamic_attribute_type",
        "is required",
    ),
    (
        "dynamic-bad-template",
        ua(operator="is", value="ltv", is_dynamic_value=True, dynamic_attribute_type="string"),
        "included.filters[1].value",
        "MoeUserAttribute",
    ),
    (
        "dynamic-between-double",
        ua(
            name="v",
            data_type="double",
            operator="between",
            value="{{MoeUserAttribute['a']}}",
            value1=3,
            is_dynamic_value=True,
            dynamic_attribute_type="double",
            case_sensitive=_DROP,
        ),
        "included.filters[1].is_dynamic_value",
        "between",
    ),
    (
        "dynamic-type-mismatch",
        ua(operator="is", value="{{MoeUserAttribute['a']}}", is_dynamic_value=True, dynamic_attribute_type="double"),
        "included.filters[1].dynamic_attribute_type",
        "must be 'string'",
    ),
    ("typo-key", {**ua(), "opertor": "in"}, "included.filters[1].opertor", "did you mean 'operator'"),
    # events
    ("event-missing-window", ev(primary_time_range=_DROP), "included.filters[1].primary_time_range", "is required"),
    ("event-missing-attributes", ev(attributes=_DROP), "included.filters[1].attributes", "even when empty"),
    ("event-missing-executed", ev(executed=_DROP), "included.filters[1].executed", "is required"),
    ("event-count-zero", ev(execution={"type": "atleast", "count": 0}), "included.filters[1].execution.count", "> 0"),
    (
        "event-first-time-with-count",
        ev(execution={"type": "firstTime", "count": 1}),
        "included.filters[1].execution.count",
        "must be absent",
    ),
    (
        "event-unknown-execution",
        ev(execution={"type": "sometimes", "count": 1}),
        "included.filters[1].execution.type",
        "atleast, exactly",
    ),
    ("event-not-executed-count", ev(executed=False), "included.filters[1].execution", "exactly"),
    (
        "window-unknown-type",
        ev(primary_time_range=window(type="during")),
        "included.filters[1].primary_time_range.type",
        "inTheLast, between",
    ),
    (
        "window-zero-days",
        ev(primary_time_range=window(value=0)),
        "included.filters[1].primary_time_range.value",
        ">= 1",
    ),
    (
        "window-between-reversed",
        ev(
            primary_time_range={
                "type": "between",
                "value_type": "absolute",
                "value": "2024-02-01T00:00:00.000Z",
                "value1": "2024-01-01T00:00:00.000Z",
            }
        ),
        "included.filters[1].primary_time_range.value1",
        "greater than value",
    ),
    (
        "window-between-no-end",
        ev(
            primary_time_range=window(
                type="between", value_type="absolute", value="2024-01-01T00:00:00.000Z", period_unit=_DROP
            )
        ),
        "included.filters[1].primary_time_range.value1",
        "is required",
    ),
    (
        "window-after-relative",
        ev(primary_time_range=window(type="after", value=3)),
        "included.filters[1].primary_time_range.value_type",
        "absolute",
    ),
    (
        "window-bad-unit",
        ev(primary_time_range=window(period_unit="years")),
        "included.filters[1].primary_time_range.period_unit",
        "hours, days",
    ),
    (
        "window-mixed-forms",
        ev(primary_time_range=window(days=30)),
        "included.filters[1].primary_time_range",
        "use one form",
    ),
    (
        "event-attribute-user-type",
        ev(attributes={"filter_operator": "and", "filters": [ua()]}),
        "included.filters[1].attributes.filters[0].filter_type",
        "action_attributes",
    ),
    (
        "event-attribute-bad-operator",
        ev(
            attributes={
                "filter_operator": "and",
                "filters": [{**ua(filter_type="action_attributes", category="default"), "operator": "greaterThan"}],
            }
        ),
        "included.filters[1].attributes.filters[0].operator",
        "not allowed",
    ),
    # aggregation
    (
        "agg-not-executed",
        ev(executed=False, execution={"type": "exactly", "count": 0}, aggregation_attributes=agg()),
        "included.filters[1].aggregation_attributes",
        "executed is true",
    ),
    (
        "agg-first-time",
        ev(execution={"type": "firstTime"}, aggregation_attributes=agg()),
        "included.filters[1].aggregation_attributes",
        "firstTime",
    ),
    (
        "agg-unbounded-window",
        ev(
            primary_time_range={"type": "before", "value_type": "absolute", "value": "2024-01-01T00:00:00.000Z"},
            aggregation_attributes=agg(),
        ),
        "included.filters[1].aggregation_attributes",
        "unbounded",
    ),
    (
        "agg-two-conditions",
        ev(aggregation_attributes={"filter_operator": "and", "filters": agg()["filters"] * 2}),
        "included.filters[1].aggregation_attributes.filters",
        "exactly one",
    ),
    (
        "agg-bad-type",
        ev(aggregation_attributes=agg(aggregation_type="count")),
        "included.filters[1].aggregation_attributes.filters[0].aggregation_type",
        "sum, avg",
    ),
    (
        "agg-string-data-type",
        ev(aggregation_attributes=agg(data_type="string")),
        "included.filters[1].aggregation_attributes.filters[0].data_type",
        "double",
    ),
    (
        "agg-comparator-without-base",
        ev(aggregation_attributes=agg(comparator="change")),
        "included.filters[1].aggregation_attributes.filters[0].base_time_range",
        "comparator",
    ),
    (
        "agg-between-no-upper",
        ev(aggregation_attributes=agg(operator="between")),
        "included.filters[1].aggregation_attributes.filters[0].value1",
        "is required",
    ),
    # affinity
    ("affinity-missing-percent", aff(percent_of_users=_DROP), "included.filters[1].percent_of_users", "1 to 100"),
    ("affinity-percent-range", aff(percent_of_users=150), "included.filters[1].percent_of_users", "1 to 100"),
    (
        "affinity-wrong-percent",
        aff(operator_type="predominant"),
        "included.filters[1].percent_of_users",
        "only allowed with operator_type top or bottom",
    ),
    (
        "affinity-no-attributes",
        aff(psychographic_attributes={"filter_operator": "and", "filters": []}),
        "included.filters[1].psychographic_attributes.filters",
        "at least one",
    ),
    (
        "affinity-bool-attribute",
        aff(
            psychographic_attributes={
                "filter_operator": "and",
                "filters": [{"name": "x", "data_type": "bool", "operator": "is", "value": True}],
            }
        ),
        "included.filters[1].psychographic_attributes.filters[0].data_type",
        "string or double",
    ),
    (
        "affinity-filter-type-inside",
        aff(
            psychographic_attributes={
                "filter_operator": "and",
                "filters": [
                    {"filter_type": "user_attributes", "name": "x", "data_type": "string", "operator": "exists"}
                ],
            }
        ),
        "included.filters[1].psychographic_attributes.filters[0].filter_type",
        "must be absent",
    ),
    ("affinity-missing-window", aff(primary_time_range=_DROP), "included.filters[1].primary_time_range", "is required"),
    # references and nesting
    ("segment-empty-id", {"filter_type": "custom_segments", "id": ""}, "included.filters[1].id", "24 hexadecimal"),
    ("segment-missing-id", {"filter_type": "custom_segments", "name": "VIP"}, "included.filters[1].id", "is required"),
    (
        "nested-empty",
        {"filter_type": "nested_filters", "filter_operator": "or", "filters": []},
        "included.filters[1].filters",
        "at least one",
    ),
    (
        "nested-bad-operator",
        {"filter_type": "nested_filters", "filter_operator": "xor", "filters": [ua()]},
        "included.filters[1].filter_operator",
        "'and' or 'or'",
    ),
    (
        "nested-deep-error",
        {
            "filter_type": "nested_filters",
            "filter_operator": "or",
            "filters": [{"filter_type": "nested_filters", "filter_operator": "and", "filters": [ua(), ua(value=[])]}],
        },
        "included.filters[1].filters[0].filters[1].value",
        "must not be empty",
    ),
    ("filter-not-object", "city = NY", "included.filters[1]", "must be an object"),
]


@pytest.mark.parametrize(("bad", "field", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_filter_is_rejected_with_its_path(bad: Any, field: str, reason: str) -> None:
    payload = {"filter_operator": "and", "filters": [copy.deepcopy(OK), bad]}
    with pytest.raises(ValidationError) as info:
        parse_group(payload, path="included")
    assert info.value.field == field
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{field}: ")  # the path is in the message users see


@pytest.mark.parametrize(("bad", "field", "reason"), [c[1:] for c in CASES[:10]], ids=[c[0] for c in CASES[:10]])
def test_excluded_path_is_used(bad: Any, field: str, reason: str) -> None:
    payload = {"filter_operator": "and", "filters": [copy.deepcopy(OK), bad]}
    with pytest.raises(ValidationError) as info:
        coerce_group(payload, "excluded")
    assert info.value.field == field.replace("included", "excluded", 1)


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ({"filters": [OK]}, "included.filter_operator", "is required"),
        ({"filter_operator": "nand", "filters": [OK]}, "included.filter_operator", "'and' or 'or'"),
        ({"filter_operator": "and"}, "included.filters", "is required"),
        ({"filter_operator": "and", "filters": []}, "included.filters", "at least one"),
        ({"filter_operator": "and", "filters": {"0": OK}}, "included.filters", "must be a list"),
        ([OK], "included", "must be an object"),
    ],
)
def test_invalid_group(payload: Any, field: str, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_group(payload)
    assert (info.value.field, reason in info.value.reason) == (field, True)
