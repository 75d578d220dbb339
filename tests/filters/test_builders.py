"""Builders make the documented payloads; every one of them validates against the spec's schema."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from moengage_segments.errors import ValidationError
from moengage_segments.filters import (
    AttributeFilter,
    EventFilter,
    Filter,
    FilterGroup,
    TimeRange,
    affinity,
    all_of,
    any_of,
    attr,
    attr_ref,
    avg_of,
    coerce_group,
    event,
    event_time,
    max_of,
    median_of,
    min_of,
    parse_group,
    segment,
    sum_of,
    validate,
)
from tests.filters._support import assert_schema_valid

UA = {"filter_type": "user_attributes", "negate": False}
NO_ATTRS = {"filter_operator": "and", "filters": []}

# (builder result, expected payload)
EXPECTED: list[tuple[str, Filter, dict[str, Any]]] = [
    (
        "string-in",
        attr("city").is_in(["New York"]),
        {**UA, "name": "city", "data_type": "string", "operator": "in", "case_sensitive": False, "value": ["New York"]},
    ),
    (
        "string-in-scalar-arg",
        attr("city").is_in("Paris"),
        {**UA, "name": "city", "data_type": "string", "operator": "in", "case_sensitive": False, "value": ["Paris"]},
    ),
    (
        "string-equals-category",
        attr("plan", category="Subscription").equals("gold", case_sensitive=True),
        {
            **UA,
            "name": "plan",
            "data_type": "string",
            "category": "Subscription",
            "operator": "is",
            "case_sensitive": True,
            "value": "gold",
        },
    ),
    (
        "string-starts-with",
        attr("phone").starts_with("+1"),
        {
            **UA,
            "name": "phone",
            "data_type": "string",
            "operator": "startsWith",
            "case_sensitive": False,
            "value": "+1",
        },
    ),
    (
        "string-ends-with-any",
        attr("email").ends_with_any([".edu", ".ac.uk"]),
        {
            **UA,
            "name": "email",
            "data_type": "string",
            "operator": "endsWithInTheFollowing",
            "case_sensitive": False,
            "value": [".edu", ".ac.uk"],
        },
    ),
    (
        "string-is-empty",
        attr("name").is_empty(),
        {**UA, "name": "name", "data_type": "string", "operator": "is", "case_sensitive": False, "value": ""},
    ),
    (
        "string-contains-spaces",
        attr("username").contains_spaces(),
        {
            **UA,
            "name": "username",
            "data_type": "string",
            "operator": "contains",
            "case_sensitive": False,
            "value": " ",
        },
    ),
    ("string-exists", attr("email").exists(), {**UA, "name": "email", "data_type": "string", "operator": "exists"}),
    (
        "double-between",
        attr("age", "double").between(18, 65),
        {**UA, "name": "age", "data_type": "double", "operator": "between", "value": 18, "value1": 65},
    ),
    (
        "double-equals",
        attr("visits", "double").equals(3),
        {**UA, "name": "visits", "data_type": "double", "operator": "in", "value": [3]},
    ),
    (
        "bool-true",
        attr("is_premium", "bool").is_true(),
        {**UA, "name": "is_premium", "data_type": "bool", "operator": "is", "value": True},
    ),
    (
        "datetime-last",
        attr("last_seen", "datetime").in_the_last(7),
        {
            **UA,
            "name": "last_seen",
            "data_type": "datetime",
            "operator": "inTheLast",
            "value_type": "relative_past",
            "value": 7,
        },
    ),
    (
        "datetime-next",
        attr("renewal", "datetime").in_the_next(14),
        {
            **UA,
            "name": "renewal",
            "data_type": "datetime",
            "operator": "inTheNext",
            "value_type": "relative_future",
            "value": 14,
        },
    ),
    (
        "datetime-on-date",
        attr("signup_date", "datetime").on(dt.date(2024, 1, 15)),
        {
            **UA,
            "name": "signup_date",
            "data_type": "datetime",
            "operator": "on",
            "value_type": "absolute",
            "value": "2024-01-15T00:00:00.000Z",
        },
    ),
    (
        "datetime-before-days",
        attr("trial_end", "datetime").before(3),
        {
            **UA,
            "name": "trial_end",
            "data_type": "datetime",
            "operator": "before",
            "value_type": "relative_past",
            "value": 3,
        },
    ),
    (
        "datetime-between",
        attr("signup_date", "datetime").between("2024-01-01", "2024-01-31"),
        {
            **UA,
            "name": "signup_date",
            "data_type": "datetime",
            "operator": "between",
            "value_type": "absolute",
            "value": "2024-01-01T00:00:00.000Z",
            "value1": "2024-01-31T23:59:59.999Z",
        },
    ),
    (
        "datetime-aware",
        attr("seen", "datetime").after(dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
        {
            **UA,
            "name": "seen",
            "data_type": "datetime",
            "operator": "after",
            "value_type": "absolute",
            "value": "2024-01-01T10:00:00.000Z",
        },
    ),
    (
        "datetime-today",
        attr("birthday", "datetime").today(),
        {**UA, "name": "birthday", "data_type": "datetime", "operator": "today"},
    ),
    (
        "datetime-extract",
        attr("signup_date", "datetime").extract("day_of_the_week").is_in([0, 6]),
        {
            **UA,
            "name": "signup_date",
            "data_type": "datetime",
            "operator": "in",
            "extract_type": "day_of_the_week",
            "value": [0, 6],
        },
    ),
    (
        "datetime-month-day",
        attr("birthday", "datetime").extract("date_month_of_the_year").equals("06-15"),
        {
            **UA,
            "name": "birthday",
            "data_type": "datetime",
            "operator": "is",
            "extract_type": "date_month_of_the_year",
            "value": "06-15",
        },
    ),
    (
        "geopoint",
        attr("home_location", "geopoint", category="Location").near(40.7128, -74.006, radius=10),
        {
            **UA,
            "name": "home_location",
            "data_type": "geopoint",
            "category": "Location",
            "value": 40.7128,
            "value1": -74.006,
            "radius": 10,
        },
    ),
    (
        "array-any",
        attr("tags", "array_string").is_in(["vip", "premium"]),
        {
            **UA,
            "name": "tags",
            "data_type": "array_string",
            "operator": "in",
            "case_sensitive": False,
            "array_filter_type": "any_of",
            "value": ["vip", "premium"],
        },
    ),
    (
        "array-all",
        attr("scores", "array_double").is_in([1, 2], match="all"),
        {
            **UA,
            "name": "scores",
            "data_type": "array_double",
            "operator": "in",
            "array_filter_type": "all_of",
            "value": [1, 2],
        },
    ),
    (
        "array-contains",
        attr("tags", "array_string").contains("vi"),
        {
            **UA,
            "name": "tags",
            "data_type": "array_string",
            "operator": "contains",
            "case_sensitive": False,
            "array_filter_type": "any_of",
            "value": ["vi"],
        },
    ),
    (
        "dynamic",
        attr("order_value", "double").greater_than(attr_ref("lifetime_value")),
        {
            **UA,
            "name": "order_value",
            "data_type": "double",
            "operator": "greaterThan",
            "value": "{{MoeUserAttribute['lifetime_value']}}",
            "is_dynamic_value": True,
            "dynamic_attribute_type": "double",
        },
    ),
    (
        "dynamic-datetime",
        attr("last_login", "datetime").after(attr_ref("last_purchase")),
        {
            **UA,
            "name": "last_login",
            "data_type": "datetime",
            "operator": "after",
            "value_type": "absolute",
            "value": "{{MoeUserAttribute['last_purchase']}}",
            "is_dynamic_value": True,
            "dynamic_attribute_type": "datetime",
        },
    ),
    (
        "object",
        attr("address", "object").where(attr("city", category="Location").is_in(["New York"])),
        {
            "filter_type": "user_attributes",
            "name": "address",
            "data_type": "object",
            "filter_operator": "and",
            "filters": [
                {
                    **UA,
                    "name": "city",
                    "data_type": "string",
                    "category": "Location",
                    "operator": "in",
                    "case_sensitive": False,
                    "value": ["New York"],
                }
            ],
        },
    ),
    (
        "negated",
        ~attr("email").exists(),
        {
            "filter_type": "user_attributes",
            "negate": True,
            "name": "email",
            "data_type": "string",
            "operator": "exists",
        },
    ),
    (
        "event-default-window",
        event("purchase").at_least(2).in_the_last(30, "days"),
        {
            "filter_type": "actions",
            "action_name": "purchase",
            "executed": True,
            "execution": {"type": "atleast", "count": 2},
            "primary_time_range": {
                "type": "inTheLast",
                "value": 30,
                "value_type": "relative_past",
                "period_unit": "days",
            },
            "attributes": NO_ATTRS,
        },
    ),
    (
        "event-not-executed",
        event("app_opened").not_executed().in_the_last(14),
        {
            "filter_type": "actions",
            "action_name": "app_opened",
            "executed": False,
            "execution": {"type": "exactly", "count": 0},
            "primary_time_range": {
                "type": "inTheLast",
                "value": 14,
                "value_type": "relative_past",
                "period_unit": "days",
            },
            "attributes": NO_ATTRS,
        },
    ),
    (
        "event-between-dates",
        event("event_attended").between("2024-01-01", "2024-01-31"),
        {
            "filter_type": "actions",
            "action_name": "event_attended",
            "executed": True,
            "execution": {"type": "atleast", "count": 1},
            "primary_time_range": {
                "type": "between",
                "value": "2024-01-01T00:00:00.000Z",
                "value1": "2024-01-31T23:59:59.999Z",
                "value_type": "absolute",
            },
            "attributes": NO_ATTRS,
        },
    ),
    (
        "event-last-week",
        event("app_opened").last_week(),
        {
            "filter_type": "actions",
            "action_name": "app_opened",
            "executed": True,
            "execution": {"type": "atleast", "count": 1},
            "primary_time_range": {"type": "on", "value": 1, "value_type": "relative_past", "period_unit": "weeks"},
            "attributes": NO_ATTRS,
        },
    ),
    (
        "event-where",
        event("viewed_product").at_least(2).in_the_last(14).where(attr("product_category").equals("Electronics")),
        {
            "filter_type": "actions",
            "action_name": "viewed_product",
            "executed": True,
            "execution": {"type": "atleast", "count": 2},
            "primary_time_range": {
                "type": "inTheLast",
                "value": 14,
                "value_type": "relative_past",
                "period_unit": "days",
            },
            "attributes": {
                "filter_operator": "and",
                "filters": [
                    {
                        "filter_type": "action_attributes",
                        "name": "product_category",
                        "data_type": "string",
                        "category": "default",
                        "operator": "is",
                        "negate": False,
                        "case_sensitive": False,
                        "value": "Electronics",
                    }
                ],
            },
        },
    ),
    (
        "event-having",
        event("purchase").in_the_last(30).having(sum_of("revenue").greater_than(1000)),
        {
            "filter_type": "actions",
            "action_name": "purchase",
            "executed": True,
            "execution": {"type": "atleast", "count": 1},
            "primary_time_range": {
                "type": "inTheLast",
                "value": 30,
                "value_type": "relative_past",
                "period_unit": "days",
            },
            "attributes": NO_ATTRS,
            "aggregation_attributes": {
                "filter_operator": "and",
                "filters": [
                    {
                        "attribute_name": "revenue",
                        "data_type": "double",
                        "aggregation_type": "sum",
                        "operator": "greaterThan",
                        "value": 1000,
                        "negate": False,
                        "is_dynamic_value": False,
                    }
                ],
            },
        },
    ),
    (
        "affinity-top",
        affinity("purchase").top_percent(10, attr("product_category").exists()).in_the_last(30),
        {
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
            "attributes": NO_ATTRS,
            "primary_time_range": {"type": "inTheLast", "value_type": "relative_past", "days": 30},
        },
    ),
    (
        "segment",
        segment("5c93982f573bb92004975a36", "VIP Customers"),
        {"filter_type": "custom_segments", "id": "5c93982f573bb92004975a36", "name": "VIP Customers"},
    ),
]


@pytest.mark.parametrize(("built", "expected"), [c[1:] for c in EXPECTED], ids=[c[0] for c in EXPECTED])
def test_builder_payload(built: Filter, expected: dict[str, Any]) -> None:
    assert built.to_payload() == expected
    group = all_of(built)
    assert coerce_group(group, "included") == group  # valid, and validation changes nothing
    assert_schema_valid(group.to_payload())


def test_more_aggregations_and_comparators() -> None:
    conds = [
        avg_of("order_value").greater_than(50),
        min_of("price").less_than(5),
        max_of("items").equals(1),
        median_of("basket").between(20, 50),
        sum_of("revenue").greater_than(25).compared_to_previous_period(percent=True),
        sum_of("revenue").greater_than(25).compared_to("2024-01-01", "2024-01-31"),
        ~max_of("items").equals(1),
    ]
    for cond in conds:
        f = event("purchase").in_the_last(30).having(cond)
        validate(f)
        assert_schema_valid(all_of(f).to_payload())
    window = conds[5].to_payload()["base_time_range"]
    assert window == {"type": "between", "value": "2024-01-01T00:00:00.000Z", "value1": "2024-01-31T23:59:59.999Z"}
    assert conds[4].to_payload()["comparator"] == "percentageChange"
    assert conds[6].negate is True


def test_nested_groups_and_operators() -> None:
    a, b, c = attr("age", "double").greater_than(18), attr("country").is_in(["US"]), attr("country").is_in(["UK"])
    group = all_of(a, any_of(b, c))
    payload = group.to_payload()
    assert payload["filters"][1] == {
        "filter_type": "nested_filters",
        "filter_operator": "or",
        "filters": [b.to_payload(), c.to_payload()],
    }
    assert (a & (b | c)) == group  # operators build the same tree
    assert (a & b & c) == all_of(a, b, c)  # same-operator chains flatten
    assert all_of([a, b]) == all_of(a, b)


def test_negation() -> None:
    f = attr("city").is_in(["NY"])
    assert (~f).negate is True and ~~f == f
    ev = event("purchase").in_the_last(30)
    assert (~ev).executed is False and (~ev).execution is not None and (~ev).execution.count == 0
    assert ~~ev == ev
    group = ~all_of(f, ev)
    assert isinstance(group, FilterGroup) and group.operator == "or"
    assert group.filters == (~f, ~ev)
    geo = attr("loc", "geopoint").near(1, 2, radius=3)
    assert (~geo).negate is True
    for bad in (
        segment("5c93982f573bb92004975a36"),
        event("purchase").at_least(2).in_the_last(30),
        attr("address", "object").where(f),
        event("purchase").first_time().in_the_last(3),
        affinity("purchase").predominantly(attr("brand").exists()).in_the_last(30),
    ):
        with pytest.raises(TypeError):
            ~bad  # noqa: B018


def test_builder_errors_are_immediate() -> None:
    with pytest.raises(ValidationError, match=r"attr\('vip'\)\.operator: 'between' is not allowed"):
        attr("vip", "bool").between(1, 2)
    with pytest.raises(ValidationError, match=r"attr\('age'\)\.value1"):
        attr("age", "double").between(65, 18)
    with pytest.raises(ValidationError, match=r"attr\('city'\)\.data_type"):
        attr("city").near(1, 2, radius=3)
    with pytest.raises(ValidationError, match="extract_type"):
        attr("age", "double").extract("day_of_the_week")
    with pytest.raises(ValidationError, match=r"segment\.id"):
        segment("")
    with pytest.raises(ValidationError, match=r"attr\('tags'\)\.array_filter_type"):
        attr("tags", "array_string").is_in(["a"], match="some")  # type: ignore[arg-type]


def test_event_rules_checked_with_full_path() -> None:
    group = all_of(attr("city").is_in(["NY"]), event("purchase"))
    with pytest.raises(ValidationError) as info:
        coerce_group(group, "included")
    assert info.value.field == "included.filters[1].primary_time_range"
    with pytest.raises(ValidationError) as info:
        coerce_group(all_of(event("purchase").at_most(0).in_the_last(3)), "excluded")
    assert info.value.field == "excluded.filters[0].execution.count"
    with pytest.raises(ValidationError, match="unbounded"):
        validate(event("purchase").before("2024-01-01").having(sum_of("revenue").greater_than(1)))


def test_coerce_accepts_filter_dict_and_group() -> None:
    f = attr("city").is_in(["NY"])
    assert coerce_group(f, "included") == all_of(f)
    assert coerce_group(all_of(f).to_payload(), "included") == all_of(f)
    with pytest.raises(ValidationError, match="included: must be a filter group"):
        coerce_group(42, "included")  # type: ignore[arg-type]


def test_event_time_affinity() -> None:
    f = affinity("app_opened").predominantly(event_time("time_of_the_day").between(18, 23)).in_the_last(30)
    payload = f.to_payload()
    assert payload["psychographic_attributes"]["filters"][0] == {
        "name": "moe_user_datetime",
        "data_type": "double",
        "category": "Time Attributes",
        "operator": "between",
        "negate": False,
        "extract_type": "time_of_the_day",
        "value": 18,
        "value1": 23,
    }
    validate(f)
    assert_schema_valid(all_of(f).to_payload())
    with pytest.raises(ValidationError, match="from 0 to 23"):
        event_time("time_of_the_day").equals(24)


def test_objects_are_frozen_and_hashable() -> None:
    f = attr("city").is_in(["NY"])
    with pytest.raises(AttributeError):
        f.name = "x"  # type: ignore[misc]
    assert isinstance(f, AttributeFilter) and isinstance(f.value, tuple)
    assert len({f, attr("city").is_in(["NY"]), all_of(f)}) == 2
    assert isinstance(event("x"), EventFilter)
    assert parse_group(all_of(f).to_payload()) == all_of(f)


def test_every_field_reaches_the_payload_through_one_builder() -> None:
    """Payloads come from ``attrs.fields()``: no class lists its keys by hand, so none can be left out."""
    from moengage_segments.filters import _model

    kinds = [getattr(_model, n) for n in _model.__all__ if isinstance(getattr(_model, n), type)]
    wired = [k for k in kinds if issubclass(k, _model._Wire) and k is not _model.RawFilter]
    assert len(wired) >= 12
    for kind in wired:
        assert "to_payload" not in vars(kind), f"{kind.__name__} builds its payload by hand"
    f = attr("loc", "geopoint").near(1.5, 2.5, radius=3)
    assert {"value": 1.5, "value1": 2.5, "radius": 3, "data_type": "geopoint"}.items() <= f.to_payload().items()
    window = TimeRange(type="between", from_="2024-01-01", to="2024-01-02", extra={"later": [1]})
    assert window.to_payload() == {"type": "between", "from": "2024-01-01", "to": "2024-01-02", "later": [1]}
