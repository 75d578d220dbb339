"""Real services for the tests: PostgreSQL and Redis on loopback, and the vendor's OpenAPI folder.

Where a service is absent the test skips with the reason; with ``MOENGAGE_REQUIRE_SERVICES=1`` (set by
``.ci/run``) the skip becomes a failure, so CI cannot pass without exercising them. Tests share the servers
with other runs, so each uses names of its own (``unique_name``).
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

REDIS_URL = os.environ.get("MOENGAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_DSN = os.environ.get("MOENGAGE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _require(flag: str, reason: str) -> None:
    if os.environ.get(flag) == "1":
        pytest.fail(f"{reason} ({flag}=1 makes this a failure)", pytrace=False)
    pytest.skip(reason)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_redis() -> str:
    """The Redis URL to use, or skip (fail in CI) when Redis or the ``redis`` package is absent."""
    try:
        import redis  # noqa: F401
    except ImportError:
        _require("MOENGAGE_REQUIRE_SERVICES", "the 'redis' package is not installed (pip install -e '.[test]')")
    if not _reachable("127.0.0.1", 6379) and "MOENGAGE_TEST_REDIS_URL" not in os.environ:
        _require("MOENGAGE_REQUIRE_SERVICES", "no Redis at 127.0.0.1:6379 (set MOENGAGE_TEST_REDIS_URL)")
    return REDIS_URL


def require_postgres() -> str:
    """The PostgreSQL DSN to use, or skip (fail in CI) when the server is absent."""
    if not _reachable("127.0.0.1", 5432) and "MOENGAGE_TEST_POSTGRES_DSN" not in os.environ:
        _require("MOENGAGE_REQUIRE_SERVICES", "no PostgreSQL at 127.0.0.1:5432 (set MOENGAGE_TEST_POSTGRES_DSN)")
    return POSTGRES_DSN


def unique_name(prefix: str) -> str:
    """A name no other test run on the shared servers uses (keys, schemas, tables)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"
