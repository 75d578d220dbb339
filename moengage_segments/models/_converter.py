"""The one cattrs converter that turns service payloads into the SDK's frozen attrs classes.

Models tolerate the server: unknown keys are kept in each model's ``extra`` mapping instead of failing,
enum-like strings stay plain strings, and timestamps that do not parse become ``None`` rather than errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar, cast, get_args

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

from moengage_segments.errors import ValidationError
from moengage_segments.filters import FilterGroup, RawFilter, parse_group

__all__ = ["converter", "parse_timestamp", "structure"]

T = TypeVar("T")

converter = cattrs.Converter()


def parse_timestamp(value: Any) -> datetime | None:
    """Parse the service's ISO-like timestamps (``2022-12-01T13:17:46.409000``, with or without ``Z``)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


converter.register_structure_hook(datetime, lambda value, _: parse_timestamp(value))


def _structure_group(value: Any, _: Any) -> FilterGroup | RawFilter | None:
    # Definitions the service returns are read leniently: unknown filter kinds become RawFilter inside the
    # group, and a root that is not even a group is kept whole as a RawFilter rather than failing the model.
    if value is None:
        return None
    try:
        return parse_group(value, strict=False)
    except ValidationError:
        return RawFilter(value)


def _is_group_type(tp: Any) -> bool:
    return tp is FilterGroup or FilterGroup in get_args(tp)


converter.register_structure_hook_func(_is_group_type, _structure_group)
converter.register_unstructure_hook(datetime, lambda value: value.isoformat())


def _has_extra(cls: type) -> bool:
    return attrs.has(cls) and any(a.name == "extra" for a in attrs.fields(cls))


def _extra_hook_factory(cls: type[T]) -> Callable[[Mapping[str, Any], Any], T]:
    known = {a.name for a in attrs.fields(cast(Any, cls))} - {"extra"}
    base = make_dict_structure_fn(cls, converter)

    def hook(data: Mapping[str, Any], _: Any) -> T:
        payload = {k: v for k, v in data.items() if k in known}
        payload["extra"] = {k: v for k, v in data.items() if k not in known}
        return base(payload, cls)

    return hook


converter.register_structure_hook_factory(_has_extra, _extra_hook_factory)


def structure(data: Any, cls: type[T]) -> T:
    """Structure ``data`` into ``cls`` with the shared converter."""
    return converter.structure(data, cls)
