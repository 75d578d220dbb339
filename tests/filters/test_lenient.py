"""Reading what the server returns: documented variants, unknown keys, unknown kinds and new enum values."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from moengage_segments.errors import ValidationError
from moengage_segments.filters import (
    AttributeFilter,
    EventFilter,
    FilterGroup,
    ObjectFilter,
    RawFilter,
    coerce_group,
    parse_group,
)


def group(*filters: Any) -> dict[str, Any]:
    return {"filter_operator": "and", "filters": list(filters)}


EVENT: dict[str, Any] = {
    "filter_type": "actions",
    "action_name": "purchase",
    "executed": True,
    "execution": {"type": "atleast", "count": 1},
    "primary_time_range": {"type": "inTheLast", "value": 30, "value_type": "relative_past", "period_unit": "days"},
    "attributes": {"filter_operator": "and", "filters": []},
}

# Variants the notes (§9) say to accept; each must parse strictly AND come back unchanged.
VARIANTS = {
    "event-attribute-without-filter-type": {
        **EVENT,
        "attributes": group(
            {
                "name": "currency",
                "data_type": "string",
                "category": "default",
                "operator": "is",
                "negate": False,
                "case_sensitive": False,
                "value": "USD",
            }
        ),
    },
    "dashboard-days-window": {
        **EVENT,
        "primary_time_range": {"type": "inTheLast", "value_type": "relative_past", "days": 30},
    },
    "dashboard-days-between": {
        **EVENT,
        "primary_time_range": {"type": "between", "value_type": "relative_past", "days": 7, "days1": 30},
    },
    "in-with-scalar": {
        "filter_type": "user_attributes",
        "name": "status",
        "data_type": "string",
        "operator": "in",
        "value": "active",
        "negate": False,
        "case_sensitive": False,
    },
    "on-operator": {
        "filter_type": "user_attributes",
        "name": "signup",
        "data_type": "datetime",
        "operator": "on",
        "value_type": "relative_past",
        "value": 1,
        "negate": False,
    },
    "default-option-date": {
        "filter_type": "user_attributes",
        "name": "signup",
        "data_type": "datetime",
        "operator": "before",
        "value_type": "absolute",
        "value": "2024-01-01T00:00:00.000Z",
        "extract_type": "default_option_date",
        "negate": False,
    },
    "starts-with-any": {
        "filter_type": "user_attributes",
        "name": "zip",
        "data_type": "string",
        "operator": "startsWithInTheFollowing",
        "value": ["100", "101"],
        "negate": False,
    },
    "starts-with-scalar": {
        "filter_type": "user_attributes",
        "name": "zip",
        "data_type": "string",
        "operator": "startsWith",
        "value": "100",
    },
    "object-children-without-filter-type": {
        "filter_type": "user_attributes",
        "name": "address",
        "data_type": "object",
        "filter_operator": "or",
        "filters": [{"name": "city", "data_type": "string", "operator": "is", "value": "Paris"}],
    },
    "array-filter-type-with-negate": {
        "filter_type": "user_attributes",
        "name": "tags",
        "data_type": "array_string",
        "operator": "in",
        "negate": True,
        "array_filter_type": "any_of",
        "value": ["a"],
    },
    "project-name-on-user-filter": {
        "filter_type": "user_attributes",
        "name": "city",
        "data_type": "string",
        "operator": "exists",
        "project_name": "moe_portfolio",
    },
    "no-category-no-negate": {
        "filter_type": "user_attributes",
        "name": "vip",
        "data_type": "bool",
        "operator": "is",
        "value": True,
    },
    "unknown-but-plausible-key": {
        "filter_type": "custom_segments",
        "id": "5c93982f573bb92004975a36",
        "name": "VIP",
        "segment_status": "pending",
    },
}


@pytest.mark.parametrize("payload", list(VARIANTS.values()), ids=list(VARIANTS))
def test_documented_variants_parse_strictly_and_round_trip(payload: dict[str, Any]) -> None:
    body = group(payload)
    parsed = parse_group(body)
    assert parsed.to_payload() == body
    assert parse_group(body, strict=False) == parsed
    assert not any(isinstance(f, RawFilter) for f in parsed.filters)


def test_unknown_keys_are_kept_at_every_level() -> None:
    payload = copy.deepcopy(EVENT)
    payload["new_flag"] = {"nested": [1, 2]}
    payload["execution"]["window_mode"] = "rolling"
    payload["primary_time_range"]["timezone"] = "UTC"
    payload["attributes"]["future"] = True
    body = {**group(payload), "request_hint": "x"}
    parsed = parse_group(body)
    assert parsed.extra == {"request_hint": "x"}
    ev = parsed.filters[0]
    assert isinstance(ev, EventFilter) and ev.extra["new_flag"]["nested"] == (1, 2)
    assert parsed.to_payload() == body
    hash(parsed)  # frozen all the way down


def test_unknown_filter_type_is_kept_raw_in_lenient_mode_only() -> None:
    new = {"filter_type": "predictions", "model": "churn", "bucket": ["high"]}
    body = group({"filter_type": "custom_segments", "id": "5c93982f573bb92004975a36"}, new)
    parsed = parse_group(body, strict=False)
    raw = parsed.filters[1]
    assert isinstance(raw, RawFilter) and raw.filter_type == "predictions"
    assert parsed.to_payload() == body
    with pytest.raises(ValidationError) as info:
        parse_group(body)
    assert info.value.field == "included.filters[1].filter_type"
    # A lenient group cannot be sent back through the strict gate with the unknown filter in it.
    with pytest.raises(ValidationError, match=r"included\.filters\[1\]\.filter_type: unknown filter_type"):
        coerce_group(parsed, "included")


def test_new_enum_values_do_not_break_lenient_parsing() -> None:
    body = group(
        {"filter_type": "user_attributes", "name": "id", "data_type": "uuid", "operator": "matches", "value": "x"},
        {"filter_type": "user_attributes", "name": "city", "data_type": "string", "operator": "regex", "value": "^N"},
        {**EVENT, "execution": {"type": "streak", "count": 3}},
        {"filter_type": "nested_filters", "filter_operator": "xor", "filters": []},
    )
    parsed = parse_group(body, strict=False)
    assert isinstance(parsed.filters[0], AttributeFilter) and parsed.filters[0].data_type == "uuid"
    assert isinstance(parsed.filters[3], FilterGroup) and parsed.filters[3].operator == "xor"
    assert parsed.to_payload() == body
    with pytest.raises(ValidationError):
        parse_group(body)


def test_unreadable_filters_become_raw_wherever_they_are() -> None:
    bad_child = {"name": "city", "data_type": "string", "negate": "yes"}
    body = group(
        {"filter_type": "user_attributes", "name": "x", "data_type": "string", "negate": "no"},
        {
            "filter_type": "user_attributes",
            "name": "addr",
            "data_type": "object",
            "filter_operator": "and",
            "filters": [bad_child],
        },
        {**EVENT, "attributes": group(bad_child)},
        {**EVENT, "aggregation_attributes": group({"attribute_name": 5})},
        {"filter_type": "nested_filters", "filter_operator": "or", "filters": ["not a filter"]},
        {**EVENT, "execution": "often"},
    )
    parsed = parse_group(body, strict=False)
    assert isinstance(parsed.filters[0], RawFilter)
    obj = parsed.filters[1]
    assert isinstance(obj, ObjectFilter) and isinstance(obj.filters[0], RawFilter)
    assert isinstance(parsed.filters[5], RawFilter)
    assert parsed.to_payload() == body


def test_lenient_mode_still_needs_a_group() -> None:
    with pytest.raises(ValidationError, match="included: must be an object"):
        parse_group([], strict=False)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"excluded\.filter_operator: is required"):
        parse_group({"filters": []}, path="excluded", strict=False)


def test_typo_keys_rejected_strictly_but_kept_leniently() -> None:
    body = group(
        {
            "filter_type": "user_attributes",
            "name": "city",
            "data_type": "string",
            "operator": "in",
            "value": ["NY"],
            "case_sensitve": True,
        }
    )
    with pytest.raises(ValidationError, match="did you mean 'case_sensitive'"):
        parse_group(body)
    assert parse_group(body, strict=False).to_payload() == body
