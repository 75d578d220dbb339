"""No secret ever leaks, and the key only travels over verified TLS (or to loopback).

With every logger at DEBUG, every operation is run (successes and failures, async and sync, and the CLI
with ``--debug``, in-process and once as a subprocess). Neither the API key, nor ``base64(workspace:key)``, nor the
``Authorization`` header value may appear in log records (tracebacks included), in ``repr()`` of clients,
settings, transports and reports, in exception messages, ``args`` and attributes (the whole cause chain),
in ``report.to_json()``, or on the CLI's stdout/stderr.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
import os
import pickle
import shutil
import ssl
import subprocess
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from moengage_segments import (
    APIConnectionError,
    AsyncClient,
    Client,
    Cohort,
    ConfigurationError,
    RetryPolicy,
)
from moengage_segments._async.http import AiohttpTransport
from moengage_segments.testing import Emulator, Fault
from tests._cli import CLIResult, invoke_main
from tests.reliability._support import ROOT

WORKSPACE = "RELIABILITY_WS"
API_KEY = "sk-live-Zq8p7XwSecretKey0123456789"
TOKEN = base64.b64encode(f"{WORKSPACE}:{API_KEY}".encode()).decode()
SECRETS = (API_KEY, TOKEN, f"Basic {TOKEN}")
COHORT = Cohort(id="secrets", name="Secrets", partner="reliability")
GROUP: dict[str, Any] = {
    "filter_operator": "and",
    "filters": [
        {
            "filter_type": "user_attributes",
            "name": "city",
            "data_type": "string",
            "operator": "in",
            "value": ["Pune"],
            "negate": False,
            "case_sensitive": False,
        }
    ],
}
RETRY = RetryPolicy(base=0.001, cap=0.01, rate_limit_cap=0.05, max_attempts=3)


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


class Collector(logging.Handler):
    """Every record of every logger, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.lines.append(repr(record.args))


@pytest.fixture
def captured() -> Iterator[Collector]:
    collector = Collector()
    root = logging.getLogger()
    old = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    # The SDK's loggers, aiohttp's and asyncio's, all at DEBUG.
    for name in ("moengage_segments", "aiohttp", "asyncio"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield collector
    finally:
        root.removeHandler(collector)
        root.setLevel(old)
        for name in ("moengage_segments", "aiohttp", "asyncio"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def describe_exception(exc: BaseException) -> str:
    """Everything an exception exposes: message, repr, args, attributes, traceback, the whole chain."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        report = getattr(current, "report", None)
        if report is not None:
            parts.append(report.to_json())
        parts += traceback.format_exception(type(current), current, current.__traceback__)
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


class Evidence:
    """Text gathered from a run: reprs, reports, exceptions."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.failures = 0

    def add(self, value: Any) -> None:
        self.texts.append(repr(value))
        to_json = getattr(value, "to_json", None)
        if callable(to_json):
            self.texts.append(to_json())

    def expect_failure(self, exc: BaseException) -> None:
        self.failures += 1
        self.texts.append(describe_exception(exc))


async def attempt(evidence: Evidence, call: Awaitable[Any]) -> Any:
    try:
        result = await call
    except Exception as exc:  # failures are part of the test: their text is checked
        evidence.expect_failure(exc)
        return None
    evidence.add(result)
    return result


def emulator_options() -> dict[str, Any]:
    return {
        "workspace_id": WORKSPACE,
        "api_key": API_KEY,
        "db_name": "rel_db",
        "accept_any_uid": True,
        "rate_limits": False,
    }


def assert_no_leaks(evidence: Evidence, logs: list[str]) -> None:
    for text in [*evidence.texts, *logs]:
        assert not leaks(text), f"secret in: {text[:300]!r}"


async def run_every_async_operation(emu: Emulator, client: AsyncClient, evidence: Evidence) -> None:
    evidence.add(client)
    evidence.add(client.settings)
    evidence.add(client._transport)
    url = emu.host_file("secrets.csv", ["u1", "u2"])
    emu.add_users(["u1", "u2", "u3"])
    ack = await attempt(evidence, client.file_segments.create("secret-file", file_url=url, expiry_days=3))
    await emu.drain()
    await attempt(evidence, client.file_segments.add_users("secret-file", file_url=url))
    await attempt(evidence, client.file_segments.remove_users("secret-file", file_url=url))
    await attempt(evidence, client.file_segments.replace_users("secret-file", file_url=url))
    await attempt(evidence, client.segments.list())
    await attempt(evidence, client.segments.find("secret-file"))
    segment = await attempt(evidence, client.filter_segments.create("secret-filter", included=GROUP))
    if segment is not None:
        await attempt(evidence, client.segments.get(segment.id))
        await attempt(evidence, client.filter_segments.update(segment.id, included=GROUP, name="secret-filter-2"))
    await attempt(evidence, client.segments.archive("secret-file", segment_id=ack.segment_id if ack else None))
    await attempt(evidence, client.segments.unarchive("secret-file"))
    await attempt(evidence, client.cohorts.send_batch(COHORT, "add_members", ["u1"]))
    many = [f"u{i}" for i in range(5_000)]
    await attempt(evidence, client.cohorts.add_members(COHORT, many, max_request_bytes=4_000))
    await attempt(evidence, client.cohorts.remove_members(COHORT, ["u1"]))
    await attempt(evidence, client.cohorts.plan(COHORT, ["u1", "", "u2"]))
    # Failures: documented API errors, server faults, connection failures, timeouts, validation.
    await attempt(evidence, client.filter_segments.create("secret-filter-2", included=GROUP))  # 409
    await attempt(evidence, client.segments.get("0" * 24))  # 404
    await attempt(evidence, client.segments.get("bad"))  # ValidationError
    emu.faults.script(*[Fault.server_error(502, html=True)] * 3, target="filter")
    await attempt(evidence, client.segments.list())  # 502 (HTML body), retries exhausted
    emu.faults.script(*[Fault.connection_reset()] * 6, target="filter")  # aiohttp itself re-sends a GET once
    await attempt(evidence, client.segments.list())  # APIConnectionError
    emu.faults.script(*[Fault.rate_limited(retry_after=3600)], target="filter")
    await attempt(evidence, client.segments.list())  # 429 with a wait beyond the cap
    emu.faults.script(*[Fault.slow(0.5)] * 3, target="filter")  # each longer than the client's 0.3 s timeout
    await attempt(evidence, client.segments.list())  # timeouts
    emu.faults.script(*[Fault.server_error(500)] * 3, target="cohort")
    await attempt(evidence, client.cohorts.add_members(COHORT, ["x1", "x2"], on_error="raise"))  # CohortSyncError
    emu.config.max_cohort_body_bytes = 300
    await attempt(evidence, client.cohorts.add_members(COHORT, ["y" * 400]))  # 413 that cannot be split
    emu.config.max_cohort_body_bytes = 128_000


async def test_async_operations_leak_nothing(captured: Collector) -> None:
    evidence = Evidence()
    async with Emulator(**emulator_options()) as emu:
        async with AsyncClient(
            WORKSPACE, API_KEY, base_url=emu.base_url, db_name="rel_db", rate_limits=None, retry=RETRY, timeout=0.3
        ) as client:
            await run_every_async_operation(emu, client, evidence)
        # Wrong key: the 401, its retries (none) and its report.
        async with AsyncClient(WORKSPACE, API_KEY[::-1], base_url=emu.base_url, rate_limits=None) as client:
            await attempt(evidence, client.segments.list())
            await attempt(evidence, client.cohorts.add_members(COHORT, ["u1"]))
        statuses = emu.counters.statuses
    assert evidence.failures >= 9
    assert {200, 201, 202, 401, 404, 409, 413, 429, 500, 502} <= set(statuses)
    assert any("Authorization" in line and "***" in line for line in captured.lines)  # headers were logged, masked
    assert_no_leaks(evidence, captured.lines)


def test_sync_operations_leak_nothing(captured: Collector) -> None:
    evidence = Evidence()
    with Emulator.in_thread(**emulator_options()) as emu:
        emu.add_users(["u1", "u2"])
        url = emu.host_file("s.csv", ["u1"])
        with Client(
            WORKSPACE, API_KEY, base_url=emu.base_url, db_name="rel_db", rate_limits=None, retry=RETRY, timeout=0.3
        ) as client:
            evidence.add(client)
            evidence.add(client.settings)
            calls: list[Callable[[], Any]] = [
                lambda: client.file_segments.create("sync-file", file_url=url, expiry_days=3),
                lambda: client.segments.list(),
                lambda: client.segments.find("sync-file"),
                lambda: client.filter_segments.create("sync-filter", included=GROUP),
                lambda: client.filter_segments.create("sync-filter", included=GROUP),  # 409
                lambda: client.segments.get("0" * 24),  # 404
                lambda: client.cohorts.add_members(COHORT, ["u1", "u2", ""]),
                lambda: client.cohorts.send_batch(COHORT, "remove_members", ["u1"]),
                lambda: client.cohorts.plan(COHORT, ["u1"]),
                lambda: client.cohorts.add_members(COHORT, [""] * 3 + [7], on_error="raise"),  # type: ignore[list-item]
            ]
            for call in calls:
                try:
                    evidence.add(call())
                except Exception as exc:
                    evidence.expect_failure(exc)
            emu.faults.script(*[Fault.server_error(503, html=True)] * 3, target="cohort")
            try:
                client.cohorts.add_members(COHORT, ["z"], on_error="raise")
            except Exception as exc:
                evidence.expect_failure(exc)
        with Client(WORKSPACE, "not-the-key", base_url=emu.base_url, rate_limits=None) as client:
            try:
                client.segments.list()
            except Exception as exc:
                evidence.expect_failure(exc)
    assert evidence.failures >= 4
    assert_no_leaks(evidence, captured.lines)


def cli_env(emu: Emulator, key: str = API_KEY) -> dict[str, str]:
    return {
        "MOENGAGE_WORKSPACE_ID": WORKSPACE,
        "MOENGAGE_API_KEY": key,
        "MOENGAGE_BASE_URL": emu.base_url,
        "MOENGAGE_DB_NAME": "rel_db",
    }


def test_cli_with_debug_leaks_nothing(
    tmp_path: Path, captured: Collector, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every kind of CLI run with ``--debug``, in-process: its output and every log record it made."""
    uid_file = tmp_path / "uids.txt"
    uid_file.write_text("\n".join(f"c{i}" for i in range(3_000)) + "\n")
    definition = tmp_path / "group.json"
    definition.write_text(json.dumps(GROUP))
    report = tmp_path / "report.json"
    with Emulator.in_thread(**emulator_options()) as emu:

        def run(*args: str, key: str = API_KEY, stdin: str | None = None) -> CLIResult:
            return invoke_main(
                ("--debug", *args),
                env=cli_env(emu, key),
                monkeypatch=monkeypatch,
                capsys=capsys,
                stdin=stdin,
                stdin_dir=tmp_path,
            )

        runs = [
            run("segments", "list"),
            run("segments", "list", "--json"),
            run("filter", "create", "cli-filter", "--definition", str(definition)),
            run("filter", "create", "cli-filter", "--definition", str(definition)),  # 409
            run("segments", "get", "0" * 24),  # 404
            run(
                "cohort",
                "add",
                str(uid_file),
                "--cohort-id",
                "cli",
                "--partner",
                "p",
                "--report",
                str(report),
                "--max-request-bytes",
                "4000",
            ),
            run("cohort", "remove", "-", "--cohort-id", "cli", "--partner", "p", stdin="c1\nc2\n"),
            run("segments", "list", key="wrong-key-for-cli"),  # 401
            run("segments", "list", "--api-key", API_KEY),  # the key on the command line
            run("segments", "get", "not-an-id"),  # usage error
        ]
        emu.faults.script(Fault.server_error(502, html=True), target="filter")
        runs.append(run("segments", "list", "--timeout", "1"))  # an HTML 502 (logged), then the answer
    codes = [r.returncode for r in runs]
    assert codes[0] == 0 and codes[5] == 0 and codes[7] == 1 and codes[9] == 2 and codes[10] == 0
    assert "502" in runs[10].stderr
    assert any("Authorization" in r.stderr for r in runs)  # --debug did log request headers
    assert any("Traceback" in r.stderr for r in runs)
    for r in runs:
        assert not leaks(r.stdout + r.stderr), (r.stdout[-500:], r.stderr[-500:])
    assert_no_leaks(Evidence(), captured.lines)  # what other loggers (aiohttp, asyncio) recorded
    assert not leaks(report.read_text())


@pytest.mark.slow  # a subprocess
def test_cli_process_with_debug_leaks_nothing_on_its_descriptors() -> None:
    """The same as a real process: a failing ``--debug`` run logs headers and a traceback to fd 2, masked."""
    with Emulator.in_thread(**emulator_options()) as emu:
        proc = subprocess.run(
            [sys.executable, "-m", "moengage_segments", "--debug", "segments", "get", "0" * 24],  # 404
            env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **cli_env(emu)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1, proc.stderr
    assert "Authorization" in proc.stderr and "Traceback" in proc.stderr
    assert not leaks(proc.stdout + proc.stderr), proc.stderr[-2000:]


# -- transport security ---------------------------------------------------------------------------------------


async def test_tls_verification_is_on_by_default(tmp_path: Path) -> None:
    """Structurally: the connector verifies certificates. Behaviourally: a self-signed server is refused."""
    async with AsyncClient(WORKSPACE, API_KEY, data_center="01") as client:
        sender = client._transport.sender
        assert isinstance(sender, AiohttpTransport)
        session = await sender._get_session()
        connector = session.connector
        assert connector is not None
        assert getattr(connector, "_ssl", True) is not False  # not ssl=False / verify_ssl=False

    openssl = shutil.which("openssl")
    if openssl is None:  # pragma: no cover - every CI image has it
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = await asyncio.create_subprocess_exec(
        openssl,
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(key),
        "-out",
        str(cert),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert await made.wait() == 0
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.headers.get("Authorization", ""))
        return web.json_response({"data": []})

    app = web.Application()
    app.router.add_get("/v3/custom-segments", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with AsyncClient(
            WORKSPACE, API_KEY, base_url=f"https://127.0.0.1:{port}", rate_limits=None, retry=RetryPolicy.none()
        ) as client:
            with pytest.raises(APIConnectionError) as info:
                await client.segments.list()
        assert "certificate" in str(info.value).lower()
        assert hits == []  # the request, and so the key, never got through
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    "url",
    [
        "http://api-01.moengage.com",
        "http://example.com:8080/",
        "http://127.0.0.1.evil.example",
        "http://localhost.evil.example",
        "http://127.0.0.1@evil.example",
        "http://10.0.0.1",
        "http://[2001:db8::1]",
    ],
)
def test_plain_http_is_refused_unless_loopback(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # "http://127.0.0.1@evil.example" is refused for its user-info part, before the scheme is even looked at.
    refused = "credentials" if "@" in url else "plain-http"
    with pytest.raises(ConfigurationError, match=refused):
        AsyncClient(WORKSPACE, API_KEY, base_url=url)
    with pytest.raises(ConfigurationError, match=refused):
        Client(WORKSPACE, API_KEY, base_url=url)
    monkeypatch.setenv("MOENGAGE_BASE_URL", url)
    with pytest.raises(ConfigurationError, match=refused) as info:
        AsyncClient(WORKSPACE, API_KEY)
    assert not leaks(describe_exception(info.value))
    # The explicit opt-in is honoured (it lifts the plain-http rule, never the no-credentials one).
    if "@" in url:
        with pytest.raises(ConfigurationError, match="credentials"):
            AsyncClient(WORKSPACE, API_KEY, base_url=url, allow_insecure_http=True)
    else:
        insecure = AsyncClient(WORKSPACE, API_KEY, base_url=url, allow_insecure_http=True)
        assert insecure.settings.base_url.startswith("http:")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:8080", "http://127.8.9.10"]
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert AsyncClient(WORKSPACE, API_KEY, base_url=url).settings.base_url == url


async def test_credentials_do_not_follow_a_redirect_to_another_origin() -> None:
    """A 3xx to another host (or port) must not carry the Authorization header there."""
    seen: list[str | None] = []

    async def elsewhere(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"data": []})

    other = web.Application()
    other.router.add_get("/{tail:.*}", elsewhere)
    other_runner = web.AppRunner(other, access_log=None)
    await other_runner.setup()
    await web.TCPSite(other_runner, "127.0.0.1", 0).start()
    target = f"http://127.0.0.1:{other_runner.addresses[0][1]}/collect"

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(target)

    app = web.Application()
    app.router.add_get("/v3/custom-segments", redirect)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        async with AsyncClient(
            WORKSPACE,
            API_KEY,
            base_url=f"http://127.0.0.1:{runner.addresses[0][1]}",
            rate_limits=None,
            retry=RetryPolicy.none(),
        ) as client:
            try:
                await client.segments.list()
            except Exception as exc:  # refusing to follow is fine too
                assert not leaks(describe_exception(exc))
        assert seen == [None]  # followed, without the credentials
    finally:
        await runner.cleanup()
        await other_runner.cleanup()


# --- the key in the wrong place (issue 12 item 13) -------------------------------------------------------

MISPLACED: list[tuple[str, Callable[[type[Any]], Any]]] = [
    ("as data_center (swapped positionals)", lambda cls: cls(WORKSPACE, "01", API_KEY)),
    ("as data_center by keyword", lambda cls: cls(WORKSPACE, "k", data_center=API_KEY)),
    ("in base_url without //", lambda cls: cls(WORKSPACE, "k", base_url=f"https:{API_KEY}@api-01.moengage.com")),
    ("as base_url's user", lambda cls: cls(WORKSPACE, "k", base_url=f"https://{API_KEY}@api-01.moengage.com")),
    ("as base_url", lambda cls: cls(WORKSPACE, "k", base_url=API_KEY)),
    ("in a plain-http base_url's path", lambda cls: cls(WORKSPACE, "k", base_url=f"http://example.com/{API_KEY}")),
    ("as base_url's port", lambda cls: cls(WORKSPACE, "k", base_url=f"https://api-01.moengage.com:{API_KEY}")),
    ("in base_url's query", lambda cls: cls(WORKSPACE, "k", base_url=f"https://api-01.moengage.com?key={API_KEY}")),
    ("in base_url's fragment", lambda cls: cls(WORKSPACE, "k", base_url=f"https://api-01.moengage.com/#{API_KEY}")),
    ("as timeout", lambda cls: cls(WORKSPACE, "k", 1, timeout=API_KEY)),
    ("as retry", lambda cls: cls(WORKSPACE, "k", 1, retry=API_KEY)),
    ("as rate_limits", lambda cls: cls(WORKSPACE, "k", 1, rate_limits=API_KEY)),
    ("as max_connections", lambda cls: cls(WORKSPACE, "k", 1, max_connections=API_KEY)),
    ("as allow_insecure_http", lambda cls: cls(WORKSPACE, "k", 1, allow_insecure_http=API_KEY)),
    ("as transport", lambda cls: cls(WORKSPACE, "k", 1, transport=API_KEY)),
]


@pytest.mark.parametrize("cls", [AsyncClient, Client])
@pytest.mark.parametrize("make", [pytest.param(make, id=name) for name, make in MISPLACED])
def test_a_key_in_the_wrong_place_is_never_echoed(cls: type[Any], make: Callable[[type[Any]], Any]) -> None:
    with pytest.raises(ConfigurationError) as info:
        make(cls)
    text = describe_exception(info.value)
    assert not leaks(text), text
    assert "expected" in text or "must" in text or "refusing" in text  # it says what was wanted


def test_a_key_in_moengage_data_center_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOENGAGE_DATA_CENTER", API_KEY)
    with pytest.raises(ConfigurationError) as info:
        AsyncClient(WORKSPACE, "k")
    assert not leaks(describe_exception(info.value))
    assert f"a str of {len(API_KEY)} characters" in str(info.value)  # what it was, without what it said


@pytest.mark.parametrize(
    "argv",
    [
        ("segments", "list", "--apikey", API_KEY),  # a typo of --api-key
        ("segments", "list", f"--apikey={API_KEY}"),
        ("segments", "list", "-k", API_KEY),
        ("segments", "list", "-apikey", API_KEY),
        ("segments", "list", API_KEY),  # the flag forgotten
        (API_KEY, "segments", "list"),
        ("segments", "list", "--timeout", API_KEY),
        ("file", "create", "x", "--file-url", "https://h/u.csv", "--expiry-days", "1", "--attribute-type", API_KEY),
        ("segments", "list", "--data-center", API_KEY),
        ("segments", "list", "--base-url", f"https://api-01.moengage.com:{API_KEY}"),
    ],
    ids=lambda argv: " ".join(a if a != API_KEY else "KEY" for a in argv).replace(API_KEY, "KEY"),
)
def test_cli_never_echoes_a_key_it_does_not_know_is_one(
    argv: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The redactor masks the keys it knows (MOENGAGE_API_KEY, --api-key); this one it does not know.
    env = {"MOENGAGE_WORKSPACE_ID": WORKSPACE, "MOENGAGE_API_KEY": "another-key-entirely"}
    result = invoke_main(argv, env=env, monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 2
    assert not leaks(result.stdout + result.stderr), result.stderr


def test_clients_settings_and_transports_refuse_to_pickle() -> None:
    client = AsyncClient(WORKSPACE, API_KEY, 1)
    sync_client = Client(WORKSPACE, API_KEY, 1)
    for value in (client, sync_client, client.settings, client._transport, client.cohorts, sync_client.segments):
        with pytest.raises(TypeError, match=r"cannot pickle \w+: it holds the MoEngage API key") as info:
            pickle.dumps(value)
        assert not leaks(describe_exception(info.value))
    with pytest.raises(TypeError, match="cannot pickle"):
        copy.deepcopy(client.settings)
    sync_client.close()
