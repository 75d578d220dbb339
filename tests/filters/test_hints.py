"""Hints in error messages: misspelled keys are named even when the key they replace is missing, a builder
method used on the wrong data type names the right ``attr(...)``, and segment ids are checked."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from moengage_segments.errors import ValidationError
from moengage_segments.filters import (
    AttributeFilter,
    SegmentRef,
    attr,
    event_time,
    parse_filter_payload,
    parse_group,
    segment,
)

STRING_OPS = (
    "in, is, contains, startsWith, endsWith, containsInTheFollowing, startsWithInTheFollowing, "
    "endsWithInTheFollowing, exists"
)
SEG_ID = "5c93982f573bb92004975a36"


def ua(**over: Any) -> dict[str, Any]:
    return {
        "filter_type": "user_attributes",
        "name": "city",
        "data_type": "string",
        "operator": "in",
        "negate": False,
        "case_sensitive": False,
        "value": ["New York"],
        **over,
    }


def ev(**over: Any) -> dict[str, Any]:
    return {
        "filter_type": "actions",
        "action_name": "purchase",
        "executed": True,
        "execution": {"type": "atleast", "count": 1},
        "primary_time_range": {"type": "inTheLast", "value": 30, "value_type": "relative_past", "period_unit": "days"},
        "attributes": {"filter_operator": "and", "filters": []},
        **over,
    }


def aff(**over: Any) -> dict[str, Any]:
    return {
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
        **over,
    }


def agg(**over: Any) -> dict[str, Any]:
    return {
        "filter_operator": "and",
        "filters": [
            {
                "attribute_name": "revenue",
                "data_type": "double",
                "aggregation_type": "sum",
                "operator": "greaterThan",
                "value": 1000,
                "negate": False,
                **over,
            }
        ],
    }


def renamed(d: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """``d`` with key ``old`` misspelled as ``new`` (so the correct key is absent)."""
    out = copy.deepcopy(d)
    out[new] = out.pop(old)
    return out


def one(f: Any) -> dict[str, Any]:
    return {"filter_operator": "and", "filters": [f]}


_WINDOW = ev()["primary_time_range"]

# (id, group payload, field, the key it should have been)
TYPOS: list[tuple[str, dict[str, Any], str, str]] = [
    ("user-operator", one(renamed(ua(), "operator", "opertor")), "included.filters[0].opertor", "operator"),
    ("user-name", one(renamed(ua(), "name", "nmae")), "included.filters[0].nmae", "name"),
    ("user-data_type", one(renamed(ua(), "data_type", "data_typ")), "included.filters[0].data_typ", "data_type"),
    ("user-value", one(renamed(ua(), "value", "vaule")), "included.filters[0].vaule", "value"),
    ("filter_type", one(renamed(ua(), "filter_type", "filter_tpye")), "included.filters[0].filter_tpye", "filter_type"),
    (
        "root-filter_operator",
        renamed(one(ua()), "filter_operator", "filter_operatr"),
        "included.filter_operatr",
        "filter_operator",
    ),
    ("root-filters", renamed(one(ua()), "filters", "filterss"), "included.filterss", "filters"),
    (
        "nested-filter_operator",
        one(
            renamed(
                {"filter_type": "nested_filters", "filter_operator": "or", "filters": [ua()]},
                "filter_operator",
                "filter_operater",
            )
        ),
        "included.filters[0].filter_operater",
        "filter_operator",
    ),
    (
        "geo-radius",
        one(
            {
                "filter_type": "user_attributes",
                "name": "loc",
                "data_type": "geopoint",
                "value": 40.7,
                "value1": -74.0,
                "radus": 5,
            }
        ),
        "included.filters[0].radus",
        "radius",
    ),
    (
        "object-child-operator",
        one(
            {
                "filter_type": "user_attributes",
                "name": "address",
                "data_type": "object",
                "filter_operator": "and",
                "filters": [renamed(ua(), "operator", "opertor")],
            }
        ),
        "included.filters[0].filters[0].opertor",
        "operator",
    ),
    (
        "event-action_name",
        one(renamed(ev(), "action_name", "action_nme")),
        "included.filters[0].action_nme",
        "action_name",
    ),
    ("event-executed", one(renamed(ev(), "executed", "exectued")), "included.filters[0].exectued", "executed"),
    ("event-execution", one(renamed(ev(), "execution", "executon")), "included.filters[0].executon", "execution"),
    (
        "execution-type",
        one(ev(execution={"tpye": "atleast", "count": 1})),
        "included.filters[0].execution.tpye",
        "type",
    ),
    (
        "execution-count",
        one(ev(execution={"type": "atleast", "cout": 1})),
        "included.filters[0].execution.cout",
        "count",
    ),
    (
        "event-window",
        one(renamed(ev(), "primary_time_range", "primary_time_rang")),
        "included.filters[0].primary_time_rang",
        "primary_time_range",
    ),
    (
        "window-type",
        one(ev(primary_time_range=renamed(_WINDOW, "type", "tpye"))),
        "included.filters[0].primary_time_range.tpye",
        "type",
    ),
    (
        "window-value",
        one(ev(primary_time_range=renamed(_WINDOW, "value", "vaule"))),
        "included.filters[0].primary_time_range.vaule",
        "value",
    ),
    (
        "window-value_type",
        one(ev(primary_time_range=renamed(_WINDOW, "value_type", "value_tpye"))),
        "included.filters[0].primary_time_range.value_tpye",
        "value_type",
    ),
    ("event-attributes", one(renamed(ev(), "attributes", "atributes")), "included.filters[0].atributes", "attributes"),
    (
        "attributes-filter_operator",
        one(ev(attributes={"filter_operatr": "and", "filters": []})),
        "included.filters[0].attributes.filter_operatr",
        "filter_operator",
    ),
    (
        "event-attribute-operator",
        one(
            ev(
                attributes={
                    "filter_operator": "and",
                    "filters": [renamed(ua(filter_type="action_attributes"), "operator", "opertor")],
                }
            )
        ),
        "included.filters[0].attributes.filters[0].opertor",
        "operator",
    ),
    (
        "aggregation-filter_operator",
        one(ev(aggregation_attributes=renamed(agg(), "filter_operator", "filter_oprator"))),
        "included.filters[0].aggregation_attributes.filter_oprator",
        "filter_operator",
    ),
    (
        "aggregation-type",
        one(
            ev(
                aggregation_attributes={
                    "filter_operator": "and",
                    "filters": [renamed(agg()["filters"][0], "aggregation_type", "aggregation_typ")],
                }
            )
        ),
        "included.filters[0].aggregation_attributes.filters[0].aggregation_typ",
        "aggregation_type",
    ),
    (
        "aggregation-value",
        one(
            ev(
                aggregation_attributes={
                    "filter_operator": "and",
                    "filters": [renamed(agg()["filters"][0], "value", "vaule")],
                }
            )
        ),
        "included.filters[0].aggregation_attributes.filters[0].vaule",
        "value",
    ),
    (
        "base-window-type",
        one(ev(aggregation_attributes=agg(comparator="change", base_time_range={"tpye": "previousPeriod"}))),
        "included.filters[0].aggregation_attributes.filters[0].base_time_range.tpye",
        "type",
    ),
    (
        "affinity-operator_type",
        one(renamed(aff(), "operator_type", "operator_tpye")),
        "included.filters[0].operator_tpye",
        "operator_type",
    ),
    (
        "affinity-percent",
        one(renamed(aff(), "percent_of_users", "percent_of_user")),
        "included.filters[0].percent_of_user",
        "percent_of_users",
    ),
    (
        "affinity-psychographic",
        one(renamed(aff(), "psychographic_attributes", "psychographic_atributes")),
        "included.filters[0].psychographic_atributes",
        "psychographic_attributes",
    ),
    (
        "affinity-window",
        one(renamed(aff(), "primary_time_range", "primary_timerange")),
        "included.filters[0].primary_timerange",
        "primary_time_range",
    ),
    ("segment-id", one({"filter_type": "custom_segments", "ids": SEG_ID}), "included.filters[0].ids", "id"),
]


@pytest.mark.parametrize(("payload", "field", "meant"), [c[1:] for c in TYPOS], ids=[c[0] for c in TYPOS])
def test_misspelled_key_is_named_when_the_right_key_is_missing(payload: dict[str, Any], field: str, meant: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_group(payload, path="included")
    assert info.value.field == field
    assert info.value.reason == f"unknown key; did you mean {meant!r}?"


def test_reviewer_example_operator_typo_alone() -> None:
    bad = {
        "filter_type": "user_attributes",
        "name": "city",
        "data_type": "string",
        "opertor": "in",
        "value": ["New York"],
    }
    with pytest.raises(ValidationError) as info:
        parse_group(one(bad), path="included")
    assert str(info.value) == "included.filters[0].opertor: unknown key; did you mean 'operator'?"
    with pytest.raises(ValidationError) as info:
        parse_filter_payload(bad)
    assert str(info.value) == "filter.opertor: unknown key; did you mean 'operator'?"


def test_missing_key_without_a_lookalike_still_says_required() -> None:
    with pytest.raises(ValidationError) as info:
        parse_group(one({**renamed(ua(), "operator", "unrelated")}), path="included")
    assert info.value.field == "included.filters[0].operator"
    assert info.value.reason == f"is required for data_type 'string'; allowed: {STRING_OPS}"
    # "value1" is a known key, not a misspelling of "value"
    with pytest.raises(ValidationError) as info:
        parse_group(
            one(ev(primary_time_range={"type": "between", "value_type": "relative_past", "value1": 3})), path="included"
        )
    assert info.value.field == "included.filters[0].primary_time_range.value"


def test_typo_keys_stay_tolerated_leniently() -> None:
    group = parse_group(one(renamed(ua(), "operator", "opertor")), strict=False)
    f = group.filters[0]
    assert isinstance(f, AttributeFilter) and f.operator is None and dict(f.extra) == {"opertor": "in"}
    group = parse_group(one(renamed(ev(), "executed", "exectued")), strict=False)
    assert group.to_payload() == one(renamed(ev(), "executed", "exectued"))


# -- operator used on the wrong data type ---------------------------------------------------------------


def test_builder_points_at_the_data_type_an_operator_needs() -> None:
    with pytest.raises(ValidationError) as info:
        attr("age").greater_than(18)
    assert info.value.field == "attr('age').operator"
    assert info.value.reason == (
        f"'greaterThan' is not allowed for data_type 'string'; allowed: {STRING_OPS}; "
        'did you mean attr("age", "double")?'
    )


@pytest.mark.parametrize(
    ("make", "field", "hint"),
    [
        (lambda: attr("last_seen").in_the_last(7), "attr('last_seen').operator", 'attr("last_seen", "datetime")'),
        (lambda: attr("renewal").in_the_next(7), "attr('renewal').operator", 'attr("renewal", "datetime")'),
        (lambda: attr("birthday").today(), "attr('birthday').operator", 'attr("birthday", "datetime")'),
        (lambda: attr("signup").on("2024-01-15"), "attr('signup').operator", 'attr("signup", "datetime")'),
        (lambda: attr("age").less_than(18), "attr('age').operator", 'attr("age", "double")'),
        (lambda: attr("x").between(1, 5), "attr('x').operator", 'attr("x", "double") or attr("x", "datetime")'),
        (lambda: attr("tags", "array_string").greater_than(3), "attr('tags').operator", 'attr("tags", "array_double")'),
        (lambda: attr("plan", "double").contains("gold"), "attr('plan').operator", 'attr("plan", "string")'),
        (lambda: attr("vip").is_true(), "attr('vip').value", 'attr("vip", "bool")'),
        (lambda: attr("vip", "double").is_false(), "attr('vip').value", 'attr("vip", "bool")'),
    ],
)
def test_builder_hints(make: Any, field: str, hint: str) -> None:
    with pytest.raises(ValidationError) as info:
        make()
    assert info.value.field == field
    assert info.value.reason.endswith(f"; did you mean {hint}?")


def test_true_false_on_a_non_bool_exact_message() -> None:
    with pytest.raises(ValidationError) as info:
        attr("vip").is_true()
    assert str(info.value) == (
        "attr('vip').value: true/false needs data_type 'bool', not 'string'; did you mean attr(\"vip\", \"bool\")?"
    )


def test_no_type_hint_where_the_type_is_fixed() -> None:
    with pytest.raises(ValidationError) as info:
        attr("d", "datetime").extract("day_of_the_week").greater_than(3)
    assert "did you mean" not in info.value.reason
    with pytest.raises(ValidationError) as info:
        event_time("time_of_the_day").contains("x")
    assert "did you mean" not in info.value.reason


def test_dict_operator_on_wrong_type_names_the_data_type() -> None:
    with pytest.raises(ValidationError) as info:
        parse_group(
            one(
                {
                    "filter_type": "user_attributes",
                    "name": "age",
                    "data_type": "string",
                    "operator": "greaterThan",
                    "value": 18,
                }
            ),
            path="included",
        )
    assert str(info.value) == (
        f"included.filters[0].operator: 'greaterThan' is not allowed for data_type "
        f"'string'; allowed: {STRING_OPS}; did you mean data_type 'double'?"
    )


# -- segment ids ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["abc", "", "5c93982f573bb92004975a3z", SEG_ID + "0"])
def test_segment_builder_checks_the_id(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        segment(bad, "V")
    assert str(info.value) == "segment.id: must be 24 hexadecimal characters (e.g. '6388a97a02adb9071ca84ce9')"


def test_segment_id_checked_strictly_but_tolerated_leniently() -> None:
    payload = one({"filter_type": "custom_segments", "id": "abc", "name": "V"})
    with pytest.raises(ValidationError) as info:
        parse_group(payload, path="included")
    assert str(info.value) == (
        "included.filters[0].id: must be 24 hexadecimal characters (e.g. '6388a97a02adb9071ca84ce9')"
    )
    lenient = parse_group(payload, strict=False)
    assert lenient.filters == (SegmentRef("abc", "V"),)
    assert lenient.to_payload() == payload
    assert segment(SEG_ID.upper()).id == SEG_ID.upper()
