"""Builders: functions and fluent methods that read like the condition they make.

Each builder fills in the explicit defaults the dashboard's payload generator sends (``negate: false``,
``case_sensitive: false``, ``array_filter_type: "any_of"``, an empty ``attributes`` block on events), so
the payload looks like the documented examples. User-property builders check their own rules at once
(``attr("flag", "bool").between(1, 2)`` fails where it is written); the remaining rules, which need the
whole filter (an event without a window), are checked by :func:`coerce_group` with the full path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs

from moengage_segments.errors import ValidationError
from moengage_segments.filters._model import (
    AffinityFilter,
    Aggregation,
    AttributeFilter,
    AttributeGroup,
    EventFilter,
    Execution,
    Filter,
    FilterGroup,
    GeoFilter,
    ObjectFilter,
    SegmentRef,
    UserFilter,
)
from moengage_segments.filters._spec import ATTRIBUTE_OPERATORS, ArrayMatch, DataType, ExtractType, ValueType
from moengage_segments.filters._time import DateLike, as_day, iso_end, iso_start
from moengage_segments.filters._validate import (
    Context,
    check_segment_ref_id,
    check_user_filter,
    operator_alternatives,
)

__all__ = [
    "AffinityBuilder",
    "AggregationBuilder",
    "Attr",
    "AttrRef",
    "affinity",
    "all_of",
    "any_of",
    "attr",
    "attr_ref",
    "avg_of",
    "event",
    "event_time",
    "max_of",
    "median_of",
    "min_of",
    "segment",
    "sum_of",
]

Number = int | float


@attrs.frozen
class AttrRef:
    """Another user attribute used as the comparison value (a "dynamic value" / cross-attribute compare).

    Example::

        f = attr("order_value", "double").greater_than(attr_ref("lifetime_value"))
        assert f.value == "{{MoeUserAttribute['lifetime_value']}}" and f.is_dynamic_value
    """

    name: str

    @property
    def template(self) -> str:
        """The payload form, ``{{MoeUserAttribute['<name>']}}``.

        Example::

            attr_ref("last_purchase").template  # "{{MoeUserAttribute['last_purchase']}}"
        """
        return "{{MoeUserAttribute['" + self.name + "']}}"


def attr_ref(name: str) -> AttrRef:
    """Refer to the user attribute ``name`` as a value: compare one attribute with another.

    Example::

        attr("last_login", "datetime").after(attr_ref("last_purchase"))
    """
    return AttrRef(name)


def _values(values: Any) -> tuple[Any, ...]:
    # A lone string is one value, not a sequence of characters.
    if isinstance(values, (str, bytes, int, float, AttrRef)):
        return (values,)
    return tuple(values)


@attrs.frozen
class Attr:
    """A user attribute about to become a condition. Make one with :func:`attr`.

    Methods by data type (each returns a filter):

    ============================  =============================================================
    every type                    ``exists()``; negate any result with ``~``
    string                        ``is_in``, ``equals``, ``contains``, ``starts_with``, ``ends_with``,
                                  ``contains_any``, ``starts_with_any``, ``ends_with_any``,
                                  ``is_empty``, ``contains_spaces``
    double                        ``is_in``, ``equals``, ``less_than``, ``greater_than``, ``between``
    bool                          ``is_true``, ``is_false``, ``equals``
    datetime                      ``on``, ``before``, ``after``, ``between``, ``in_the_last``,
                                  ``in_the_next``, ``today``; ``extract(part)`` then ``equals``/
                                  ``is_in``/``between`` on the hour, weekday, day, month or "MM-DD"
    geopoint                      ``near(latitude, longitude, radius=...)``
    array_string / array_double   as string / double, with ``match="any"|"all"`` on ``is_in``
    object / array_object         ``where(*children)``, ``where_any(*children)``
    ============================  =============================================================

    Example::

        attr("city").is_in(["New York", "Boston"])
    """

    name: str
    data_type: str = "string"
    category: str | None = None
    project_name: str | None = None
    extract_type: str | None = None
    context: Context = "user"

    @property
    def _path(self) -> str:
        return f"attr({self.name!r})"

    @property
    def _base(self) -> str:
        return self.data_type[len("array_") :] if self.data_type.startswith("array_") else self.data_type

    def _hint(self, data_types: Iterable[str]) -> str:
        name = json.dumps(self.name, ensure_ascii=False)
        return " or ".join(f"attr({name}, {json.dumps(t)})" for t in data_types)

    def _check_operator(self, operator: str, value: Any) -> None:
        """Say which ``attr(name, data_type)`` a method belongs to when it is called on the wrong type.

        ``attr("age").greater_than(18)`` (a string by default) points at ``attr("age", "double")``;
        ``is_true()`` on a non-bool at ``attr(name, "bool")``. Date parts (``extract``) and the
        affinity event time have a fixed type, so they get no hint.
        """
        if self.extract_type is not None or self.context == "psychographic":
            return
        others = operator_alternatives(operator, self.data_type, self.context)
        if others:
            allowed = ATTRIBUTE_OPERATORS[self.data_type]
            raise ValidationError(
                f"{self._path}.operator",
                f"{operator!r} is not allowed for data_type {self.data_type!r}; allowed: "
                f"{', '.join(allowed)}; did you mean {self._hint(others)}?",
            )
        flags = value if isinstance(value, tuple) else (value,)
        if self.data_type != "bool" and flags and all(isinstance(v, bool) for v in flags):
            raise ValidationError(
                f"{self._path}.value",
                f"true/false needs data_type 'bool', not {self.data_type!r}; did you mean {self._hint(['bool'])}?",
            )

    def _make(self, operator: str, value: Any = None, value1: Any = None, **fields: Any) -> AttributeFilter:
        self._check_operator(operator, value)
        if isinstance(value, AttrRef):
            fields.update(is_dynamic_value=True, dynamic_attribute_type=self._base)
            if self.data_type == "datetime":
                fields["value_type"] = "absolute"
            value = value.template
        elif isinstance(value, tuple) and any(isinstance(v, AttrRef) for v in value):
            raise ValidationError(f"{self._path}.value", "an attribute reference must be the only value")
        if (self._base == "string" and operator != "exists") or (
            self.context == "psychographic" and self.data_type == "string"
        ):
            fields.setdefault("case_sensitive", False)
        result = AttributeFilter(
            name=self.name,
            data_type=self.data_type,
            operator=operator,
            value=value,
            value1=value1,
            negate=False,
            category=self.category,
            project_name=self.project_name,
            extract_type=self.extract_type,
            filter_type=None if self.context == "psychographic" else "user_attributes",
            **fields,
        )
        check_user_filter(result, self._path, self.context)
        return result

    def _array(self, match: ArrayMatch) -> dict[str, Any]:
        if not self.data_type.startswith("array_"):
            return {}
        if match not in ("any", "all"):
            raise ValidationError(f"{self._path}.array_filter_type", "match must be 'any' or 'all'")
        return {"array_filter_type": f"{match}_of"}

    # -- every type --------------------------------------------------------------------------------------
    def exists(self) -> AttributeFilter:
        """The attribute has a value (``~attr(x).exists()``: it has none).

        Example::

            attr("email").exists()
        """
        return self._make("exists")

    # -- lists and equality --------------------------------------------------------------------------------
    def is_in(
        self, values: Iterable[Any] | str | Number, *, case_sensitive: bool | None = None, match: ArrayMatch = "any"
    ) -> AttributeFilter:
        """The value is one of ``values`` (for arrays: ``match="any"`` or ``"all"`` of them are present).

        Example::

            attr("status").is_in(["active", "trial"])
            attr("tags", "array_string").is_in(["vip", "premium"], match="all")
        """
        extra = self._array(match)
        if case_sensitive is not None:
            extra["case_sensitive"] = case_sensitive
        return self._make("in", _values(values), **extra)

    def equals(self, value: Any, *, case_sensitive: bool | None = None) -> AttributeFilter:
        """The value is exactly ``value`` (numbers, which have no ``is`` operator, send ``in [value]``).

        Example::

            attr("plan").equals("gold")
            attr("signup_date", "datetime").extract("day_of_the_week").equals(0)
        """
        extra: dict[str, Any] = {} if case_sensitive is None else {"case_sensitive": case_sensitive}
        if self._base == "double" and self.extract_type is None and not isinstance(value, AttrRef):
            return self._make("in", (value,), **extra, **self._array("any"))
        return self._make("is", value, **extra)

    def is_true(self) -> AttributeFilter:
        """A ``bool`` attribute is true. Example: ``attr("is_premium", "bool").is_true()``."""
        return self.equals(True)

    def is_false(self) -> AttributeFilter:
        """A ``bool`` attribute is false. Example: ``attr("is_test_user", "bool").is_false()``."""
        return self.equals(False)

    # -- text -----------------------------------------------------------------------------------------
    def _text(self, operator: str, value: Any, case_sensitive: bool | None) -> AttributeFilter:
        extra: dict[str, Any] = {} if case_sensitive is None else {"case_sensitive": case_sensitive}
        if self.data_type == "array_string":
            # Array attributes take a list here ([SPEC] value shapes); string attributes a single value.
            return self._make(operator, _values(value), **extra, **self._array("any"))
        return self._make(operator, value, **extra)

    def contains(self, value: Any, *, case_sensitive: bool | None = None) -> AttributeFilter:
        """The text contains ``value``. Example: ``attr("email").contains("@example.com")``."""
        return self._text("contains", value, case_sensitive)

    def starts_with(self, value: Any, *, case_sensitive: bool | None = None) -> AttributeFilter:
        """The text starts with ``value``. Example: ``attr("phone").starts_with("+1")``."""
        return self._text("startsWith", value, case_sensitive)

    def ends_with(self, value: Any, *, case_sensitive: bool | None = None) -> AttributeFilter:
        """The text ends with ``value``. Example: ``attr("email").ends_with(".edu")``."""
        return self._text("endsWith", value, case_sensitive)

    def contains_any(self, values: Iterable[str], *, case_sensitive: bool | None = None) -> AttributeFilter:
        """The text contains at least one of ``values``. Example: ``attr("bio").contains_any(["ai", "ml"])``."""
        return self._text("containsInTheFollowing", _values(values), case_sensitive)

    def starts_with_any(self, values: Iterable[str], *, case_sensitive: bool | None = None) -> AttributeFilter:
        """The text starts with one of ``values``. Example: ``attr("zip").starts_with_any(["100", "101"])``."""
        return self._text("startsWithInTheFollowing", _values(values), case_sensitive)

    def ends_with_any(self, values: Iterable[str], *, case_sensitive: bool | None = None) -> AttributeFilter:
        """The text ends with one of ``values``. Example: ``attr("email").ends_with_any([".edu", ".ac.uk"])``."""
        return self._text("endsWithInTheFollowing", _values(values), case_sensitive)

    def is_empty(self) -> AttributeFilter:
        """The dashboard's "is empty": ``is ""``. Example: ``~attr("name").is_empty()`` (is not empty)."""
        return self._make("is", "")

    def contains_spaces(self) -> AttributeFilter:
        """The dashboard's "contains spaces": ``contains " "``. Example: ``attr("username").contains_spaces()``."""
        return self._make("contains", " ")

    # -- numbers and dates ------------------------------------------------------------------------------
    def less_than(self, value: Number | AttrRef) -> AttributeFilter:
        """The number is below ``value``. Example: ``attr("age", "double").less_than(18)``."""
        return self._make("lessThan", value, **self._array("any"))

    def greater_than(self, value: Number | AttrRef) -> AttributeFilter:
        """The number is above ``value``. Example: ``attr("ltv", "double").greater_than(500)``."""
        return self._make("greaterThan", value, **self._array("any"))

    def between(self, low: Any, high: Any) -> AttributeFilter:
        """Between two numbers, two dates (whole days) or, with ``extract``, two date parts.

        Example::

            attr("age", "double").between(18, 65)
            attr("signup_date", "datetime").between("2024-01-01", "2024-01-31")
        """
        if self.data_type == "datetime" and self.extract_type is None:
            low_v, high_v, vt = self._when(low), self._when(high), self._value_type(low, None)
            if vt == "absolute":
                high_v = iso_end(as_day(high))
            return self._make("between", low_v, high_v, value_type=vt)
        return self._make("between", low, high, **self._array("any"))

    @staticmethod
    def _when(value: Any) -> Any:
        if isinstance(value, (int, AttrRef)) and not isinstance(value, bool):
            return value
        return iso_start(as_day(value))

    @staticmethod
    def _value_type(value: Any, explicit: ValueType | None) -> str:
        if explicit is not None:
            return explicit
        return "relative_past" if isinstance(value, int) and not isinstance(value, bool) else "absolute"

    def _dated(self, operator: str, when: Any, value_type: ValueType | None) -> AttributeFilter:
        if isinstance(when, AttrRef):
            return self._make(operator, when)
        return self._make(operator, self._when(when), value_type=self._value_type(when, value_type))

    def on(self, when: DateLike | int | AttrRef, *, value_type: ValueType | None = None) -> AttributeFilter:
        """On a date, or (an int) that many days ago.

        Example::

            attr("signup_date", "datetime").on("2024-01-15")
        """
        return self._dated("on", when, value_type)

    def before(self, when: DateLike | int | AttrRef, *, value_type: ValueType | None = None) -> AttributeFilter:
        """Before a date, or (an int) before that many days ago.

        Example::

            attr("trial_end", "datetime").before("2024-06-01")
        """
        return self._dated("before", when, value_type)

    def after(self, when: DateLike | int | AttrRef, *, value_type: ValueType | None = None) -> AttributeFilter:
        """After a date, or (an int) after that many days ago (``value_type="relative_future"``: ahead).

        Example::

            attr("last_seen", "datetime").after(attr_ref("last_purchase"))
        """
        return self._dated("after", when, value_type)

    def in_the_last(self, days: int) -> AttributeFilter:
        """Within the last ``days`` days.

        Example::

            attr("last_seen", "datetime").in_the_last(7)
        """
        return self._make("inTheLast", days, value_type="relative_past")

    def in_the_next(self, days: int) -> AttributeFilter:
        """Within the next ``days`` days (e.g. a renewal date coming up).

        Example::

            attr("renewal_date", "datetime").in_the_next(14)
        """
        return self._make("inTheNext", days, value_type="relative_future")

    def today(self) -> AttributeFilter:
        """The date is today. Example: ``attr("birthday", "datetime").today()``."""
        return self._make("today")

    def extract(self, part: ExtractType) -> Attr:
        """Match a part of a ``datetime``: ``time_of_the_day`` (0–23), ``day_of_the_week`` (0–6),
        ``day_of_the_month`` (1–31), ``month_of_the_year`` (1–12) or ``date_month_of_the_year`` ("MM-DD").

        Example::

            attr("birthday", "datetime").extract("date_month_of_the_year").equals("06-15")
        """
        if self.data_type != "datetime":
            raise ValidationError(f"{self._path}.extract_type", "only allowed for data_type datetime")
        return attrs.evolve(self, extract_type=part)

    # -- geopoint and objects -----------------------------------------------------------------------------
    def near(self, latitude: float, longitude: float, *, radius: float) -> GeoFilter:
        """A ``geopoint`` within ``radius`` of a point (the spec gives the unit as meters).

        Example::

            attr("home_location", "geopoint").near(40.7128, -74.006, radius=10)
        """
        result = GeoFilter(
            name=self.name,
            latitude=latitude,
            longitude=longitude,
            radius=radius,
            negate=False,
            category=self.category,
            project_name=self.project_name,
        )
        if self.data_type != "geopoint":
            raise ValidationError(f"{self._path}.data_type", "near() needs data_type 'geopoint'")
        check_user_filter(result, self._path, self.context)
        return result

    def where(self, *children: UserFilter) -> ObjectFilter:
        """An ``object``/``array_object`` whose child attributes match ALL ``children``.

        Example::

            attr("purchases", "array_object").where(attr("amount", "double").greater_than(100))
        """
        return self._object("and", children)

    def where_any(self, *children: UserFilter) -> ObjectFilter:
        """An ``object``/``array_object`` whose child attributes match ANY of ``children``.

        Example::

            attr("address", "object").where_any(attr("city").equals("Paris"), attr("city").equals("Lyon"))
        """
        return self._object("or", children)

    def _object(self, operator: str, children: Iterable[UserFilter]) -> ObjectFilter:
        if self.data_type not in ("object", "array_object"):
            raise ValidationError(f"{self._path}.data_type", "where() needs data_type 'object' or 'array_object'")
        result = ObjectFilter(
            name=self.name,
            data_type=self.data_type,
            operator=operator,
            filters=tuple(children),
            category=self.category,
            project_name=self.project_name,
        )
        check_user_filter(result, self._path, self.context)
        return result


def attr(
    name: str, data_type: DataType = "string", *, category: str | None = None, project_name: str | None = None
) -> Attr:
    """Start a user-property condition on attribute ``name`` of ``data_type`` (default ``"string"``).

    ``category`` is the attribute group shown in the dashboard (``"Tracked Custom Attribute"``,
    ``"default"``, ...); it is sent only when given. ``project_name`` scopes the filter in portfolio
    workspaces.

    Example::

        attr("city").is_in(["New York"])
        attr("age", "double").between(18, 65)
        attr("last_seen", "datetime").in_the_last(7)
    """
    return Attr(name, data_type, category, project_name)


def event_time(part: ExtractType) -> Attr:
    """The time an event happened, for time-based affinity (``moe_user_datetime``, ``Time Attributes``).

    Example::

        affinity("app_opened").predominantly(event_time("time_of_the_day").between(18, 23)).in_the_last(30)
    """
    return Attr("moe_user_datetime", "double", "Time Attributes", None, part, "psychographic")


def event(action_name: str, *, project_name: str | None = None) -> EventFilter:
    """Start a user-behaviour condition: performed ``action_name`` at least once, with no window yet.

    Chain ``at_least``/``at_most``/``exactly``/``first_time``/``last_time``/``not_executed``, a window
    (``in_the_last``, ``between``, ``on``, ``before``, ``after``, ``today``, ``this_week``, ...),
    ``where(...)`` for event attributes and ``having(...)`` for an aggregation.

    Example::

        event("purchase").at_least(2).in_the_last(30, "days")
        event("app_opened").not_executed().in_the_last(14)
    """
    return EventFilter(
        action_name=action_name,
        project_name=project_name,
        executed=True,
        execution=Execution(type="atleast", count=1),
        attributes=AttributeGroup(operator="and", filters=()),
    )


@attrs.frozen
class AggregationBuilder:
    """An aggregate of a numeric event attribute, waiting for its comparison. See :func:`sum_of`.

    Example::

        sum_of("revenue").greater_than(1000)
    """

    attribute_name: str
    aggregation_type: str

    def _make(self, operator: str, value: Number | str, value1: Number | None = None) -> Aggregation:
        return Aggregation(
            attribute_name=self.attribute_name,
            data_type="double",
            aggregation_type=self.aggregation_type,
            operator=operator,
            value=value,
            value1=value1,
            negate=False,
            is_dynamic_value=isinstance(value, str),
        )

    def greater_than(self, value: Number | str) -> Aggregation:
        """Aggregate above ``value``. Example: ``sum_of("revenue").greater_than(1000)``."""
        return self._make("greaterThan", value)

    def less_than(self, value: Number | str) -> Aggregation:
        """Aggregate below ``value``. Example: ``avg_of("rating").less_than(3)``."""
        return self._make("lessThan", value)

    def equals(self, value: Number | str) -> Aggregation:
        """Aggregate equal to ``value`` (``~``: not equal). Example: ``max_of("items").equals(1)``."""
        return self._make("is", value)

    def between(self, low: Number, high: Number) -> Aggregation:
        """Aggregate between ``low`` and ``high``. Example: ``median_of("basket").between(20, 50)``."""
        return self._make("between", low, high)


def sum_of(attribute_name: str) -> AggregationBuilder:
    """Sum of a numeric event attribute over the window. Example: ``sum_of("revenue").greater_than(1000)``."""
    return AggregationBuilder(attribute_name, "sum")


def avg_of(attribute_name: str) -> AggregationBuilder:
    """Average of a numeric event attribute. Example: ``avg_of("order_value").greater_than(50)``."""
    return AggregationBuilder(attribute_name, "avg")


def min_of(attribute_name: str) -> AggregationBuilder:
    """Minimum of a numeric event attribute. Example: ``min_of("price").less_than(5)``."""
    return AggregationBuilder(attribute_name, "min")


def max_of(attribute_name: str) -> AggregationBuilder:
    """Maximum of a numeric event attribute. Example: ``max_of("price").greater_than(500)``."""
    return AggregationBuilder(attribute_name, "max")


def median_of(attribute_name: str) -> AggregationBuilder:
    """Median of a numeric event attribute. Example: ``median_of("basket").between(20, 50)``."""
    return AggregationBuilder(attribute_name, "median")


def _psychographic(conditions: Iterable[UserFilter]) -> AttributeGroup:
    # Affinity attributes carry no filter_type and use the "Event Attributes" category ([SPEC] §6.4).
    converted = tuple(attrs.evolve(c, filter_type=None, category=c.category or "Event Attributes") for c in conditions)
    return AttributeGroup(operator="and", filters=converted)


@attrs.frozen
class AffinityBuilder:
    """An affinity condition waiting for its mode. Make one with :func:`affinity`.

    Example::

        affinity("purchase").top_percent(10, attr("product_category").exists()).in_the_last(30)
    """

    action_name: str
    project_name: str | None = None

    def _make(self, operator_type: str, conditions: Iterable[UserFilter], **fields: Any) -> AffinityFilter:
        return AffinityFilter(
            action_name=self.action_name,
            project_name=self.project_name,
            operator_type=operator_type,
            psychographic_attributes=_psychographic(conditions),
            executed=True,
            execution=Execution(type="atleast", count=1),
            attributes=AttributeGroup(operator="and", filters=()),
            **fields,
        )

    def predominantly(self, *conditions: UserFilter) -> AffinityFilter:
        """Users for whom ``conditions`` is the most frequent pattern of this event.

        Example::

            affinity("purchase").predominantly(attr("product_category").equals("Electronics")).in_the_last(90)
        """
        return self._make("predominant", conditions)

    def at_least_percent_of_times(self, percent: int, *conditions: UserFilter) -> AffinityFilter:
        """Users for whom ``conditions`` hold in at least ``percent``% of their events.

        Example::

            affinity("purchase").at_least_percent_of_times(60, attr("brand").equals("Acme")).in_the_last(90)
        """
        return self._make("minimum", conditions, percent_of_times=percent)

    def top_percent(self, percent: int, *conditions: UserFilter) -> AffinityFilter:
        """Users in the top ``percent``% for this affinity.

        Example::

            affinity("purchase").top_percent(10, attr("product_category").exists()).in_the_last(30)
        """
        return self._make("top", conditions, percent_of_users=percent)

    def bottom_percent(self, percent: int, *conditions: UserFilter) -> AffinityFilter:
        """Users in the bottom ``percent``% for this affinity.

        Example::

            affinity("app_opened").bottom_percent(20, event_time("time_of_the_day").between(0, 6))
        """
        return self._make("bottom", conditions, percent_of_users=percent)


def affinity(action_name: str, *, project_name: str | None = None) -> AffinityBuilder:
    """Start a user-affinity condition over event ``action_name``.

    Example::

        affinity("purchase").predominantly(attr("product_category").equals("Electronics")).in_the_last(90)
    """
    return AffinityBuilder(action_name, project_name)


def segment(segment_id: str, name: str | None = None) -> SegmentRef:
    """Users in the saved segment ``segment_id`` (``name`` is only a label; the id decides).

    ``segment_id`` must be a segment id as the API gives it: 24 hexadecimal characters.

    Example::

        segment("5c93982f573bb92004975a36", "VIP Customers")
    """
    check_segment_ref_id(segment_id, "segment.id")
    return SegmentRef(segment_id, name)


def _flatten(filters: tuple[Any, ...]) -> tuple[Filter, ...]:
    if len(filters) == 1 and isinstance(filters[0], (list, tuple)):
        return tuple(filters[0])
    return filters


def all_of(*filters: Filter | Iterable[Filter]) -> FilterGroup:
    """Users matching ALL of ``filters`` (an AND group; nested inside another group it is
    ``nested_filters``). A single list argument is also accepted.

    Example::

        all_of(attr("country").is_in(["US"]), event("purchase").in_the_last(30))
    """
    return FilterGroup("and", _flatten(filters))


def any_of(*filters: Filter | Iterable[Filter]) -> FilterGroup:
    """Users matching ANY of ``filters`` (an OR group).

    Example::

        any_of(attr("country").is_in(["US"]), attr("country").is_in(["UK"]))
    """
    return FilterGroup("or", _flatten(filters))
