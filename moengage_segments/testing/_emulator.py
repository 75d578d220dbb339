"""The :class:`Emulator`: start/stop (in-process or on a background thread), seeding and inspection.

Example::

    async with Emulator() as emu:
        emu.add_users(["u1", "u2"])
        async with AsyncClient(base_url=emu.base_url, workspace_id=emu.workspace_id,
                               api_key=emu.api_key, db_name=emu.db_name) as client:
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from moengage_segments._async.quota.memory import PROCESS_QUOTA
from moengage_segments._runtime import Portal
from moengage_segments.config import is_loopback
from moengage_segments.errors import ClientStateError
from moengage_segments.testing._config import EmulatorConfig
from moengage_segments.testing._core import Core
from moengage_segments.testing._faults import FaultInjector
from moengage_segments.testing._inspect import CallbackRecord, Counters, RequestRecord
from moengage_segments.testing._limits import RateLimitSpec, ServerLimits, resolve_rate_limits
from moengage_segments.testing._server import build_app
from moengage_segments.testing._state import SegmentInfo, SegmentKind, Workspace

__all__ = ["DEFAULT_API_KEY", "DEFAULT_DB_NAME", "DEFAULT_WORKSPACE_ID", "Emulator"]

DEFAULT_WORKSPACE_ID = "EMULATOR_WORKSPACE"
"""The workspace id an :class:`Emulator` accepts unless given ``workspace_id=``.

Example::

    Emulator().workspace_id == DEFAULT_WORKSPACE_ID  # True
"""
DEFAULT_API_KEY = "emulator-api-key"
"""The API key an :class:`Emulator` accepts unless given ``api_key=``.

Example::

    Emulator().api_key == DEFAULT_API_KEY  # True
"""
DEFAULT_DB_NAME = "emulator_db"
"""The ``db_name`` an :class:`Emulator` expects in cohort requests unless given ``db_name=``.

Example::

    Emulator().db_name == DEFAULT_DB_NAME  # True
"""

T = TypeVar("T")


class Emulator:
    """A local, stateful emulator of the MoEngage Segments API on ``http://127.0.0.1:<port>``.

    It enforces auth, the documented validation, limits and error envelopes, keeps segments and members,
    processes file segments asynchronously and can inject faults. Bound to loopback only.

    Parameters mirror the documented limits (all configurable): ``rate_limits`` overrides buckets
    (``{"cohort_sync": [Window(1000, 60)]}``, or by client family ``{"cohort": [(1000, 60)]}``, or a whole
    :class:`moengage_segments.RateLimits`; ``False`` disables all), ``time_scale`` speeds emulated time up
    (60 = a minute lasts a second), ``accept_any_uid`` lets cohort pushes add uids that were never seeded.
    v2 calls (file segments, archive, unarchive) must send ``MOE-DBNAME``, as the spec says;
    ``optional_db_name=True`` accepts them without it (the older pages' lenient reading).
    ``files_dir`` serves every file directly in that folder at :attr:`files_url` (``files_url + name``), a
    loopback URL to give file segments as ``file_url``.

    Example::

        async with Emulator(time_scale=60) as emu:
            emu.generate_users(100)
            print(emu.base_url, emu.workspace_id, emu.api_key, emu.db_name)

        with Emulator.in_thread(accept_any_uid=True) as emu:   # for sync code
            ...
    """

    def __init__(
        self,
        workspace_id: str = DEFAULT_WORKSPACE_ID,
        api_key: str = DEFAULT_API_KEY,
        db_name: str = DEFAULT_DB_NAME,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: RateLimitSpec = None,
        time_scale: float = 1.0,
        max_active_segments: int = 1000,
        max_cohort_body_bytes: int = 128_000,
        max_filter_nesting: int = 3,
        max_filter_segment_refs: int = 10,
        max_filter_query_bytes: int = 100_000,
        max_request_body_bytes: int = 1024 * 1024,
        max_file_bytes: int = 150 * 1024 * 1024,
        max_file_users_per_day: int = 2_000_000,
        accept_any_uid: bool = False,
        strict: bool = False,
        optional_db_name: bool = False,
        file_processing_delay: float = 0.0,
        request_log_size: int = 10_000,
        seed: int | None = None,
        files_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if not is_loopback(host):
            raise ValueError(f"the emulator binds to loopback only, not {host!r}")
        folder = Path(files_dir) if files_dir is not None else None
        if folder is not None and not folder.is_dir():
            raise ValueError(f"files_dir {os.fspath(folder)!r} is not a directory")
        self.host = host
        self.port = port
        self.config = EmulatorConfig(
            max_active_segments=max_active_segments,
            max_cohort_body_bytes=max_cohort_body_bytes,
            max_filter_nesting=max_filter_nesting,
            max_filter_segment_refs=max_filter_segment_refs,
            max_filter_query_bytes=max_filter_query_bytes,
            max_request_body_bytes=max_request_body_bytes,
            max_file_bytes=max_file_bytes,
            max_file_users_per_day=max_file_users_per_day,
            accept_any_uid=accept_any_uid,
            strict=strict,
            optional_db_name=optional_db_name,
            file_processing_delay=file_processing_delay,
            time_scale=time_scale,
        )
        self._core = Core(
            self.config,
            ServerLimits(resolve_rate_limits(rate_limits), time_scale=time_scale),
            FaultInjector(seed),
            request_log_size,
        )
        self._default = self._core.add_workspace(workspace_id, api_key, db_name)
        self._core.files_dir = folder
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop it serves on, once started
        self._portal: Portal | None = None  # the loop thread of in_thread()

    # --- identity -----------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` once started.

        Example::

            AsyncClient(base_url=emu.base_url, ...)
        """
        if self._runner is None:
            raise RuntimeError("the emulator is not running; use `async with Emulator()` first")
        return self._url()

    def _url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def workspace_id(self) -> str:
        """Workspace ID of the default workspace (the Basic-auth username, ``MOE-APPKEY``).

        Example::

            emu.workspace_id  # 'EMULATOR_WORKSPACE'
        """
        return self._default.workspace_id

    @property
    def api_key(self) -> str:
        """API key of the default workspace (the Basic-auth password).

        Example::

            emu.api_key  # 'emulator-api-key'
        """
        return self._default.api_key

    @property
    def db_name(self) -> str:
        """Database name of the default workspace (``MOE-DBNAME``, ``db_name`` in callbacks).

        Example::

            emu.db_name  # 'emulator_db'
        """
        return self._default.db_name

    @property
    def faults(self) -> FaultInjector:
        """The fault injector (scripted queue and random rules).

        Example::

            emu.faults.script(Fault.server_error(503))
        """
        return self._core.faults

    @property
    def rate_limits(self) -> ServerLimits:
        """The rate limiter; ``emu.rate_limits.reset()`` forgets counted requests.

        Example::

            emu.rate_limits.reset()
        """
        return self._core.limits

    @property
    def counters(self) -> Counters:
        """Totals: requests, bytes received, 429s given, per-endpoint counts, statuses.

        Example::

            emu.counters.rate_limited
        """
        return self._core.counters

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the (bounded) request log, oldest first.

        Example::

            [r.status for r in emu.requests]
        """
        return self._call(lambda: list(self._core.requests))

    @property
    def callbacks(self) -> list[CallbackRecord]:
        """File-segment callbacks sent so far, oldest first.

        Example::

            emu.callbacks[-1].payload["user_count"]
        """
        return self._call(lambda: list(self._core.callbacks))

    # --- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> Emulator:
        """Bind to a free (or the given) loopback port and serve.

        Example::

            emu = await Emulator().start(); ...; await emu.stop()
        """
        if self._runner is not None:
            return self
        runner = web.AppRunner(build_app(self._core), access_log=None, handle_signals=False)
        await runner.setup()
        server = runner.server
        self._core.open_connections = (lambda: len(server.connections)) if server is not None else (lambda: 0)
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])  # the real port when 0 asked for a free one
        # Fresh windows here: clients in this process must not remember a previous server on this port.
        PROCESS_QUOTA.forget(f"{urllib.parse.urlsplit(self._url()).netloc}/")
        self._runner = runner
        self._loop = asyncio.get_running_loop()
        return self

    async def stop(self) -> None:
        """Cancel running file jobs and stop serving. Idempotent.

        Example::

            await emu.stop()
        """
        for task in list(self._core.file_jobs):
            task.cancel()
        if self._core.file_jobs:
            await asyncio.gather(*self._core.file_jobs, return_exceptions=True)
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, *args: Any, **kwargs: Any) -> Iterator[Emulator]:
        """Run the emulator on a background thread with its own event loop (for sync code and pytest).

        Takes the same arguments as :class:`Emulator`. Inspection methods are safe to call from any thread.

        Example::

            with Emulator.in_thread() as emu:
                requests.get(f"{emu.base_url}/v3/custom-segments", ...)
        """
        emu = cls(*args, **kwargs)
        emu._start_thread()
        try:
            yield emu
        finally:
            emu._stop_thread()

    def _start_thread(self) -> None:
        self._portal = Portal(name="moengage-emulator", owner="the emulator", cleanup=self.stop)
        try:
            self._portal.call(self.start)
        except BaseException:
            self._portal.close()  # a failed start (port taken) leaves no thread and no loop behind
            self._portal = None
            raise

    def _stop_thread(self) -> None:
        portal, self._portal = self._portal, None  # afterwards, inspection reads the state in the caller's thread
        if portal is not None:
            portal.close()  # runs stop() on the loop, then closes the loop and joins its thread

    def run_forever(self) -> None:
        """Serve until interrupted (used by ``python -m moengage_segments.testing``).

        Example::

            Emulator(port=8080).run_forever()
        """

        async def main() -> None:
            async with self:
                await asyncio.Event().wait()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())

    def _call(self, fn: Callable[[], T]) -> T:
        # State lives on the emulator's loop; from another thread, run the read/write there.
        return fn() if self._portal is None else self._portal.run_sync(fn)

    # --- seeding ------------------------------------------------------------------------------------
    def add_workspace(self, workspace_id: str, api_key: str, db_name: str | None = None) -> None:
        """Add another workspace (its own users, segments and rate-limit windows).

        Example::

            emu.add_workspace("OTHER", "other-key", "other_db")
        """
        self._call(lambda: self._core.add_workspace(workspace_id, api_key, db_name))

    def _ws(self, workspace_id: str | None) -> Workspace:
        ws = self._core.workspaces.get(workspace_id or self._default.workspace_id)
        if ws is None:
            raise KeyError(f"unknown workspace {workspace_id!r}")
        return ws

    def add_users(
        self,
        uids: Iterable[str],
        attributes: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        workspace_id: str | None = None,
    ) -> None:
        """Seed users; ``attributes`` maps uid → attributes (file segments can match on any of them).

        Example::

            emu.add_users(["u1", "u2"], attributes={"u1": {"email": "u1@example.test"}})
        """
        uid_list = list(uids)
        self._call(lambda: self._ws(workspace_id).add_users(uid_list, attributes))

    def add_user(self, uid: str, *, workspace_id: str | None = None, **attributes: Any) -> None:
        """Seed one user with attributes.

        Example::

            emu.add_user("u1", email="u1@example.test", plan="pro")
        """
        self.add_users([uid], {uid: attributes}, workspace_id=workspace_id)

    def generate_users(
        self, n: int, *, prefix: str = "user-", with_email: bool = False, workspace_id: str | None = None
    ) -> list[str]:
        """Seed ``n`` users ``user-0000000`` … and return their uids (``email`` attribute optional).

        Example::

            uids = emu.generate_users(1000, with_email=True)   # uid@example.test
        """
        width = max(7, len(str(n)))
        uids = [f"{prefix}{i:0{width}d}" for i in range(n)]
        attributes = {u: {"email": f"{u}@example.test"} for u in uids} if with_email else None
        self.add_users(uids, attributes, workspace_id=workspace_id)
        return uids

    def host_file(self, name: str, content: bytes | str | Iterable[str]) -> str:
        """Serve a file from the emulator itself and return its URL (for ``file_url`` of file segments).

        ``content`` is bytes, text, or an iterable of lines (joined with ``\\n``). Not part of the API.

        Example::

            url = emu.host_file("vip.csv", ["u1", "u2"])
            await client.file_segments.create("vip", file_url=url, expiry_days=30)
        """
        if isinstance(content, bytes):
            data = content
        elif isinstance(content, str):
            data = content.encode()
        else:
            data = ("\n".join(content) + "\n").encode()
        self._call(lambda: self._core.hosted_files.__setitem__(name, data))
        return self.files_url + urllib.parse.quote(name)

    @property
    def files_url(self) -> str:
        """Where served files are: ``files_url + name`` is a ``file_url`` for :meth:`host_file`'s files and
        for every file directly in ``files_dir`` (``Emulator(files_dir="csv")``). Not part of the API.

        Example::

            async with Emulator(files_dir="exports") as emu:
                url = emu.files_url + "vip.csv"  # serves exports/vip.csv
        """
        return f"{self.base_url}/_emulator/files/"

    @property
    def files_dir(self) -> str | None:
        """The folder whose files are served at :attr:`files_url` (``None`` when none was given).

        Example::

            Emulator(files_dir="exports").files_dir  # 'exports'
        """
        folder = self._core.files_dir
        return None if folder is None else os.fspath(folder)

    # --- inspection ---------------------------------------------------------------------------------
    def segment(self, segment_id: str, *, workspace_id: str | None = None) -> SegmentInfo:
        """A snapshot of one segment; ``KeyError`` if unknown.

        Example::

            assert emu.segment(cs_id).status == "archived"
        """

        def read() -> SegmentInfo:
            segment = self._ws(workspace_id).segments.get(segment_id)
            if segment is None:
                raise KeyError(f"no segment {segment_id!r}")
            return segment.info()

        return self._call(read)

    def segments(self, *, kind: SegmentKind | None = None, workspace_id: str | None = None) -> list[SegmentInfo]:
        """Snapshots of every segment (optionally of one kind), oldest first.

        Example::

            [s.name for s in emu.segments(kind="filter")]
        """
        return self._call(
            lambda: [s.info() for s in self._ws(workspace_id).segments.values() if kind is None or s.kind == kind]
        )

    def find_segment(self, name: str, *, workspace_id: str | None = None) -> SegmentInfo | None:
        """The segment with exactly this name, or None; an active one wins over archived ones.

        Names repeat only through cohort segments (a push to an archived cohort starts a new segment);
        among several of the same status, the oldest wins (the order of a by-name list).

        Example::

            emu.find_segment("promo").id
        """

        def read() -> SegmentInfo | None:
            segment = self._ws(workspace_id).by_name(name)
            return segment.info() if segment else None

        return self._call(read)

    def cohort_segment(self, cohort_id: str, *, workspace_id: str | None = None) -> SegmentInfo | None:
        """The current segment of a cohort-sync cohort, or None.

        Example::

            emu.cohort_segment("churn-risk").member_count
        """

        def read() -> SegmentInfo | None:
            segment = self._ws(workspace_id).cohorts.get(cohort_id)
            return segment.info() if segment else None

        return self._call(read)

    def members(self, segment_id: str, *, workspace_id: str | None = None) -> frozenset[str]:
        """The uids in a segment (a copy).

        Example::

            assert emu.members(cs_id) == {"u1", "u2"}
        """

        def read() -> frozenset[str]:
            segment = self._ws(workspace_id).segments.get(segment_id)
            if segment is None:
                raise KeyError(f"no segment {segment_id!r}")
            return frozenset(segment.members)

        return self._call(read)

    def reset_counters(self) -> None:
        """Zero the counters and clear the request log.

        Example::

            emu.reset_counters()
        """

        def reset() -> None:
            self._core.counters = Counters()
            self._core.requests.clear()

        self._call(reset)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every file job has finished (its callback included).

        Example::

            await emu.drain()
            assert emu.segment(cs_id).member_count == 3
        """
        if self._portal is not None and asyncio.get_running_loop() is not self._loop:
            await asyncio.to_thread(self.drain_blocking, timeout)
            return
        await self._drain_here(timeout)

    def drain_blocking(self, timeout: float = 30.0) -> None:
        """:meth:`drain` for sync code, with the emulator running :meth:`in_thread`.

        Raises :class:`~moengage_segments.errors.ClientStateError` without :meth:`in_thread`, or when
        called from the emulator's own loop thread (which would deadlock).

        Example::

            emu.drain_blocking()
        """
        if self._portal is None:
            raise ClientStateError("drain_blocking() needs an emulator started with Emulator.in_thread()")
        self._portal.call(self._drain_here, timeout)

    async def _drain_here(self, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while self._core.file_jobs:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError("file jobs still running")
            await asyncio.wait(list(self._core.file_jobs), timeout=remaining)
