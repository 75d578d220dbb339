"""Ways to run the emulator: async context, background thread, standalone command."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from moengage_segments.testing import DEFAULT_WORKSPACE_ID, Emulator


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


def test_standalone_command() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moengage_segments.testing", "--port", str(port), "--workspace-id", "WS",
         "--api-key", "KEY", "--generate-users", "5"],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v3/custom-segments", timeout=1)
            except urllib.error.HTTPError as exc:
                assert exc.code == 400
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, "emulator did not start"
                time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=10)
