"""Real services for the tests: PostgreSQL and Redis on loopback, and the vendor's OpenAPI folder.

Where a service is absent the test skips with the reason; with ``MOENGAGE_REQUIRE_SERVICES=1`` (set by
``.ci/run``) the skip becomes a failure, so CI cannot pass without exercising them. Tests share the servers
with other runs, so each uses names of its own (``unique_name``).

The OpenAPI folder works the same way with ``MOENGAGE_REQUIRE_SPEC=1`` (also set by ``.ci/run``): the
spec-conformance and fidelity tests skip in a clone without it, and fail in CI.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

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


#: The vendor's OpenAPI files the spec-conformance and fidelity tests read.
SPEC_FILES = ("custom-segments.json", "cohort-audience.json")
_REPO = Path(__file__).resolve().parents[1]


def _openapi_candidate() -> Path:
    env = os.environ.get("MOENGAGE_OPENAPI_DIR")
    return Path(env) if env else _REPO.parent / "shared" / "moengage-openapi"


def spec_missing_reason() -> str:
    """Why the spec tests cannot run: the folder looked in and how to point at another."""
    return (
        f"the vendor's OpenAPI files ({', '.join(SPEC_FILES)}) are not in {_openapi_candidate()} "
        "(set MOENGAGE_OPENAPI_DIR to the folder holding them)"
    )


def openapi_dir() -> Path | None:
    """The vendor's OpenAPI folder (``$MOENGAGE_OPENAPI_DIR``, else ``<repo>/../shared/moengage-openapi``).

    ``None`` when it does not hold both files, so a caller can skip (or leave out a schema check); with
    ``MOENGAGE_REQUIRE_SPEC=1`` an absent folder fails right here instead, whether asked by a running test or
    while a module's parameters are being collected.
    """
    folder = _openapi_candidate()
    if all((folder / name).is_file() for name in SPEC_FILES):
        return folder
    if os.environ.get("MOENGAGE_REQUIRE_SPEC") == "1":
        pytest.fail(f"{spec_missing_reason()} (MOENGAGE_REQUIRE_SPEC=1 makes this a failure)", pytrace=False)
    return None


def require_openapi() -> Path:
    """The OpenAPI folder, or skip the test (fail under ``MOENGAGE_REQUIRE_SPEC=1``) naming where it looked."""
    folder = openapi_dir()
    if folder is None:
        pytest.skip(spec_missing_reason())
    return folder


def unique_name(prefix: str) -> str:
    """A name no other test run on the shared servers uses (keys, schemas, tables)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


class RedisServer:
    """A ``redis-server`` of a test's own on a free loopback port, for tests that stop and restart Redis.

    No persistence (``--save '' --appendonly no``): a restart starts empty. ``stop()`` and ``start()`` may
    be called any number of times; the port stays the same.
    """

    def __init__(self, binary: str) -> None:
        self.binary = binary
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _reachable("127.0.0.1", self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill the server (as a crash would) and wait until it is gone."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None


@contextlib.contextmanager
def own_redis_server() -> Iterator[RedisServer]:
    """A running :class:`RedisServer`, stopped afterwards; skip (fail in CI) without ``redis-server``."""
    require_redis()
    binary = shutil.which("redis-server")
    if binary is None:
        _require("MOENGAGE_REQUIRE_SERVICES", "no redis-server binary on PATH (a test here starts its own)")
    assert binary is not None
    server = RedisServer(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()
