"""Ways to run the emulator: async context, background thread, standalone command."""

from __future__ import annotations

import asyncio
import base64
import gc
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import warnings

import pytest

from moengage_segments.errors import ClientStateError
from moengage_segments.testing import DEFAULT_API_KEY, DEFAULT_DB_NAME, DEFAULT_WORKSPACE_ID, Emulator
from moengage_segments.testing.__main__ import main as standalone_main
from moengage_segments.testing._banner import Banner, seeded_text


def test_refuses_non_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Emulator(host="0.0.0.0")


async def test_defaults_just_work() -> None:
    async with Emulator() as emu:
        assert emu.base_url.startswith("http://127.0.0.1:") and emu.port > 0
        assert emu.workspace_id == DEFAULT_WORKSPACE_ID and emu.api_key and emu.db_name
    with pytest.raises(RuntimeError):
        _ = emu.base_url  # stopped


def test_in_thread_serves_and_inspection_is_thread_safe() -> None:
    with Emulator.in_thread() as emu:
        emu.generate_users(10, with_email=True)
        try:
            urllib.request.urlopen(f"{emu.base_url}/v3/custom-segments", timeout=5)
        except urllib.error.HTTPError as exc:
            assert exc.code == 400  # no MOE-APPKEY: "MoEngage Client not found"
        assert [r.status for r in emu.requests] == [400]
        assert emu.segments() == []
        emu.drain_blocking()
        url = emu.base_url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/v3/custom-segments", timeout=2)


def test_in_thread_failed_start_raises_and_leaves_no_loop_or_thread_behind() -> None:
    gc.collect()  # loops left unclosed by earlier tests in this worker would be counted here
    with socket.socket() as taken, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError), Emulator.in_thread(port=taken.getsockname()[1]):
            pass
        gc.collect()  # an unclosed event loop warns when it is collected
    assert [str(w.message) for w in caught if "event loop" in str(w.message)] == []
    assert not [t for t in threading.enumerate() if t.name.startswith("moengage-emulator")]


def test_in_thread_lifecycle_misuse_is_a_client_state_error() -> None:
    with pytest.raises(ClientStateError, match=r"needs an emulator started with Emulator\.in_thread"):
        Emulator().drain_blocking()
    with Emulator.in_thread() as emu:
        emu.add_users(["u1"])

        async def drain_from_its_own_loop() -> None:
            emu.drain_blocking()  # would wait on the very loop it blocks

        assert emu._loop is not None
        with pytest.raises(ClientStateError, match="the emulator's own event-loop thread"):
            asyncio.run_coroutine_threadsafe(drain_from_its_own_loop(), emu._loop).result(5)
    # Once stopped, inspection reads the state in the caller's thread.
    assert emu.segments() == [] and emu.requests == []


def _standalone(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``python -m moengage_segments.testing``; return it and its banner (up to the export line)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "moengage_segments.testing", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("export "):
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=10)
            raise AssertionError(f"no banner: {lines} {process.stderr.read() if process.stderr else ''}")
        lines.append(line.rstrip("\n"))
    return process, lines


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    return err


@pytest.mark.slow  # a subprocess and a real SIGINT
def test_standalone_command_prints_the_real_port_and_an_export_line() -> None:
    process, lines = _standalone("--port", "0", "--generate-users", "5")
    try:
        fields = dict(re.findall(r"^  (\S.*?)\s{2,}(.*)$", "\n".join(lines), re.M))
        base_url = fields["base URL"]
        port = int(base_url.rsplit(":", 1)[1])
        assert base_url == f"http://127.0.0.1:{port}" and port > 0
        assert fields["workspace ID"] == DEFAULT_WORKSPACE_ID
        assert fields["API key"] == DEFAULT_API_KEY  # the public default key is shown
        assert fields["db name"] == DEFAULT_DB_NAME
        assert fields["seeded users"] == "5 (user-0000000 ... user-0000004)"
        assert lines[0] == "MoEngage emulator running (Ctrl-C to stop)"
        assert lines[-1] == (
            f"export MOENGAGE_BASE_URL={base_url} MOENGAGE_WORKSPACE_ID={DEFAULT_WORKSPACE_ID} "
            f"MOENGAGE_DB_NAME={DEFAULT_DB_NAME} MOENGAGE_API_KEY={DEFAULT_API_KEY}"
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{base_url}/v3/custom-segments", timeout=5)
        assert info.value.code == 400  # served: no MOE-APPKEY gives "MoEngage Client not found"
    finally:
        err = _stop(process)
    assert "emulator stopped" in err


@pytest.mark.slow  # a subprocess and a real SIGINT
def test_standalone_command_never_echoes_a_key_the_user_chose() -> None:
    process, lines = _standalone(
        "--port", "0", "--workspace-id", "my ws", "--api-key", "s3cret-KEY", "--db-name", "db1"
    )
    try:
        text = "\n".join(lines)
        assert "s3cret-KEY" not in text and "MOENGAGE_API_KEY" not in text
        assert "  API key       (the key you gave)" in lines
        assert "MOENGAGE_WORKSPACE_ID='my ws' MOENGAGE_DB_NAME=db1" in lines[-1]  # shell-quoted
    finally:
        _stop(process)


def test_standalone_help_is_plain_text_with_defaults(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    with pytest.raises(SystemExit) as exit_info:
        standalone_main(["--help"])
    assert exit_info.value.code == 0
    stdout = capsys.readouterr().out
    assert "``" not in stdout and "Example::" not in stdout  # no raw reST
    for default in (
        "(default: 127.0.0.1)",
        "(default: 8080)",
        f"(default: {DEFAULT_WORKSPACE_ID})",
        f"(default: {DEFAULT_API_KEY})",
        f"(default: {DEFAULT_DB_NAME})",
        "(default: 1.0)",
        "(default: 0)",
        "(default: 128000)",
        "0 picks a free one",
    ):
        assert default in stdout, default


def test_standalone_command_reports_a_taken_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        code = standalone_main(["--port", str(port)])
    stderr = capsys.readouterr().err
    assert code == 1 and "Traceback" not in stderr
    assert f"cannot listen on 127.0.0.1:{port}" in stderr


def test_banner_helper() -> None:
    banner = Banner("http://127.0.0.1:1", "WS", "db", None)
    assert dict(banner.fields())["API key"] == "(the key you gave)"
    assert (
        banner.export_line() == "export MOENGAGE_BASE_URL=http://127.0.0.1:1 MOENGAGE_WORKSPACE_ID=WS "
        "MOENGAGE_DB_NAME=db"
    )
    assert "secret" not in repr(Banner("u", "w", "d", "secret"))
    assert seeded_text([]) == "0" and seeded_text(["a"]) == "1 (a)"
    assert seeded_text([f"u{i}" for i in range(1000)]) == "1,000 (u0 ... u999)"


def test_loopback_rules_match_the_sdk() -> None:
    """One rule for "loopback" (config.is_loopback): look-alike hosts are neither bound nor downloaded from."""
    from moengage_segments.testing._file_jobs import is_loopback_url

    assert is_loopback_url("http://127.0.0.1:8000/a.csv") and is_loopback_url("https://[::1]/a.csv")
    assert not is_loopback_url("http://127.evil.example/a.csv")
    assert not is_loopback_url("http://localhost.evil.example/a.csv")
    with pytest.raises(ValueError, match="loopback only"):
        Emulator(host="example.com")


@pytest.mark.parametrize(("argv", "expected"), [([], False), (["--optional-db-name"], True)])
def test_standalone_optional_db_name_flag(monkeypatch: pytest.MonkeyPatch, argv: list[str], expected: bool) -> None:
    import moengage_segments.testing.__main__ as standalone

    seen: dict[str, object] = {}

    class Stop(Exception):
        pass

    def fake(*args: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(standalone, "Emulator", fake)
    with pytest.raises(Stop):
        standalone.main(["--port", "0", *argv])
    assert seen["optional_db_name"] is expected


async def test_optional_db_name_switch_is_the_older_lenient_reading() -> None:
    # Default: MOE-DBNAME is required on v2 (the spec); optional_db_name=True accepts a call without it.
    import aiohttp

    for optional, status in ((False, 400), (True, 404)):
        async with Emulator(optional_db_name=optional) as emu, aiohttp.ClientSession() as session:
            token = base64.b64encode(f"{emu.workspace_id}:{emu.api_key}".encode()).decode()
            headers = {"Authorization": f"Basic {token}"}
            async with session.patch(
                f"{emu.base_url}/v2/custom-segments/archive", json={"name": "nope"}, headers=headers
            ) as resp:
                assert resp.status == status
