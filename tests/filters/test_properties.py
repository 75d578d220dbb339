"""Property tests: any group the builders make serialises to a payload that parses back to an equal group,
passes validation unchanged, and matches the spec's JSON schema."""

from __future__ import annotations

import datetime as dt
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moengage_segments.filters import (
    Aggregation,
    AttributeFilter,
    Filter,
    FilterGroup,
    GeoFilter,
    UserFilter,
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
)
from tests.filters._support import assert_schema_valid, spec_available

names = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12).filter(lambda s: s.strip("_"))
texts = st.text(min_size=0, max_size=8)
text_lists = st.lists(texts, min_size=1, max_size=4)
numbers = st.one_of(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
dates = st.dates(dt.date(2000, 1, 1), dt.date(2035, 12, 31))
flags = st.booleans()
categories = st.one_of(st.none(), st.sampled_from(["default", "Tracked Custom Attribute", "Location"]))


@st.composite
def string_filters(draw: st.DrawFn) -> UserFilter:
    a = attr(draw(names), draw(st.sampled_from(["string", "array_string"])), category=draw(categories))
    cs = draw(st.one_of(st.none(), flags))
    choice = draw(st.integers(0, 6))
    if choice == 0:
        return a.is_in(draw(text_lists), case_sensitive=cs, match=draw(st.sampled_from(["any", "all"])))
    if choice == 1:
        return a.equals(draw(texts), case_sensitive=cs)
    if choice == 2:
        method = draw(st.sampled_from([a.contains, a.starts_with, a.ends_with]))
        made: UserFilter = method(draw(texts), case_sensitive=cs)
        return made
    if choice == 3 and a.data_type == "string":
        method = draw(st.sampled_from([a.contains_any, a.starts_with_any, a.ends_with_any]))
        return method(draw(text_lists), case_sensitive=cs)
    if choice == 4 and a.data_type == "string":
        return draw(st.sampled_from([a.is_empty, a.contains_spaces]))()
    return a.exists()


@st.composite
def number_filters(draw: st.DrawFn) -> UserFilter:
    a = attr(draw(names), draw(st.sampled_from(["double", "array_double"])), category=draw(categories))
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return a.is_in(draw(st.lists(numbers, min_size=1, max_size=4)), match=draw(st.sampled_from(["any", "all"])))
    if choice == 1:
        return draw(st.sampled_from([a.less_than, a.greater_than]))(draw(numbers))
    if choice == 2:
        lo, hi = sorted((draw(numbers), draw(numbers)))
        return a.between(lo, hi)
    if choice == 3 and a.data_type == "double":
        return a.greater_than(attr_ref(draw(names)))
    if choice == 4:
        return a.equals(draw(numbers))
    return a.exists()


@st.composite
def datetime_filters(draw: st.DrawFn) -> UserFilter:
    a = attr(draw(names), "datetime", category=draw(categories))
    choice = draw(st.integers(0, 8))
    if choice == 0:
        return a.in_the_last(draw(st.integers(1, 1000)))
    if choice == 1:
        return a.in_the_next(draw(st.integers(1, 1000)))
    if choice == 2:
        method = draw(st.sampled_from([a.on, a.before, a.after]))
        return method(draw(st.one_of(dates, st.integers(0, 500))))
    if choice == 3:
        lo, hi = sorted((draw(dates), draw(dates)))
        return a.between(lo, hi)
    if choice == 4:
        part = draw(st.sampled_from(["time_of_the_day", "day_of_the_week", "day_of_the_month", "month_of_the_year"]))
        bounds = {
            "time_of_the_day": (0, 23),
            "day_of_the_week": (0, 6),
            "day_of_the_month": (1, 31),
            "month_of_the_year": (1, 12),
        }[part]
        values = draw(st.lists(st.integers(*bounds), min_size=1, max_size=3))
        return a.extract(part).is_in(values)  # type: ignore[arg-type]
    if choice == 5:
        month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
        return a.extract("date_month_of_the_year").equals(f"{month:02d}-{day:02d}")
    if choice == 6:
        return a.after(attr_ref(draw(names)))
    if choice == 7:
        return a.today()
    return a.exists()


@st.composite
def other_user_filters(draw: st.DrawFn) -> UserFilter:
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return attr(draw(names), "bool").equals(draw(flags))
    if choice == 1:
        return attr(draw(names), "geopoint").near(
            draw(st.floats(-90, 90)), draw(st.floats(-180, 180)), radius=draw(st.floats(0.5, 1e5))
        )
    kids = draw(st.lists(st.one_of(string_filters(), number_filters()), min_size=1, max_size=3))
    a = attr(draw(names), draw(st.sampled_from(["object", "array_object"])))
    return a.where(*kids) if draw(flags) else a.where_any(*kids)


def _maybe_negate(pair: tuple[UserFilter, bool]) -> UserFilter:
    f, negate = pair
    # Objects have no negate; everything else flips its ``negate`` flag.
    if negate and isinstance(f, (AttributeFilter, GeoFilter)):
        return ~f
    return f


def user_filters() -> st.SearchStrategy[UserFilter]:
    base = st.one_of(string_filters(), number_filters(), datetime_filters(), other_user_filters())
    return st.tuples(base, flags).map(_maybe_negate)


@st.composite
def aggregations(draw: st.DrawFn) -> Aggregation:
    builder = draw(st.sampled_from([sum_of, avg_of, min_of, max_of, median_of]))(draw(names))
    choice = draw(st.integers(0, 3))
    if choice == 0:
        cond = builder.greater_than(draw(numbers))
    elif choice == 1:
        cond = builder.less_than(draw(numbers))
    elif choice == 2:
        cond = builder.equals(draw(numbers))
    else:
        lo = draw(numbers)
        cond = builder.between(lo, lo + draw(st.integers(1, 1000)))
    if draw(flags):
        cond = cond.compared_to_previous_period(percent=draw(flags))
    return ~cond if draw(flags) else cond


@st.composite
def event_filters(draw: st.DrawFn) -> Filter:
    f = event(draw(names))
    freq = draw(st.integers(0, 5))
    count = draw(st.integers(1, 50))
    f = [f.at_least(count), f.at_most(count), f.exactly(count), f.first_time(), f.last_time(), f.not_executed()][freq]
    w = draw(st.integers(0, 6))
    if w == 0:
        f = f.in_the_last(draw(st.integers(1, 400)), draw(st.sampled_from(["hours", "days", "weeks", "months"])))
    elif w == 1:
        start, end = sorted((draw(dates), draw(dates)))
        f = f.between(start, end)
    elif w == 2:
        lo = draw(st.integers(0, 100))
        f = f.between(lo, lo + draw(st.integers(1, 100)))
    elif w == 3:
        f = f.on(draw(st.one_of(dates, st.integers(0, 10))))
    elif w == 4:
        f = f.before(draw(dates))
    elif w == 5:
        f = f.after(draw(dates))
    else:
        f = draw(st.sampled_from([f.today, f.yesterday, f.this_week, f.last_week, f.this_month, f.last_month]))()
    if draw(flags):
        kids = draw(st.lists(st.one_of(string_filters(), number_filters()), min_size=1, max_size=3))
        f = f.where(*kids) if draw(flags) else f.where_any(*kids)
    window = f.primary_time_range
    can_aggregate = f.executed and freq < 3 and window is not None and window.type not in ("before", "after")
    if can_aggregate and draw(flags):
        f = f.having(draw(aggregations()))
    if f.executed is False or (freq == 0 and count == 1 and f.aggregation_attributes is None):
        f = ~f if draw(flags) else f
    return f


@st.composite
def affinity_filters(draw: st.DrawFn) -> Filter:
    conds = draw(
        st.lists(
            st.one_of(
                st.just(attr("product_category").exists()),
                texts.map(lambda t: attr("product_category").equals(t)),
                st.integers(0, 23).map(lambda h: event_time("time_of_the_day").equals(h)),
            ),
            min_size=1,
            max_size=3,
        )
    )
    b = affinity(draw(names))
    mode = draw(st.integers(0, 3))
    pct = draw(st.integers(1, 100))
    f = [
        b.predominantly(*conds),
        b.at_least_percent_of_times(pct, *conds),
        b.top_percent(pct, *conds),
        b.bottom_percent(pct, *conds),
    ][mode]
    if draw(flags):
        lo = draw(st.integers(0, 100))
        if draw(flags):
            f = f.between(lo, lo + draw(st.integers(1, 100)))
        else:
            f = f.between(*sorted((draw(dates), draw(dates))))
    else:
        f = f.in_the_last(draw(st.integers(1, 365)))
    return f


hex_ids = st.text("0123456789abcdef", min_size=24, max_size=24)
leaves = st.one_of(
    user_filters(),
    event_filters(),
    affinity_filters(),
    st.tuples(hex_ids, st.one_of(st.none(), texts)).map(lambda p: segment(*p)),
)
groups: st.SearchStrategy[FilterGroup] = st.recursive(
    st.lists(leaves, min_size=1, max_size=4).map(lambda fs: all_of(*fs)),
    lambda inner: st.lists(st.one_of(leaves, inner), min_size=1, max_size=4).flatmap(
        lambda fs: st.sampled_from([all_of(*fs), any_of(*fs)])
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups)
def test_builder_groups_round_trip_match_the_schema_and_negate(group: FilterGroup) -> None:
    # One test for the three properties: drawing the groups is most of the cost, so each is drawn once.
    payload = group.to_payload()
    assert parse_group(payload) == group
    assert parse_group(payload, strict=False) == group
    assert coerce_group(group, "included") == group
    assert parse_group(payload).to_payload() == payload

    if spec_available():  # without the folder, the schema test in test_spec_examples reports the skip reason
        assert_schema_valid(payload)

    try:
        negated = ~group
    except TypeError:
        return  # negation is not possible for every group
    assert isinstance(negated, FilterGroup) and negated.operator != group.operator
    assert parse_group(negated.to_payload()) == negated
