"""``--quota URL`` and ``MOENGAGE_QUOTA_URL`` in the command line tool."""

from __future__ import annotations

import pytest

from moengage_segments._async.quota.memory import PROCESS_QUOTA
from moengage_segments.cli.args import parse_args
from moengage_segments.cli.context import Context
from moengage_segments.cli.output import make_output
from moengage_segments.cli.redact import Redactor
from tests.cli.conftest import InProcess, emu, run_main

__all__ = ["emu", "run_main"]

BASE = ["--workspace-id", "w", "--api-key", "some-key", "--data-center", "01"]


def client_for(argv: list[str]) -> object:
    return Context(parse_args(argv), make_output(json_mode=True), Redactor()).client()


def test_quota_flag_and_variable_reach_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOENGAGE_QUOTA_URL", raising=False)
    default = client_for(["segments", "list", *BASE])
    assert default._transport.limiter.store is PROCESS_QUOTA  # type: ignore[attr-defined]
    for argv in (
        ["--quota", "memory://", "segments", "list", *BASE],
        ["segments", "list", *BASE, "--quota", "memory://"],
    ):
        assert client_for(argv)._transport.limiter.store is PROCESS_QUOTA  # type: ignore[attr-defined]


def test_a_bad_quota_url_names_the_flag(run_main: InProcess) -> None:
    code, _, err = run_main("segments", "list", "--quota", "ftp://user:pw-secret@host/x")
    assert code == 2
    assert err.startswith("error: --quota: unsupported quota store URL") and "pw-secret" not in err
    code, _, err = run_main("segments", "list", env={"MOENGAGE_QUOTA_URL": "nope://"})
    assert code == 2 and "MOENGAGE_QUOTA_URL: unsupported quota store URL (scheme 'nope')" in err
