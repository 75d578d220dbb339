"""Explicit arguments (and CLI flags) win over every MOENGAGE_* variable, data_center over MOENGAGE_BASE_URL too."""

from __future__ import annotations

import pytest

from moengage_segments import AsyncClient
from moengage_segments.cli.args import parse_args
from moengage_segments.cli.context import Context
from moengage_segments.cli.output import make_output
from moengage_segments.cli.redact import Redactor
from moengage_segments.config import Settings

EMULATOR_URL = "http://127.0.0.1:8080"


@pytest.fixture
def emulator_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment after pasting the emulator's export line."""
    monkeypatch.setenv("MOENGAGE_BASE_URL", EMULATOR_URL)
    monkeypatch.setenv("MOENGAGE_WORKSPACE_ID", "env-ws")
    monkeypatch.setenv("MOENGAGE_API_KEY", "env-key")
    monkeypatch.delenv("MOENGAGE_DATA_CENTER", raising=False)


def test_explicit_data_center_beats_the_base_url_variable(emulator_exported: None) -> None:
    settings = AsyncClient(data_center="01").settings
    assert (settings.base_url, settings.data_center) == ("https://api-01.moengage.com", "01")
    assert AsyncClient().settings.base_url == EMULATOR_URL  # without the argument the variable applies


def test_explicit_base_url_beats_explicit_data_center_and_variables_keep_their_order(
    emulator_exported: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings.resolve(data_center="02", base_url="http://127.0.0.1:9000").base_url == "http://127.0.0.1:9000"
    monkeypatch.setenv("MOENGAGE_DATA_CENTER", "03")
    assert Settings.resolve().base_url == EMULATOR_URL  # between variables, MOENGAGE_BASE_URL wins


def test_cli_data_center_flag_beats_the_base_url_variable(emulator_exported: None) -> None:
    args = parse_args(["--data-center", "01", "segments", "list"])
    settings = Context(args, make_output(json_mode=False, plain=True), Redactor()).client().settings
    assert settings.base_url == "https://api-01.moengage.com"
