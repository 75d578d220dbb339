"""Typed filter conditions for v3 filter segments: build, validate, parse and round-trip.

Build a definition with readable builders, pass it to ``filter_segments.create``/``update``, and read the
server's definitions back as the same objects::

    from moengage_segments.filters import all_of, any_of, attr, event, segment, sum_of

    included = all_of(
        attr("country").is_in(["US", "UK"]),
        event("purchase").at_least(2).in_the_last(30, "days"),
        ~attr("is_test_user", "bool").is_true(),
    )
    payload = coerce_group(included, "included").to_payload()   # validated, JSON-ready

    group = parse_group(payload)                  # dict -> objects (validating)
    assert group.to_payload() == payload          # objects -> dict, unchanged

``parse_group(payload, strict=False)`` reads what the server returns without enforcing the request rules:
unknown keys stay in ``extra`` and unknown filter kinds become :class:`RawFilter`, both written back as
they came. See ``docs/filters.md`` for the cookbook.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moengage_segments._frozen import FrozenMap
from moengage_segments.errors import ValidationError
from moengage_segments.filters._build import (
    AffinityBuilder,
    AggregationBuilder,
    Attr,
    AttrRef,
    affinity,
    all_of,
    any_of,
    attr,
    attr_ref,
    avg_of,
    event,
    event_time,
    max_of,
    median_of,
    min_of,
    segment,
    sum_of,
)
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
from moengage_segments.filters._parse import MAX_FILTER_DEPTH, check_depth, parse_filter, parse_group_structure
from moengage_segments.filters._validate import check_filter, check_group

__all__ = [
    "MAX_FILTER_DEPTH",
    "AffinityBuilder",
    "AffinityFilter",
    "Aggregation",
    "AggregationBuilder",
    "AggregationGroup",
    "Attr",
    "AttrRef",
    "AttributeFilter",
    "AttributeGroup",
    "BaseTimeRange",
    "EventFilter",
    "Execution",
    "Filter",
    "FilterGroup",
    "FrozenMap",
    "GeoFilter",
    "ObjectFilter",
    "RawFilter",
    "SegmentRef",
    "TimeRange",
    "UserFilter",
    "affinity",
    "all_of",
    "any_of",
    "attr",
    "attr_ref",
    "avg_of",
    "coerce_group",
    "event",
    "event_time",
    "max_of",
    "median_of",
    "min_of",
    "parse_filter_payload",
    "parse_group",
    "segment",
    "sum_of",
    "validate",
]


def parse_group(payload: Mapping[str, Any], *, path: str = "included", strict: bool = True) -> FilterGroup:
    """Read a filter group (``included_filters``/``excluded_filters`` dict) into objects.

    ``strict=True`` (for input) also applies every documented rule and raises
    :class:`~moengage_segments.errors.ValidationError` naming the path (``included.filters[2].operator``).
    ``strict=False`` (for server responses) never rejects a filter: unknown or unreadable filters become
    :class:`RawFilter`; only a payload that is not a group at all raises.

    Example::

        g = parse_group({"filter_operator": "and", "filters": [
            {"filter_type": "custom_segments", "id": "5c93982f573bb92004975a36"}]})
        assert g.filters[0] == segment("5c93982f573bb92004975a36")
    """
    check_depth(payload, path)
    group = parse_group_structure(payload, path, strict=strict)
    if strict:
        check_group(group, path)
    return group


def parse_filter_payload(payload: Mapping[str, Any], *, path: str = "filter", strict: bool = True) -> Filter:
    """Read one filter dict (any ``filter_type``) into an object; the single-filter twin of :func:`parse_group`.

    Example::

        f = parse_filter_payload({"filter_type": "custom_segments", "id": "5c93982f573bb92004975a36"})
        assert isinstance(f, SegmentRef)
    """
    check_depth(payload, path)
    try:
        result = parse_filter(payload, path, strict=strict)
    except ValidationError:
        if strict:
            raise
        return RawFilter(payload)
    if strict:
        check_filter(result, path)
    return result


def coerce_group(value: FilterGroup | Filter | Mapping[str, Any], path: str) -> FilterGroup:
    """Accept a group, a single filter (wrapped in an AND group) or a plain dict, and validate it.

    This is the gate the client calls for ``included``/``excluded``. Objects are checked through their
    payload, so a group that came from a lenient parse is held to the same rules as a dict.

    Example::

        g = coerce_group(attr("city").is_in(["New York"]), "included")
        assert g.operator == "and" and len(g.filters) == 1
    """
    if isinstance(value, Mapping):
        return parse_group(value, path=path, strict=True)
    check_depth(value, path)  # before to_payload(), which recurses
    if not isinstance(value, FilterGroup):
        if not hasattr(value, "to_payload"):
            raise ValidationError(path, f"must be a filter group, a filter or a dict, got {type(value).__name__}")
        value = FilterGroup("and", (value,))
    return parse_group(value.to_payload(), path=path, strict=True)


def validate(value: FilterGroup | Filter, path: str = "filter") -> None:
    """Check a group or a single filter against the documented rules; raise ``ValidationError`` if broken.

    Example::

        validate(event("purchase"))  # raises: filter.primary_time_range is required ...
    """
    check_depth(value, path)  # before to_payload(), which recurses
    if isinstance(value, FilterGroup):
        parse_group(value.to_payload(), path=path, strict=True)
    else:
        parse_filter_payload(value.to_payload(), path=path, strict=True)
