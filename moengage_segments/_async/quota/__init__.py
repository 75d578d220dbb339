"""Where the limiter's state lives: in-process (default), a SQLite file (one host), Redis (many hosts).

A store is chosen with ``AsyncClient(quota=...)``: a store object, or a URL (also from
``MOENGAGE_QUOTA_URL`` and the CLI's ``--quota``):

* ``memory://`` — the process-wide in-process store (the default);
* ``sqlite:///abs/path/quota.db`` or ``sqlite://relative/quota.db`` — every process on one host;
* ``redis://host:port/db`` (``rediss://`` for TLS; ``?prefix=...&fallback_share=...``) — every host.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from moengage_segments._async.quota.base import QuotaStore, safe_url
from moengage_segments._async.quota.memory import PROCESS_QUOTA, InProcessQuotaStore
from moengage_segments._async.quota.redis_store import RedisQuotaStore
from moengage_segments._async.quota.sqlite_store import SQLiteQuotaStore
from moengage_segments.config import ENV_QUOTA_URL, describe_value
from moengage_segments.errors import ConfigurationError

__all__ = [
    "PROCESS_QUOTA",
    "InProcessQuotaStore",
    "QuotaStore",
    "RedisQuotaStore",
    "SQLiteQuotaStore",
    "open_quota",
    "safe_url",
]

_SCHEMES = "memory://, sqlite:///path/quota.db or redis://host:port/db"


def open_quota(
    value: QuotaStore | str | None, environ: Mapping[str, str] | None = None
) -> tuple[QuotaStore | None, bool]:
    """The store for ``quota=`` (falling back to ``MOENGAGE_QUOTA_URL``) and whether the client owns it.

    ``None`` stands for the process-wide in-process store (the transport picks it, or a private one when
    it runs on another clock). A store the client made from a URL is closed with the client; a store
    object belongs to the caller. Raises :class:`ConfigurationError` naming the setting for anything else.
    """
    source = "quota"
    if value is None:
        value = (os.environ if environ is None else environ).get(ENV_QUOTA_URL) or None
        source = ENV_QUOTA_URL
    if value is None:
        return None, False
    if isinstance(value, str):
        return _from_url(value.strip(), source)
    if isinstance(value, QuotaStore):
        return value, False
    raise ConfigurationError(f"quota must be a quota store or a URL ({_SCHEMES}), got {type(value).__name__}")


def _from_url(url: str, source: str) -> tuple[QuotaStore | None, bool]:
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = urlsplit("")
    scheme = parts.scheme.lower()
    if scheme == "memory":
        return None, False
    if scheme in ("redis", "rediss"):
        return RedisQuotaStore(url), True
    if scheme == "sqlite":
        return _sqlite(url, parts.netloc + parts.path, source), True
    # Not echoed: a value without a scheme may be a secret in the wrong place (the API key, say).
    what = f"scheme {scheme!r}" if scheme and "://" in url else describe_value(url)
    raise ConfigurationError(f"{source}: unsupported quota store URL ({what}); expected {_SCHEMES}")


def _sqlite(url: str, path: str, source: str) -> SQLiteQuotaStore:
    # sqlite:///abs/path.db -> /abs/path.db; sqlite://relative/path.db -> relative/path.db
    if not path or path.endswith("/"):
        raise ConfigurationError(f"{source}: {url!r} names no file; use sqlite:///path/to/quota.db")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise ConfigurationError(f"{source}: the folder of the quota store file {path!r} does not exist")
    return SQLiteQuotaStore(path)
