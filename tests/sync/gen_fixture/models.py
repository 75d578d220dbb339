"""Models of the generator fixture."""

from __future__ import annotations

import attrs


@attrs.frozen
class Thing:
    """A thing."""

    id: str
    size: int = 0
