"""Confirmed cohort membership for delta sync (``cohorts.sync``): SQLite (embedded) or PostgreSQL (shared).

Example::

    from moengage_segments import SQLiteLedger

    report = await client.cohorts.sync(cohort, read_uids("today.txt"), ledger=SQLiteLedger("cohorts.db"))
"""

from __future__ import annotations

import os

from moengage_segments._async.ledger._base import (
    DEFAULT_STALE_AFTER,
    SCHEMA_VERSION,
    DiffCounts,
    Ledger,
    LedgerEntry,
    LedgerRun,
    LedgerSide,
)
from moengage_segments._async.ledger.postgres import PostgresLedger
from moengage_segments._async.ledger.sqlite import SQLiteLedger

__all__ = [
    "DEFAULT_STALE_AFTER",
    "SCHEMA_VERSION",
    "DiffCounts",
    "Ledger",
    "LedgerEntry",
    "LedgerRun",
    "LedgerSide",
    "PostgresLedger",
    "SQLiteLedger",
    "open_ledger",
]


def open_ledger(where: str | os.PathLike[str]) -> SQLiteLedger | PostgresLedger:
    """A ledger from a location: a ``postgresql://`` URL, else a SQLite file path.

    Example::

        ledger = open_ledger("cohorts.db")                          # SQLiteLedger
        ledger = open_ledger("postgresql://pusher@db/segments")     # PostgresLedger
    """
    text = os.fspath(where)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresLedger(text)
    return SQLiteLedger(text)
