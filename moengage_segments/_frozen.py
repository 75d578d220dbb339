"""Immutable, hashable JSON values, so that frozen models and filters can keep arbitrary server data.

Unknown keys (``extra``) and whole unknown filters (:class:`~moengage_segments.filters.RawFilter`) hold
JSON the SDK does not model. Storing them as plain ``dict``/``list`` would make the frozen attrs classes
unhashable and mutable through the back door, so they are frozen on the way in and thawed on the way out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["FrozenMap", "freeze", "freeze_map", "thaw"]


class FrozenMap(Mapping[str, Any]):
    """A read-only, hashable mapping of JSON values (nested dicts and lists are frozen too).

    Example::

        m = FrozenMap({"a": [1, 2]})
        assert m["a"] == (1, 2) and hash(m) == hash(FrozenMap({"a": [1, 2]}))
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = {str(k): freeze(v) for k, v in (data or {}).items()}
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def freeze(value: Any) -> Any:
    """Return ``value`` with every dict turned into a :class:`FrozenMap` and every list into a tuple."""
    if isinstance(value, FrozenMap):
        return value
    if isinstance(value, Mapping):
        return FrozenMap(value)
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def freeze_map(value: Mapping[str, Any] | None) -> FrozenMap:
    """Converter for ``extra`` fields: ``None`` or any mapping becomes a :class:`FrozenMap`."""
    return value if isinstance(value, FrozenMap) else FrozenMap(value)


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze`: plain ``dict``/``list`` values, ready for ``json.dumps``."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value
