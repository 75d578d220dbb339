"""``emulator`` serves until Ctrl-C; ``demo`` runs the whole tour to completion."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from .conftest import InProcess, cli_env


def _read_json_document(stream: object) -> dict[str, object]:
    lines = []
    while True:
        line = stream.readline()  # type: ignore[attr-defined]
        assert line, "the emulator exited before printing its address"
        lines.append(line)
        if line.rstrip() == "}":
            return json.loads("".join(lines))  # type: ignore[no-any-return]


@pytest.mark.slow  # a subprocess and a real SIGINT
def test_emulator_serves_until_ctrl_c(run_main: InProcess) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "moengage_segments", "emulator", "--port", "0", "--generate-users", "10", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(None),
    )
    try:
        info = _read_json_document(proc.stdout)
        assert str(info["base_url"]).startswith("http://127.0.0.1:")
        assert info["api_key"] == "emulator-api-key"  # the public default, printed because the user gave none
        assert info["uids"] == ["user-0000000", "user-0000009"]  # the seeded uids' format
        env = {
            "MOENGAGE_BASE_URL": str(info["base_url"]),
            "MOENGAGE_WORKSPACE_ID": str(info["workspace_id"]),
            "MOENGAGE_API_KEY": str(info["api_key"]),
            "MOENGAGE_DB_NAME": str(info["db_name"]),
        }
        listed = run_main("segments", "list", "--json", connect=False, env=env)
        assert listed.returncode == 0 and json.loads(listed.stdout) == []
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "emulator stopped" in err


@pytest.mark.slow  # a subprocess and a real SIGINT
def test_emulator_never_echoes_a_key_the_user_chose() -> None:
    key = "sk-user-CHOSEN-KEY-999"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moengage_segments", "emulator", "--port", "0", "--generate-users", "1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(None, {"MOENGAGE_API_KEY": key}),
    )
    banner = ""
    try:
        # Read the whole banner before interrupting: a SIGINT mid-banner would cut it short.
        while proc.stdout is not None and "time scale" not in banner:
            line = proc.stdout.readline()
            if not line:
                break
            banner += line
        assert "emulator running" in banner
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert key not in banner + out + err and "(the key you gave)" in banner
    # The banner shows what the seeded uids look like, so a uid file can be written for them.
    assert "seeded users  1,000 (user-0000000 ... user-0000999)" in banner


def test_demo_small_runs_to_completion(run_main: InProcess) -> None:
    proc = run_main("demo", "--uids", "20000", "--json", connect=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is True and doc["problems"] == []
    assert doc["file_segment"]["callback"]["status"] == 201
    assert doc["file_segment"]["callback"]["user_count"] == 600
    assert doc["filter_segment"]["name"] == "demo-new-york"
    assert doc["cohort"]["add"]["accepted"] == 20000 and doc["cohort"]["remove"]["accepted"] == 2000
    assert doc["archived"]["status"] in (200, 202)
    assert [row["cohort"] for row in doc["summary"]] == ["add", "remove"]


def test_demo_default_size_with_plain_output(run_main: InProcess) -> None:
    # How long it takes is measured by benchmarks/bench_emulator.py, not asserted here.
    proc = run_main("demo", connect=False)
    assert proc.returncode == 0, proc.stderr
    assert "200,000 pushed" in proc.stdout and "summary" in proc.stdout
    assert "cohort add: 200,000/200,000 uids (100%)" in proc.stderr  # the plain progress renderer
