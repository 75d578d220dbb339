"""Emulator(files_dir=) / --files DIR: a local folder served at a loopback URL, usable as a file segment's file_url."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from moengage_segments import AsyncClient
from moengage_segments.testing import Emulator


async def test_a_folder_file_becomes_a_file_segment(tmp_path: Path) -> None:
    (tmp_path / "vip.csv").write_text("u1\nu2\nghost\n")
    async with Emulator(files_dir=tmp_path) as emu:
        emu.add_users(["u1", "u2", "u3"])
        assert emu.files_dir == str(tmp_path) and emu.files_url == f"{emu.base_url}/_emulator/files/"
        async with AsyncClient(emu.workspace_id, emu.api_key, base_url=emu.base_url, db_name=emu.db_name) as client:
            ack = await client.file_segments.create("vip", file_url=emu.files_url + "vip.csv", expiry_days=7)
        await emu.drain()
        assert ack.segment_id is not None and emu.members(ack.segment_id) == {"u1", "u2"}
        # host_file()'s files and the folder's share the URL prefix.
        assert emu.host_file("extra.csv", ["u3"]) == emu.files_url + "extra.csv"


async def test_only_files_directly_in_the_folder_are_served(tmp_path: Path) -> None:
    folder = tmp_path / "served"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "nested.csv").write_text("u1\n")
    (tmp_path / "secret.csv").write_text("not for you\n")
    (folder / "link.csv").symlink_to(tmp_path / "secret.csv")
    (folder / "ok.csv").write_text("u1\n")
    async with Emulator(files_dir=folder) as emu, aiohttp.ClientSession() as http:
        async with http.get(emu.files_url + "ok.csv") as resp:
            assert resp.status == 200 and await resp.text() == "u1\n"
        for name in ("sub", "sub%2Fnested.csv", "..%2Fsecret.csv", "link.csv", "missing.csv", ".."):
            async with http.get(emu.files_url + name) as resp:
                assert resp.status == 404, name


def test_files_dir_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        Emulator(files_dir=tmp_path / "missing")


@pytest.mark.slow  # a subprocess and a signal
def test_cli_emulator_files_flag_prints_the_url_and_serves_the_folder(tmp_path: Path) -> None:
    (tmp_path / "vip.csv").write_text("user-0000001\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moengage_segments", "emulator", "--port", "0", "--files", str(tmp_path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.rstrip() == "}":
                break
        info = json.loads("".join(lines))
        with urllib.request.urlopen(info["files_url"] + "vip.csv", timeout=5) as resp:
            assert resp.read() == b"user-0000001\n"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(info["files_url"] + "nope.csv", timeout=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
