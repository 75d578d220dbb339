"""The emulator's state and collaborators, shared by the handlers (no HTTP in here).

Example::

    core = Core(EmulatorConfig(), ServerLimits(resolve_rate_limits(None)))
    ws = core.add_workspace("ws", "key", "ws_db")
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from moengage_segments.testing._config import EmulatorConfig
from moengage_segments.testing._faults import FaultInjector
from moengage_segments.testing._inspect import CallbackRecord, Counters, RequestRecord
from moengage_segments.testing._limits import ServerLimits
from moengage_segments.testing._state import Workspace

__all__ = ["BODY_KEY", "DETAIL_KEY", "WORKSPACE_KEY", "Core"]


class Core:
    """Workspaces, limits, faults, logs and running file jobs.

    Example::

        core.workspace_for_id("ws")
    """

    def __init__(
        self,
        config: EmulatorConfig,
        limits: ServerLimits,
        faults: FaultInjector | None = None,
        request_log_size: int = 10_000,
    ) -> None:
        self.config = config
        self.limits = limits
        self.faults = faults or FaultInjector()
        self.workspaces: dict[str, Workspace] = {}
        # Bounded: a benchmark sends hundreds of thousands of requests.
        self.requests: collections.deque[RequestRecord] = collections.deque(maxlen=request_log_size)
        self.callbacks: list[CallbackRecord] = []
        self.counters = Counters()
        #: How many connections are open now (set by the server once it runs).
        self.open_connections: Callable[[], int] = lambda: 0
        self.file_jobs: set[asyncio.Task[Any]] = set()
        self.file_users_today: collections.deque[tuple[float, int]] = collections.deque()
        self.hosted_files: dict[str, bytes] = {}  # served at /_emulator/files/{name}
        self.files_dir: Path | None = None  # files of this folder are served there too (Emulator(files_dir=))

    def add_workspace(self, workspace_id: str, api_key: str, db_name: str | None = None) -> Workspace:
        ws = Workspace(workspace_id, api_key, db_name or f"{workspace_id}_db")
        self.workspaces[workspace_id] = ws
        return ws

    def workspace_for_id(self, workspace_id: str | None) -> Workspace | None:
        return self.workspaces.get(workspace_id) if workspace_id is not None else None

    def workspace_for_db(self, db_name: str | None) -> Workspace | None:
        if db_name is None:
            return None
        return next((w for w in self.workspaces.values() if w.db_name == db_name), None)


def _request_key(name: str, kind: type) -> Any:
    # aiohttp >= 3.12 wants typed keys for request storage; plain strings on older versions.
    factory = getattr(web, "RequestKey", None)
    return factory(f"moengage_emulator_{name}", kind) if factory else name


#: Request-storage keys shared by the middleware and the handlers.
BODY_KEY: Any = _request_key("body", bytes)
WORKSPACE_KEY: Any = _request_key("workspace_id", str)
DETAIL_KEY: Any = _request_key("detail", str)
