"""The typed filter tree: frozen attrs classes, one per documented filter kind, and their payload form.

Design rules (why the classes look like this):

* A field is ``None`` exactly when its key is absent from the payload. That is what lets a payload the
  server sent come back out unchanged (``parse_group(p).to_payload() == p``), including the documented
  variants (``filter_type`` present or not on event-attribute filters, ``days`` instead of ``value``, a
  scalar instead of a list for ``in``). Builders fill in the explicit defaults the dashboard sends.
* Keys the SDK does not know go to ``extra`` and are written back as they came, so a newer server never
  loses data through an SDK round-trip. Whole filters of an unknown kind become :class:`RawFilter`.
* Values are stored frozen (lists become tuples), so every object is hashable and truly immutable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypeVar, cast

import attrs

from moengage_segments._frozen import FrozenMap, freeze, freeze_map, thaw
from moengage_segments.filters._time import DateLike, as_day, iso_end, iso_start

__all__ = [
    "AffinityFilter",
    "Aggregation",
    "AggregationGroup",
    "AttributeFilter",
    "AttributeGroup",
    "BaseTimeRange",
    "EventFilter",
    "Execution",
    "Filter",
    "FilterGroup",
    "GeoFilter",
    "ObjectFilter",
    "RawFilter",
    "SegmentRef",
    "TimeRange",
    "UserFilter",
]


Scalar = str | int | float | bool
Value = str | int | float | bool | tuple[str | int | float, ...]
Bound = str | int | float


def _value(v: Any) -> Any:
    # Lists become tuples so the objects stay hashable; scalars stay scalars (round-trip of scalar ``in``).
    return tuple(v) if isinstance(v, (list, tuple)) else v


def _wire(key: str) -> dict[str, str]:
    """Field metadata naming a field's payload key where it differs from the Python name."""
    return {"wire": key}


def _payload_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_payload_value(v) for v in value]
    if isinstance(value, FilterGroup):
        # A group inside another group is a ``nested_filters`` block; at the root it has no filter_type.
        return {"filter_type": "nested_filters", **value.to_payload()}
    if isinstance(value, _Wire | RawFilter):
        return value.to_payload()
    return thaw(value)


class _Wire:
    """The payload form, built from ``attrs.fields()``: each field's key is declared once, on the field.

    A field that is ``None`` is absent from the payload; ``extra`` (unknown keys) is written back last.
    ``_FIXED`` holds the keys a kind always sends with the same value (its ``filter_type``, say).
    """

    __slots__ = ()
    _FIXED: ClassVar[Mapping[str, str]] = {}

    def to_payload(self) -> dict[str, Any]:
        """Return the JSON-ready dict for this object (children included).

        Example::

            attr("age", "double").greater_than(18).to_payload()["value"]  # 18
        """
        out: dict[str, Any] = dict(self._FIXED)
        for field in attrs.fields(cast(Any, type(self))):
            value = getattr(self, field.name)
            if value is not None and field.name != "extra":
                out[field.metadata.get("wire", field.name)] = _payload_value(value)
        extra: Mapping[str, Any] = getattr(self, "extra", FrozenMap())
        for key, value in extra.items():
            out.setdefault(key, thaw(value))
        return out


def _user_filters(value: Iterable[UserFilter | RawFilter]) -> tuple[UserFilter | RawFilter, ...]:
    return tuple(value)


def _aggregations(value: Iterable[Aggregation | RawFilter]) -> tuple[Aggregation | RawFilter, ...]:
    return tuple(value)


class _Combinable(_Wire):
    """``a & b``, ``a | b`` and ``~a`` for every filter kind."""

    __slots__ = ()

    def __and__(self, other: Filter) -> FilterGroup:
        return _combine("and", self, other)  # type: ignore[arg-type]

    def __or__(self, other: Filter) -> FilterGroup:
        return _combine("or", self, other)  # type: ignore[arg-type]

    def __invert__(self) -> Filter:
        raise TypeError(f"{type(self).__name__} cannot be negated")


def _combine(operator: str, left: Filter, right: Filter) -> FilterGroup:
    # Flatten same-operator chains so ``a & b & c`` is one group, not three levels of nesting.
    items: list[Filter] = []
    for part in (left, right):
        if isinstance(part, FilterGroup) and part.operator == operator and not part.extra:
            items.extend(part.filters)
        else:
            items.append(part)
    return FilterGroup(operator, tuple(items))


# --------------------------------------------------------------------------------------------------------
# User property filters
# --------------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AttributeFilter(_Combinable):
    """A user-property (or event-attribute) condition on a scalar or array attribute.

    Covers data types ``string``, ``double``, ``bool``, ``datetime``, ``array_string`` and
    ``array_double``; ``geopoint`` is :class:`GeoFilter`, ``object``/``array_object`` is
    :class:`ObjectFilter`. Build one with :func:`attr`. ``~f`` flips ``negate``.

    Example::

        f = attr("city").is_in(["New York"])
        assert f.to_payload()["operator"] == "in"
    """

    #: ``"user_attributes"``, ``"action_attributes"`` (inside an event's ``attributes``) or ``None``
    #: (absent: psychographic attributes, and event attributes as the server echoes them).
    filter_type: str | None = "user_attributes"
    name: str
    data_type: str
    category: str | None = None
    project_name: str | None = None
    operator: str | None = None
    negate: bool | None = None
    case_sensitive: bool | None = None
    value_type: str | None = None
    extract_type: str | None = None
    array_filter_type: str | None = None
    value: Value | None = attrs.field(default=None, converter=_value)
    value1: Bound | None = None
    is_dynamic_value: bool | None = None
    dynamic_attribute_type: str | None = None
    extra: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze_map)

    def __invert__(self) -> AttributeFilter:
        return attrs.evolve(self, negate=not self.negate)


@attrs.frozen(kw_only=True)
class GeoFilter(_Combinable):
    """A ``geopoint`` condition: the attribute lies within ``radius`` of (``latitude``, ``longitude``).

    In the payload the latitude is ``value`` and the longitude ``value1``; there is no ``operator``.
    ``~f`` flips ``negate`` (outside the radius).

    Example::

        f = attr("home_location", "geopoint").near(40.7128, -74.006, radius=10)
        assert f.to_payload()["value1"] == -74.006
    """

    _FIXED: ClassVar[Mapping[str, str]] = {"data_type": "geopoint"}

    filter_type: str | None = "user_attributes"
    name: str
    category: str | None = None
    project_name: str | None = None
    negate: bool | None = None
    latitude: float | None = attrs.field(default=None, metadata=_wire("value"))
    longitude: float | None = attrs.field(default=None, metadata=_wire("value1"))
    radius: float | None = None
    extra: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze_map)

    @property
    def data_type(self) -> str:
        """Always ``"geopoint"`` (the only data type a geo filter has).

        Example::

            attr("loc", "geopoint").near(1.0, 2.0, radius=5).data_type  # "geopoint"
        """
        return "geopoint"

    def __invert__(self) -> GeoFilter:
        return attrs.evolve(self, negate=not self.negate)


@attrs.frozen(kw_only=True)
class ObjectFilter(_Combinable):
    """An ``object`` or ``array_object`` condition: child attribute filters combined by ``operator``.

    For ``array_object`` a user matches when one array element satisfies the children together.
    These cannot be negated (the API has no ``negate`` for them).

    Example::

        f = attr("address", "object").where(attr("city").is_in(["New York"]))
        assert f.to_payload()["filters"][0]["name"] == "city"
    """

    filter_type: str | None = "user_attributes"
    name: str
    data_type: str = "object"
    category: str | None = None
    project_name: str | None = None
    operator: str = attrs.field(default="and", metadata=_wire("filter_operator"))
    filters: tuple[UserFilter | RawFilter, ...] = attrs.field(default=(), converter=_user_filters)
    extra: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze_map)

    def __invert__(self) -> Filter:
        raise TypeError(
            f"{self.data_type} filter {self.name!r} cannot be negated (the API has no negate for it); "
            "negate its child filters instead"
        )


UserFilter = AttributeFilter | GeoFilter | ObjectFilter
"""A user-property filter of any data type.

Example::

    isinstance(attr("city").equals("Paris"), UserFilter)  # True
"""


# --------------------------------------------------------------------------------------------------------
# Event (behaviour) filters
# --------------------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Execution(_Wire):
    """How often the event happened: ``type`` (``atleast``/``exactly``/``atmost``/``firstTime``/``lastTime``)
    and ``count`` (absent for first/last time).

    Example::

        assert event("purchase").at_least(2).execution == Execution(type="atleast", count=2)
    """

    type: str
    count: int | None = None
    extra: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze_map)


@attrs.frozen(kw_only=True)
class TimeRange(_Wire):
    """An event's ``primary_time_range``.

    Event filters use ``value``/``value1``/``period_unit``; dashboard-built segments and affinity filters
    use ``days``/``days1`` for relative windows and ``from_``/``to`` (payload ``from``/``to``) for absolute
    ones. Whatever was given is kept.

    Example::

        tr = event("purchase").in_the_last(30).primary_time_range
        assert tr == TimeRange(type="inTheLast", value_type="relative_past", value=30, period_unit="days")
    """

    type: str
    value: Bound | None = None
    value1: Bound | None = None
    value_type: str | None = None
    period_unit: str | None = None
    days: int | None = None
    days1: int | None = None
    from_: str | None = attrs.field(default=None, metadata=_wire("from"))
    to: str | None = None
    extra: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze_map)


@attrs.frozen(kw_only=True)
class AttributeGroup(_Wire):
    """The ``attributes`` (or ``psychographic_attributes``) block: attribute filters and ``operator``.

    Example::

        g = event("purchase").where(attr("currency").equals("USD")).attributes
        assert g is not None and g.operator == "and"
    """

    operator: str = attrs.field(default="and", metadata=_wire("filter_operator"))
    filters: tuple[UserFilter | RawFilter, ...] = attrs.field(default=(), converter=_user_filters)
    extra: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze_map)


@attrs.frozen(kw_only=True)
class BaseTimeRange(_Wire):
    """The earlier window an aggregation is compared with: ``previousPeriod`` or ``between`` two dates.

    Example::

        assert sum_of("revenue").greater_than(25).compared_to_previous_period().base_time_range \\
            == BaseTimeRange(type="previousPeriod")
    """

    type: str
    value: str | None = None
    value1: str | None = None
    extra: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze_map)


@attrs.frozen(kw_only=True)
class Aggregation(_Wire):
    """One aggregation condition (``sum``/``avg``/``min``/``max``/``median`` of a numeric event attribute).

    Build with :func:`sum_of` and friends; attach with :meth:`EventFilter.having`. ``~a`` flips ``negate``
    (only meaningful inside :meth:`EventFilter.having`).

    Example::

        a = sum_of("revenue").greater_than(1000)
        assert a.to_payload()["aggregation_type"] == "sum"
    """

    attribute_name: str
    data_type: str | None = "double"
    aggregation_type: str
    operator: str
    value: Bound | None = None
    value1: Bound | None = None
    negate: bool | None = None
    is_dynamic_value: bool | None = None
    comparator: str | None = None
    base_time_range: BaseTimeRange | None = None
    extra: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze_map)

    def compared_to_previous_period(self, *, percent: bool = False) -> Aggregation:
        """Compare the change against the period just before the event's window.

        Example::

            sum_of("revenue").greater_than(25).compared_to_previous_period(percent=True)
        """
        return attrs.evolve(
            self,
            comparator="percentageChange" if percent else "change",
            base_time_range=BaseTimeRange(type="previousPeriod"),
        )

    def compared_to(self, start: DateLike, end: DateLike, *, percent: bool = False) -> Aggregation:
        """Compare the change against a fixed earlier window (dates become whole days).

        Example::

            sum_of("revenue").greater_than(25).compared_to("2024-01-01", "2024-01-31", percent=True)
        """
        window = BaseTimeRange(type="between", value=iso_start(as_day(start)), value1=iso_end(as_day(end)))
        return attrs.evolve(self, comparator="percentageChange" if percent else "change", base_time_range=window)

    def __invert__(self) -> Aggregation:
        return attrs.evolve(self, negate=not self.negate)


@attrs.frozen(kw_only=True)
class AggregationGroup(_Wire):
    """The ``aggregation_attributes`` block (the API allows exactly one condition in it).

    Example::

        f = event("purchase").in_the_last(30).having(sum_of("revenue").greater_than(1000))
        assert f.aggregation_attributes is not None
    """

    operator: str = attrs.field(default="and", metadata=_wire("filter_operator"))
    filters: tuple[Aggregation | RawFilter, ...] = attrs.field(default=(), converter=_aggregations)
    extra: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze_map)


_T_ev = TypeVar("_T_ev", bound="_EventLike")


class _EventLike(_Combinable):
    """Fluent frequency setters shared by event and affinity filters."""

    __slots__ = ()

    def _frequency(self: _T_ev, execution: Execution) -> _T_ev:
        raise NotImplementedError

    def at_least(self: _T_ev, count: int) -> _T_ev:
        """Performed the event at least ``count`` times (``executed: true``).

        Example::

            event("app_opened").at_least(3).in_the_last(7)
        """
        return self._frequency(Execution(type="atleast", count=count))

    def at_most(self: _T_ev, count: int) -> _T_ev:
        """Performed the event at most ``count`` times (``count`` > 0).

        Example::

            event("support_ticket").at_most(2).in_the_last(30)
        """
        return self._frequency(Execution(type="atmost", count=count))

    def exactly(self: _T_ev, count: int) -> _T_ev:
        """Performed the event exactly ``count`` times (``count`` > 0).

        Example::

            event("purchase").exactly(1).in_the_last(90)
        """
        return self._frequency(Execution(type="exactly", count=count))

    def first_time(self: _T_ev) -> _T_ev:
        """Performed the event for the first time within the window.

        Example::

            event("purchase").first_time().in_the_last(7)   # new buyers this week
        """
        return self._frequency(Execution(type="firstTime"))

    def last_time(self: _T_ev) -> _T_ev:
        """Performed the event for the last time within the window.

        Example::

            event("purchase").last_time().between(30, 60)   # last bought 30 to 60 days ago
        """
        return self._frequency(Execution(type="lastTime"))


@attrs.frozen(kw_only=True)
class EventFilter(_EventLike):
    """A user-behaviour condition (``filter_type: "actions"``): did / did not perform an event.

    Build with :func:`event`, then chain the frequency, the window and event-attribute conditions.
    ``~f`` turns "did at least once" into "did not" and back.

    Example::

        f = event("purchase").at_least(2).in_the_last(30, "days")
        assert f.to_payload()["execution"] == {"type": "atleast", "count": 2}
    """

    _FIXED: ClassVar[Mapping[str, str]] = {"filter_type": "actions"}

    action_name: str
    project_name: str | None = None
    executed: bool | None = True
    execution: Execution | None = None
    primary_time_range: TimeRange | None = None
    attributes: AttributeGroup | None = None
    aggregation_attributes: AggregationGroup | None = None
    extra: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze_map)

    def _frequency(self, execution: Execution) -> EventFilter:
        return attrs.evolve(self, executed=True, execution=execution)

    def not_executed(self) -> EventFilter:
        """Did NOT perform the event in the window (``executed: false``, ``exactly 0``, no aggregation).

        Example::

            event("app_opened").not_executed().in_the_last(14)
        """
        return attrs.evolve(
            self, executed=False, execution=Execution(type="exactly", count=0), aggregation_attributes=None
        )

    # -- window ---------------------------------------------------------------------------------------
    def in_the_last(self, count: int, unit: str = "days") -> EventFilter:
        """Within the last ``count`` ``unit`` (``hours``, ``days``, ``weeks``, ``months``).

        Example::

            event("purchase").in_the_last(12, "hours")
        """
        return self._window(TimeRange(type="inTheLast", value=count, value_type="relative_past", period_unit=unit))

    def between(self, start: DateLike | int, end: DateLike | int, unit: str = "days") -> EventFilter:
        """Between two dates (whole days, inclusive), or between ``start`` and ``end`` units ago.

        Example::

            event("event_attended").between("2024-01-01", "2024-01-31")
        """
        if isinstance(start, int) and isinstance(end, int):
            return self._window(
                TimeRange(type="between", value=start, value1=end, value_type="relative_past", period_unit=unit)
            )
        if isinstance(start, int) or isinstance(end, int):
            raise TypeError("between() takes two dates or two integers, not a mix")
        return self._window(
            TimeRange(
                type="between", value=iso_start(as_day(start)), value1=iso_end(as_day(end)), value_type="absolute"
            )
        )

    def on(self, when: DateLike | int, unit: str = "days") -> EventFilter:
        """On a date, or on the calendar ``unit`` that is ``when`` units ago (0 = this one).

        Example::

            event("purchase").on("2024-01-15")      # absolute
            event("purchase").on(1, "weeks")        # last week
        """
        return self._point("on", when, unit)

    def before(self, when: DateLike | int, unit: str = "days") -> EventFilter:
        """Before a date, or before ``when`` units ago.

        Example::

            event("purchase").before("2024-01-01")
        """
        return self._point("before", when, unit)

    def after(self, when: DateLike) -> EventFilter:
        """After a date (the API allows only absolute dates here).

        Example::

            event("purchase").after("2024-06-01")
        """
        return self._window(TimeRange(type="after", value=iso_start(as_day(when)), value_type="absolute"))

    def today(self) -> EventFilter:
        """Today (calendar day). Example: ``event("app_opened").today()``."""
        return self.on(0, "days")

    def yesterday(self) -> EventFilter:
        """Yesterday (calendar day). Example: ``event("app_opened").yesterday()``."""
        return self.on(1, "days")

    def this_week(self) -> EventFilter:
        """This calendar week. Example: ``event("app_opened").this_week()``."""
        return self.on(0, "weeks")

    def last_week(self) -> EventFilter:
        """Last calendar week. Example: ``event("app_opened").last_week()``."""
        return self.on(1, "weeks")

    def this_month(self) -> EventFilter:
        """This calendar month. Example: ``event("app_opened").this_month()``."""
        return self.on(0, "months")

    def last_month(self) -> EventFilter:
        """Last calendar month. Example: ``event("app_opened").last_month()``."""
        return self.on(1, "months")

    def _point(self, kind: str, when: DateLike | int, unit: str) -> EventFilter:
        if isinstance(when, bool):
            raise TypeError(f"{kind}() takes a date or a whole number of {unit}, not a boolean")
        if isinstance(when, int):
            return self._window(TimeRange(type=kind, value=when, value_type="relative_past", period_unit=unit))
        return self._window(TimeRange(type=kind, value=iso_start(as_day(when)), value_type="absolute"))

    def _window(self, window: TimeRange) -> EventFilter:
        return attrs.evolve(self, primary_time_range=window)

    # -- event attributes and aggregation ---------------------------------------------------------------
    def where(self, *conditions: UserFilter) -> EventFilter:
        """Only count events whose attributes match ALL ``conditions`` (built with :func:`attr`).

        Example::

            event("purchase").where(attr("currency").equals("USD")).in_the_last(7)
        """
        return attrs.evolve(self, attributes=_event_attributes("and", conditions))

    def where_any(self, *conditions: UserFilter) -> EventFilter:
        """Only count events whose attributes match ANY of ``conditions``.

        Example::

            event("purchase").where_any(attr("currency").equals("USD"), attr("currency").equals("EUR"))
        """
        return attrs.evolve(self, attributes=_event_attributes("or", conditions))

    def having(self, aggregation: Aggregation) -> EventFilter:
        """Add the aggregation condition (one per event filter), e.g. total revenue above 1000.

        Example::

            event("purchase").in_the_last(30).having(sum_of("revenue").greater_than(1000))
        """
        return attrs.evolve(self, aggregation_attributes=AggregationGroup(operator="and", filters=(aggregation,)))

    def __invert__(self) -> EventFilter:
        execution = self.execution
        if self.executed is False:
            return attrs.evolve(self, executed=True, execution=Execution(type="atleast", count=1))
        simple = execution is None or (execution.type == "atleast" and execution.count == 1)
        if simple and not (self.aggregation_attributes and self.aggregation_attributes.filters):
            return self.not_executed()
        raise TypeError(
            f"event filter {self.action_name!r} can only be negated when it means 'did at least once' "
            "(no other count, first/last time or aggregation); write the opposite condition explicitly"
        )


def _event_attributes(operator: str, conditions: Iterable[UserFilter]) -> AttributeGroup:
    # Event attribute filters are user-property filters with filter_type "action_attributes" and
    # category "default" ([SPEC] §6.3); builders make user-attribute filters, so convert them here.
    return AttributeGroup(operator=operator, filters=tuple(_as_event_attribute(c) for c in conditions))


def _as_event_attribute(f: UserFilter) -> UserFilter:
    if isinstance(f, ObjectFilter):
        return attrs.evolve(
            f,
            filter_type="action_attributes",
            category=f.category or "default",
            filters=tuple(_as_event_attribute(c) if not isinstance(c, RawFilter) else c for c in f.filters),
        )
    return attrs.evolve(f, filter_type="action_attributes", category=f.category or "default")


@attrs.frozen(kw_only=True)
class AffinityFilter(_EventLike):
    """A user-affinity condition (``filter_type: "psychographic_event"``).

    Build with :func:`affinity`. The window uses ``days``/``days1`` (relative) or ``from``/``to``
    (absolute), unlike event filters.

    Example::

        f = affinity("purchase").predominantly(attr("product_category").equals("Electronics")).in_the_last(90)
        assert f.to_payload()["operator_type"] == "predominant"
    """

    _FIXED: ClassVar[Mapping[str, str]] = {"filter_type": "psychographic_event"}

    action_name: str
    project_name: str | None = None
    executed: bool | None = True
    execution: Execution | None = None
    operator_type: str
    percent_of_times: int | None = None
    percent_of_users: int | None = None
    psychographic_attributes: AttributeGroup
    attributes: AttributeGroup | None = None
    primary_time_range: TimeRange | None = None
    extra: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze_map)

    def _frequency(self, execution: Execution) -> AffinityFilter:
        return attrs.evolve(self, executed=True, execution=execution)

    def in_the_last(self, days: int) -> AffinityFilter:
        """Evaluate affinity over the last ``days`` days.

        Example::

            affinity("purchase").top_percent(10, attr("product_category").exists()).in_the_last(30)
        """
        return attrs.evolve(self, primary_time_range=TimeRange(type="inTheLast", value_type="relative_past", days=days))

    def between(self, start: DateLike | int, end: DateLike | int) -> AffinityFilter:
        """Evaluate affinity between two dates, or between ``start`` and ``end`` days ago.

        Example::

            affinity("purchase").predominantly(attr("brand").equals("Acme")).between("2024-01-01", "2024-03-31")
        """
        if isinstance(start, int) and isinstance(end, int):
            window = TimeRange(type="between", value_type="relative_past", days=start, days1=end)
        elif isinstance(start, int) or isinstance(end, int):
            raise TypeError("between() takes two dates or two integers, not a mix")
        else:
            window = TimeRange(
                type="between", value_type="absolute", from_=iso_start(as_day(start)), to=iso_end(as_day(end))
            )
        return attrs.evolve(self, primary_time_range=window)

    def where(self, *conditions: UserFilter) -> AffinityFilter:
        """Only count events whose attributes match ALL ``conditions``.

        Example::

            affinity("purchase").predominantly(attr("brand").exists()).where(attr("currency").equals("USD"))
        """
        return attrs.evolve(self, attributes=_event_attributes("and", conditions))

    def __invert__(self) -> Filter:
        raise TypeError("affinity filters cannot be negated; put the filter in excluded=... instead")


# --------------------------------------------------------------------------------------------------------
# Segment references, groups and raw filters
# --------------------------------------------------------------------------------------------------------


@attrs.frozen
class SegmentRef(_Combinable):
    """A reference to a saved segment (``filter_type: "custom_segments"``); ``name`` is a label only.

    Example::

        s = segment("5c93982f573bb92004975a36", "VIP Customers")
        assert s.to_payload()["filter_type"] == "custom_segments"
    """

    _FIXED: ClassVar[Mapping[str, str]] = {"filter_type": "custom_segments"}

    id: str
    name: str | None = None
    extra: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze_map, kw_only=True)

    def __invert__(self) -> Filter:
        raise TypeError("segment references cannot be negated; put the segment in excluded=... instead")


@attrs.frozen
class RawFilter(_Combinable):
    """A filter the SDK does not model (unknown ``filter_type``, or unparseable in lenient mode), kept as is.

    Only :func:`parse_group` with ``strict=False`` makes these; strict validation rejects them.

    Example::

        g = parse_group({"filter_operator": "and", "filters": [{"filter_type": "new_kind"}]}, strict=False)
        assert isinstance(g.filters[0], RawFilter)
    """

    #: The JSON as received, frozen (usually a :class:`FrozenMap`).
    payload: Any = attrs.field(converter=freeze)

    def to_payload(self) -> Any:
        """Return the stored JSON unchanged (as plain dicts and lists).

        Example::

            RawFilter({"filter_type": "x", "n": 1}).to_payload()  # {"filter_type": "x", "n": 1}
        """
        return thaw(self.payload)

    @property
    def filter_type(self) -> str | None:
        """The payload's ``filter_type`` if it is a string, else ``None``.

        Example::

            RawFilter({"filter_type": "x"}).filter_type  # "x"
            RawFilter([1, 2]).filter_type             # None
        """
        value = self.payload.get("filter_type") if isinstance(self.payload, Mapping) else None
        return value if isinstance(value, str) else None


def _filters(value: Iterable[Filter]) -> tuple[Filter, ...]:
    return tuple(value)


@attrs.frozen
class FilterGroup(_Combinable):
    """An AND/OR group of filters: the root of ``included``/``excluded``, or (inside another group) a
    ``nested_filters`` block.

    ``~group`` applies De Morgan (flips the operator and negates every child).

    Example::

        g = all_of(attr("age", "double").greater_than(18), any_of(attr("country").is_in(["US", "UK"])))
        assert g.to_payload()["filters"][1]["filter_type"] == "nested_filters"
    """

    operator: str = attrs.field(metadata=_wire("filter_operator"))
    filters: tuple[Filter, ...] = attrs.field(converter=_filters)
    extra: FrozenMap = attrs.field(factory=FrozenMap, converter=freeze_map, kw_only=True)

    def __invert__(self) -> FilterGroup:
        return FilterGroup("or" if self.operator == "and" else "and", tuple(~f for f in self.filters), extra=self.extra)


Filter = (
    AttributeFilter | GeoFilter | ObjectFilter | EventFilter | AffinityFilter | SegmentRef | FilterGroup | RawFilter
)
"""Any filter that can stand in a :class:`FilterGroup`.

Example::

    isinstance(event("purchase").in_the_last(7), Filter)  # True
"""
