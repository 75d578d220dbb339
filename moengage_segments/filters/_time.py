"""Date helpers shared by the builders and the validator (ISO 8601 in the API's own format)."""

from __future__ import annotations

import datetime as dt

__all__ = ["DateLike", "as_day", "iso_end", "iso_start", "parse_iso"]

#: What the builders accept for an absolute date: a ``date``, a ``datetime`` or an ISO 8601 string.
DateLike = dt.date | dt.datetime | str


def _format(moment: dt.datetime) -> str:
    # The API documents millisecond precision with a literal "Z" ("2024-01-15T00:00:00.000Z").
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_start(value: DateLike) -> str:
    """Format the start of a window: a bare date becomes ``YYYY-MM-DDT00:00:00.000Z``.

    Naive datetimes are taken as UTC. Strings are returned unchanged (the validator checks them).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return _format(value)
    return _format(dt.datetime(value.year, value.month, value.day))


def iso_end(value: DateLike) -> str:
    """Format the end of a window: a bare date becomes ``YYYY-MM-DDT23:59:59.999Z`` (end of that day)."""
    if isinstance(value, (str, dt.datetime)):
        return iso_start(value)
    return _format(dt.datetime(value.year, value.month, value.day, 23, 59, 59, 999000))


def parse_iso(value: str) -> dt.datetime | None:
    """Parse an ISO 8601 date or date-time (``Z`` allowed) to an aware UTC datetime, or ``None``."""
    text = value.strip()
    if len(text) < 10:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed


def as_day(value: DateLike) -> DateLike:
    """Turn a date-only string ("2024-01-31") into a ``date`` so that it means the whole day."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value
