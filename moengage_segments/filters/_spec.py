"""The documented vocabulary of the v3 filter schema (section 6 of the API notes), in one place.

Validation, parsing and builders all read these tables, so a new documented value is added here once.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "AFFINITY_OPERATOR_TYPES",
    "AGGREGATION_OPERATORS",
    "AGGREGATION_TYPES",
    "ARRAY_FILTER_TYPES",
    "ATTRIBUTE_OPERATORS",
    "COMPARATORS",
    "DATA_TYPES",
    "DYNAMIC_TYPES",
    "EXECUTION_TYPES",
    "EXTRACT_RANGES",
    "EXTRACT_TYPES",
    "FILTER_TYPES",
    "GROUP_OPERATORS",
    "PERIOD_UNITS",
    "PSYCHOGRAPHIC_OPERATORS",
    "TIME_RANGE_TYPES",
    "VALUE_TYPES",
    "AggregationType",
    "ArrayMatch",
    "DataType",
    "ExtractType",
    "GroupOperator",
    "PeriodUnit",
    "ValueType",
]

GroupOperator = Literal["and", "or"]
DataType = Literal[
    "string", "double", "bool", "datetime", "geopoint", "array_string", "array_double", "object", "array_object"
]
ValueType = Literal["absolute", "relative_past", "relative_future"]
ExtractType = Literal[
    "time_of_the_day", "day_of_the_week", "day_of_the_month", "month_of_the_year", "date_month_of_the_year"
]
PeriodUnit = Literal["hours", "days", "weeks", "months"]
AggregationType = Literal["sum", "avg", "min", "max", "median"]
ArrayMatch = Literal["any", "all"]

GROUP_OPERATORS: tuple[str, ...] = ("and", "or")
FILTER_TYPES: tuple[str, ...] = (
    "user_attributes",
    "actions",
    "psychographic_event",
    "custom_segments",
    "nested_filters",
)
DATA_TYPES: tuple[str, ...] = (
    "string",
    "double",
    "bool",
    "datetime",
    "geopoint",
    "array_string",
    "array_double",
    "object",
    "array_object",
)

# Operators per data type. The string list is the union of [SPEC] and [SPEC-R] (notes §9: accept both).
ATTRIBUTE_OPERATORS: dict[str, tuple[str, ...]] = {
    "string": (
        "in",
        "is",
        "contains",
        "startsWith",
        "endsWith",
        "containsInTheFollowing",
        "startsWithInTheFollowing",
        "endsWithInTheFollowing",
        "exists",
    ),
    "double": ("in", "lessThan", "greaterThan", "between", "exists"),
    "bool": ("is", "exists"),
    "datetime": ("on", "between", "before", "after", "inTheLast", "inTheNext", "today", "is", "in", "exists"),
    "array_string": ("in", "contains", "startsWith", "endsWith", "is", "exists"),
    "array_double": ("in", "lessThan", "greaterThan", "between", "exists"),
}
VALUE_TYPES: tuple[str, ...] = ("absolute", "relative_past", "relative_future")
# "default_option_date" is [SPEC-R]'s explicit spelling of "match the full date" (notes §9).
EXTRACT_TYPES: tuple[str, ...] = (
    "time_of_the_day",
    "day_of_the_week",
    "day_of_the_month",
    "month_of_the_year",
    "date_month_of_the_year",
    "default_option_date",
)
EXTRACT_RANGES: dict[str, tuple[int, int]] = {
    "time_of_the_day": (0, 23),
    "day_of_the_week": (0, 6),
    "day_of_the_month": (1, 31),
    "month_of_the_year": (1, 12),
}
ARRAY_FILTER_TYPES: tuple[str, ...] = ("any_of", "all_of")
DYNAMIC_TYPES: tuple[str, ...] = ("string", "double", "bool", "datetime")

EXECUTION_TYPES: tuple[str, ...] = ("atleast", "exactly", "atmost", "firstTime", "lastTime")
TIME_RANGE_TYPES: tuple[str, ...] = ("inTheLast", "between", "on", "before", "after")
PERIOD_UNITS: tuple[str, ...] = ("hours", "days", "weeks", "months")

AGGREGATION_TYPES: tuple[str, ...] = ("sum", "avg", "min", "max", "median")
AGGREGATION_OPERATORS: tuple[str, ...] = ("is", "between", "lessThan", "greaterThan")
COMPARATORS: tuple[str, ...] = ("change", "percentageChange")

AFFINITY_OPERATOR_TYPES: tuple[str, ...] = ("predominant", "minimum", "top", "bottom")
PSYCHOGRAPHIC_OPERATORS: dict[str, tuple[str, ...]] = {
    "string": ("is", "in", "contains", "startsWith", "endsWith", "exists"),
    "double": ("is", "in", "exists", "lessThan", "greaterThan", "between"),
}
