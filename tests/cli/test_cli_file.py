"""file create|add|remove|replace, with and without waiting for the processing callback."""

from __future__ import annotations

import concurrent.futures
import json
import socket
import time
import urllib.error
import urllib.request

from moengage_segments.testing import Emulator

from .conftest import InProcess


def _uids(emu: Emulator, start: int, stop: int) -> list[str]:
    return [f"user-{i:07d}" for i in range(start, stop)]


def test_create_and_wait_for_the_callback(run_main: InProcess, emu: Emulator) -> None:
    url = emu.host_file("vip.csv", _uids(emu, 0, 100))
    proc = run_main("file", "create", "vip", "--file-url", url, "--expiry-days", "7", "--wait", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ack"]["name"] == "vip" and doc["ack"]["status"] in (200, 202)
    assert doc["callback"]["status"] == 201 and doc["callback"]["user_count"] == 100
    assert emu.members(doc["ack"]["segment_id"]) == set(_uids(emu, 0, 100))


def test_add_remove_replace_by_name_and_id(run_main: InProcess, emu: Emulator) -> None:
    created = run_main(
        "file",
        "create",
        "vip",
        "--file-url",
        emu.host_file("a.csv", _uids(emu, 0, 10)),
        "--expiry-days",
        "7",
        "--wait",
        "--json",
    )
    seg_id = json.loads(created.stdout)["ack"]["segment_id"]

    proc = run_main("file", "add", "vip", "--file-url", emu.host_file("b.csv", _uids(emu, 10, 20)), "--wait", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["callback"]["user_count"] == 10
    assert len(emu.members(seg_id)) == 20

    # By id only: the CLI looks the name up to know which callback to wait for.
    proc = run_main("file", "remove", "--id", seg_id, "--file-url", emu.host_file("c.csv", _uids(emu, 0, 5)), "--wait")
    assert proc.returncode == 0, proc.stderr
    assert "processing result" in proc.stdout
    assert len(emu.members(seg_id)) == 15

    proc = run_main("file", "replace", "vip", "--file-url", emu.host_file("d.csv", _uids(emu, 50, 53)), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "callback" not in json.loads(proc.stdout)  # no --wait: the ack only
    emu.drain_blocking()
    assert emu.members(seg_id) == set(_uids(emu, 50, 53))


def test_failed_processing_exits_1(run_main: InProcess, emu: Emulator) -> None:
    missing = f"{emu.base_url}/_emulator/files/not-there.csv"
    proc = run_main("file", "create", "broken", "--file-url", missing, "--expiry-days", "7", "--wait", "--json")
    assert proc.returncode == 1
    callback = json.loads(proc.stdout)["callback"]
    assert callback["status"] == 400 and "download failed" in callback["error_message"].lower()


def test_wait_timeout_exits_1(run_main: InProcess, emu: Emulator) -> None:
    emu.config.file_processing_delay = 3600.0  # emulated seconds: a minute of real time at scale 60
    url = emu.host_file("slow.csv", _uids(emu, 0, 3))
    proc = run_main(
        "file", "create", "slow", "--file-url", url, "--expiry-days", "7", "--wait", "--wait-timeout", "0.5"
    )
    assert proc.returncode == 1
    assert "no file-segment callback" in proc.stderr


def test_wait_options_are_checked(run_main: InProcess, emu: Emulator) -> None:
    url = emu.host_file("x.csv", ["user-0000001"])
    base = ("file", "create", "x", "--file-url", url, "--expiry-days", "7")
    code, _, err = run_main(*base, "--wait", "--callback-url", "https://h.example.com/cb")
    assert code == 2 and "--callback-url" in err
    code, _, err = run_main(*base, "--public-url", "https://h.example.com/cb")
    assert code == 2 and "--public-url" in err
    code, _, err = run_main(*base, "--wait", "--listen", "nonsense")
    assert code == 2 and "--listen" in err
    code, _, err = run_main("file", "add", "--file-url", url)
    assert code == 2 and "NAME or --id" in err
    assert emu.segments() == []


def test_without_db_name_nothing_is_sent_and_the_flag_is_named(run_main: InProcess, emu: Emulator) -> None:
    url = emu.host_file("x.csv", ["user-0000001"])
    emu.reset_counters()
    for argv in (
        ("file", "create", "x", "--file-url", url, "--expiry-days", "7"),
        ("file", "add", "--id", "6388a97a02adb9071ca84ce9", "--file-url", url),
        ("segments", "archive", "x"),
    ):
        code, _, err = run_main(*argv, env={"MOENGAGE_DB_NAME": ""})
        assert code == 2 and "--db-name or MOENGAGE_DB_NAME" in err, err
    assert emu.counters.requests == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _forge(port: int, payload: dict[str, object]) -> int:
    """POST ``payload`` to the CLI's receiver (no token) as soon as it listens; the HTTP status it got."""
    url = f"http://127.0.0.1:{port}/moengage/file-segment-callback"
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def test_wait_refuses_a_forged_callback_and_reports_the_real_one(run_main: InProcess, emu: Emulator) -> None:
    # Processing takes half a second (30 emulated seconds at time scale 60): time to forge a result first.
    emu.config.file_processing_delay = 30
    port = _free_port()
    url = emu.host_file("vip.csv", _uids(emu, 0, 5))
    argv = ("file", "create", "vip", "--file-url", url, "--expiry-days", "7", "--wait", "--json")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        cli = pool.submit(run_main, *argv, "--listen", f"127.0.0.1:{port}")
        forged = _forge(port, {"segment_name": "vip", "status": 400, "error_message": "forged failure"})
        code, out, err = cli.result(timeout=60)
    assert forged == 403
    assert code == 0, err
    callback = json.loads(out)["callback"]
    assert callback["status"] == 201 and callback["user_count"] == 5
    emu.drain_blocking()  # the emulator records the callback once its POST is answered
    sent = emu.callbacks[-1]
    assert "token=" in sent.url and sent.response_status == 200  # the real one carried the token


def test_callback_token_flag_is_used_and_never_printed(run_main: InProcess, emu: Emulator) -> None:
    token = "my-callback-token-0123456789"
    url = emu.host_file("vip.csv", _uids(emu, 0, 3))
    base = ("file", "create", "vip", "--file-url", url, "--expiry-days", "7", "--wait", "--json")
    code, out, err = run_main(*base, "--callback-token", token, "--debug")
    assert code == 0, err
    emu.drain_blocking()
    assert emu.callbacks[-1].url.endswith(f"?token={token}") and emu.callbacks[-1].response_status == 200
    assert token not in out and token not in err


def test_callback_token_is_checked_before_sending(run_main: InProcess, emu: Emulator) -> None:
    url = emu.host_file("x.csv", ["user-0000001"])
    base = ("file", "create", "x", "--file-url", url, "--expiry-days", "7")
    code, _, err = run_main(*base, "--callback-token", "my-callback-token-0123456789")
    assert code == 2 and "--callback-token only makes sense with --wait" in err
    code, _, err = run_main(*base, "--wait", "--callback-token", "short")
    assert code == 2 and "at least 16 characters" in err
    assert emu.segments() == []
