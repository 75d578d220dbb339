"""Exit codes, one-line errors, --json error documents, --debug, and the API key never printed."""

from __future__ import annotations

import json

import pytest

from moengage_segments.errors import ConfigurationError
from moengage_segments.testing import Emulator

from .conftest import API_KEY, InProcess, RunCLI


def test_help_and_missing_command(run: RunCLI, run_main: InProcess) -> None:
    proc = run_main("--help", connect=False)
    assert proc.returncode == 0 and "cohort" in proc.stdout and "demo" in proc.stdout
    assert run_main("cohort", "add", "--help", connect=False).returncode == 0
    # Once through the real entry point: main()'s code is the process's exit status.
    proc = run(connect=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error:")


def test_unknown_command_or_option_is_2(run_main: InProcess) -> None:
    assert run_main("segments", "lst").returncode == 2
    proc = run_main("segments", "list", "--bogus", "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["exit_code"] == 2


def test_missing_credentials_is_2_and_names_the_variables(run_main: InProcess) -> None:
    proc = run_main("segments", "list", connect=False)
    assert proc.returncode == 2
    assert "MOENGAGE_API_KEY" in proc.stderr and "MOENGAGE_WORKSPACE_ID" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    # The CLI's flags, not the Python arguments.
    assert "--api-key or MOENGAGE_API_KEY" in proc.stderr and "--workspace-id or MOENGAGE_WORKSPACE_ID" in proc.stderr
    assert "argument" not in proc.stderr and "api_key" not in proc.stderr


def test_plain_http_refusal_names_the_cli_flag(run_main: InProcess) -> None:
    proc = run_main("segments", "list", "--base-url", "http://example.com", "--json")
    assert proc.returncode == 2
    assert "--allow-insecure-http" in proc.stderr and "allow_insecure_http" not in proc.stderr
    assert "--allow-insecure-http" in json.loads(proc.stdout)["error"]["message"]
    assert "--allow-insecure-http" in run_main("segments", "list", "--help", connect=False).stdout


def test_allow_insecure_http_reaches_the_client() -> None:
    from moengage_segments.cli.args import parse_args
    from moengage_segments.cli.context import Context
    from moengage_segments.cli.output import make_output
    from moengage_segments.cli.redact import Redactor

    base = ["--workspace-id", "w", "--api-key", "some-key", "--base-url", "http://example.com"]
    for argv in (
        ["segments", "list", *base, "--allow-insecure-http"],
        ["--allow-insecure-http", "segments", "list", *base],
    ):
        args = parse_args(argv)
        client = Context(args, make_output(json_mode=True), Redactor()).client()
        assert client.settings.base_url == "http://example.com"
    args = parse_args(["segments", "list", *base])
    with pytest.raises(ConfigurationError, match="--allow-insecure-http"):
        Context(args, make_output(json_mode=True), Redactor()).client()


def test_bad_data_center_and_segment_id_are_2(run_main: InProcess) -> None:
    assert (
        run_main(
            "segments",
            "list",
            "--data-center",
            "99",
            "--base-url",
            "",
            connect=False,
            env={"MOENGAGE_WORKSPACE_ID": "w", "MOENGAGE_API_KEY": "some-key"},
        ).returncode
        == 2
    )
    proc = run_main("segments", "get", "not-an-id", "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["field"] == "segment_id"


def test_wrong_key_is_an_api_error_and_neither_key_is_printed(run_main: InProcess) -> None:
    wrong = "sk-wrong-ALSO-SECRET-77"
    proc = run_main("segments", "list", "--api-key", wrong, "--json")
    assert proc.returncode == 1
    error = json.loads(proc.stdout)["error"]
    assert error["status"] == 401 and error["type"] == "AuthenticationError"
    assert wrong not in proc.stdout + proc.stderr
    assert "--api-key" in proc.stderr  # the hint


def test_not_found_is_1_with_one_line(run_main: InProcess) -> None:
    proc = run_main("segments", "get", "0123456789abcdef01234567")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "404" in lines[0] and "Traceback" not in proc.stderr


def test_debug_shows_traceback_and_requests_but_masks_the_key(run_main: InProcess, emu: Emulator) -> None:
    proc = run_main("segments", "get", "0123456789abcdef01234567", "--debug")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "DEBUG" in proc.stderr
    # (the fixture already checks that API_KEY is absent)


def test_key_inside_an_error_message_is_masked(run_main: InProcess) -> None:
    # A base URL with the key in it: the configuration error does not quote the URL at all.
    proc = run_main("segments", "list", "--base-url", f"ftp://example.com/{API_KEY}", "--json")
    assert proc.returncode == 2
    assert API_KEY not in proc.stderr and API_KEY not in json.loads(proc.stdout)["error"]["message"]
    assert proc.stderr.startswith("error: --base-url must be an absolute http(s) URL")
    # Credentials in the URL are refused without echoing them, in the CLI's words.
    proc = run_main("segments", "list", "--base-url", f"http://user:{API_KEY}@127.0.0.1:1")
    assert proc.returncode == 2
    assert proc.stderr == ("error: --base-url must not contain credentials (user:password@); pass --api-key instead\n")


def test_key_given_as_flag_is_masked_in_a_usage_error(run_main: InProcess) -> None:
    flag_key = "sk-flag-SECRET-1234"
    # A bad --timeout value that happens to be the key: a long value is described, never quoted (and the
    # redactor would mask it anyway).
    proc = run_main("segments", "list", "--api-key", flag_key, "--timeout", flag_key, connect=False)
    assert proc.returncode == 2
    assert "--timeout" in proc.stderr and f"a value of {len(flag_key)} characters (not shown)" in proc.stderr
    assert flag_key not in proc.stdout + proc.stderr
