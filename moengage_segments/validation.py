"""Checks run on user input before anything is sent; each failure is a :class:`ValidationError`.

The rules are the documented ones (see ``docs/assumptions.md`` for the few the docs leave open, such as
the maximum name length).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from moengage_segments.errors import ValidationError

__all__ = [
    "ATTRIBUTE_TYPES",
    "COHORT_NAME_FORBIDDEN",
    "MAX_DESCRIPTION_BYTES",
    "MAX_NAME_LENGTH",
    "check_attribute_type",
    "check_description",
    "check_email",
    "check_expiry_days",
    "check_file_url",
    "check_name",
    "check_segment_id",
    "check_text",
    "uid_problem",
]

#: Longest segment or cohort name accepted. Not documented by MoEngage; a generous bound that keeps
#: accidental payloads (a whole file pasted as a name) from being sent.
MAX_NAME_LENGTH = 256
#: Characters a cohort name must not contain (documented for ``parameters.cohort_name``).
COHORT_NAME_FORBIDDEN = frozenset('|*?\\:<>=$"')
#: Largest cohort description accepted, in UTF-8 bytes. Not documented by MoEngage; the description is sent
#: in every cohort-sync request, so a large one costs room for members in each of them.
MAX_DESCRIPTION_BYTES = 4096
#: The documented values of ``attribute_type`` for file segments.
ATTRIBUTE_TYPES = ("string", "double")

#: Checked with ``fullmatch``: ``$`` would also match before a trailing newline.
_SEGMENT_ID = re.compile(r"[0-9a-fA-F]{24}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_text(field: str, value: Any, *, max_length: int = MAX_NAME_LENGTH) -> str:
    """Return ``value`` if it is a non-blank string without control characters, else raise."""
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValidationError(field, "must not be empty or only whitespace")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters, got {len(value)}")
    if _CONTROL.search(value):
        raise ValidationError(field, "must not contain control characters (newline, tab, NUL, ...)")
    if _has_lone_surrogate(value):
        raise ValidationError(field, "must be valid Unicode (contains a lone surrogate)")
    return value


def check_name(value: Any, field: str = "name", *, html_forbidden: bool = False) -> str:
    """Validate a segment name; v3 names must also be free of HTML characters (``<``, ``>``)."""
    name = check_text(field, value)
    if html_forbidden and ("<" in name or ">" in name):
        raise ValidationError(field, "must not contain HTML characters '<' or '>'")
    return name


def check_attribute_type(value: Any) -> str:
    """``attribute_type`` must be ``"string"`` or ``"double"``."""
    if value not in ATTRIBUTE_TYPES:
        raise ValidationError("attribute_type", f"must be one of {', '.join(ATTRIBUTE_TYPES)}, got {value!r}")
    return str(value)


def check_expiry_days(value: Any) -> int:
    """``expiry_days`` must be a positive integer (sent as ``expiry_time``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError("expiry_days", f"must be a positive integer number of days, got {value!r}")
    if value > 2**31 - 1:
        raise ValidationError("expiry_days", "must fit in a 32-bit integer")
    return value


def check_description(value: Any, field: str = "cohort.description") -> str | None:
    """A description: ``None``, or text of at most :data:`MAX_DESCRIPTION_BYTES` without NUL or lone surrogates.

    Example::

        check_description("Users likely to churn this month")
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string or None, got {type(value).__name__}")
    if "\x00" in value:
        raise ValidationError(field, "must not contain NUL characters")
    if _has_lone_surrogate(value):
        raise ValidationError(field, "must be valid Unicode (contains a lone surrogate)")
    size = len(value.encode("utf-8"))
    if size > MAX_DESCRIPTION_BYTES:
        raise ValidationError(field, f"must be at most {MAX_DESCRIPTION_BYTES} bytes in UTF-8, got {size}")
    return value


def check_file_url(value: Any, field: str = "file_url") -> str:
    """A file or callback URL must be an absolute http(s) URL of printable, valid Unicode text."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must be a non-empty http(s) URL")
    if _CONTROL.search(value):
        raise ValidationError(field, "must not contain control characters (NUL, newline, tab, ...)")
    if _has_lone_surrogate(value):
        raise ValidationError(field, "must be valid Unicode (contains a lone surrogate)")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(field, f"must be an absolute http(s) URL, got scheme {parts.scheme or 'none'!r}")
    if any(c.isspace() for c in value):
        raise ValidationError(field, "must not contain whitespace (URL-encode it)")
    return value


def check_email(value: Any, field: str) -> str:
    """An e-mail address (``emails`` of file segments, ``updated_by`` of filter updates): text with an ``@``.

    Example::

        check_email("ops@example.com", "updated_by")
    """
    if not isinstance(value, str) or "@" not in value or any(c.isspace() for c in value):
        raise ValidationError(field, "must be an e-mail address")
    if _CONTROL.search(value) or _has_lone_surrogate(value):
        raise ValidationError(field, "must be an e-mail address (no control characters or lone surrogates)")
    return value


def check_segment_id(value: Any, field: str = "segment_id") -> str:
    """A v3 segment id is 24 hexadecimal characters (a BSON ObjectId)."""
    if not isinstance(value, str) or not _SEGMENT_ID.fullmatch(value):
        raise ValidationError(field, "must be 24 hexadecimal characters (e.g. '6388a97a02adb9071ca84ce9')")
    return value


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def uid_problem(uid: Any) -> str | None:
    """Return why ``uid`` cannot be sent as a cohort member, or ``None`` when it can.

    Example::

        assert uid_problem("u-1") is None
        assert uid_problem("") == "empty uid"
    """
    if not isinstance(uid, str):
        return f"uid must be a string, got {type(uid).__name__}"
    if not uid or not uid.strip():
        return "empty uid"
    if "\x00" in uid:
        return "uid contains NUL"
    if _has_lone_surrogate(uid):
        return "uid is not valid Unicode (lone surrogate)"
    return None
