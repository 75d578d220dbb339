"""Identifiers and timestamps in the formats the service uses.

Example::

    new_segment_id()  # '65f1c0de9a3b4c5d6e7f8a9b' (24 hex digits, ObjectId-like)
    new_response_id() # 'WYanfieM' (8 ASCII letters)
"""

from __future__ import annotations

import datetime as _dt
import os
import random
import string
import time

__all__ = ["format_time", "new_callback_request_id", "new_response_id", "new_segment_id", "utcnow"]

_LETTERS = string.ascii_letters
_rng = random.Random()


def new_segment_id() -> str:
    """A 24-hex id shaped like a BSON ObjectId (4-byte time + 8 random bytes).

    Example::

        assert len(new_segment_id()) == 24
    """
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{os.urandom(8).hex()}"


def new_response_id() -> str:
    """Eight random ASCII letters, like the vendor's ``response_id``/``request_id`` examples.

    Example::

        assert new_response_id().isalpha()
    """
    return "".join(_rng.choices(_LETTERS, k=8))


def new_callback_request_id() -> str:
    """32 hex characters, like the ``request_id`` of the file-segment callback example.

    Example::

        assert len(new_callback_request_id()) == 32
    """
    return os.urandom(16).hex()


def utcnow() -> _dt.datetime:
    """The current UTC time, naive (the service's timestamps carry no zone).

    Example::

        format_time(utcnow())
    """
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def format_time(value: _dt.datetime) -> str:
    """Millisecond precision padded to six digits, no zone: ``2022-12-01T13:17:46.409000``.

    Example::

        format_time(datetime.datetime(2022, 12, 1, 13, 17, 46, 409123))  # '2022-12-01T13:17:46.409000'
    """
    return value.replace(microsecond=(value.microsecond // 1000) * 1000).strftime("%Y-%m-%dT%H:%M:%S.%f")
