"""Configuration: environment fallbacks, data centres, missing credentials, secrets kept out of repr, state."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from aioresponses import aioresponses

from moengage_segments import (
    APIStatusError,
    AsyncClient,
    ClientStateError,
    ConfigurationError,
    MoEngageError,
    RateLimitError,
    Settings,
)
from moengage_segments._async.endpoints import LIST_SEGMENTS
from moengage_segments._async.http import AiohttpTransport
from moengage_segments.config import normalize_data_center
from tests.core._support import API_KEY, BASE, BASIC, WORKSPACE, calls


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (1, "01"),
        ("1", "01"),
        ("01", "01"),
        ("dc-01", "01"),
        ("DC1", "01"),
        ("dc_02", "02"),
        ("DC-03", "03"),
        (" 4 ", "04"),
        ("05", "05"),
        (6, "06"),
        (101, "101"),
        ("dc-101", "101"),
        ("DC101", "101"),
    ],
)
def test_data_centre_forms(value: Any, code: str) -> None:
    assert normalize_data_center(value) == code
    settings = Settings.resolve("ws", "key", value)
    assert settings.data_center == code
    assert settings.base_url == f"https://api-{code}.moengage.com"


@pytest.mark.parametrize("value", [0, 7, "07", "100", "102", "dc-", "eu", "1.0", "dc-01x", True, -1])
def test_bad_data_centre(value: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.resolve("ws", "key", value)
    assert "01, 02, 03, 04, 05, 06, 101" in str(caught.value)


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOENGAGE_WORKSPACE_ID", "env-ws")
    monkeypatch.setenv("MOENGAGE_API_KEY", "env-key")
    monkeypatch.setenv("MOENGAGE_DATA_CENTER", "dc-2")
    monkeypatch.setenv("MOENGAGE_DB_NAME", "env_db")
    client = AsyncClient()
    s = client.settings
    assert (s.workspace_id, s.api_key, s.data_center, s.base_url, s.db_name) == (
        "env-ws",
        "env-key",
        "02",
        "https://api-02.moengage.com",
        "env_db",
    )
    explicit = AsyncClient("arg-ws", "arg-key", 3, db_name="arg_db").settings
    assert (explicit.workspace_id, explicit.api_key, explicit.base_url, explicit.db_name) == (
        "arg-ws",
        "arg-key",
        "https://api-03.moengage.com",
        "arg_db",
    )


def test_base_url_from_env_wins_over_data_centre(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOENGAGE_BASE_URL", "http://127.0.0.1:8080/")
    settings = Settings.resolve("ws", "key")
    assert settings.base_url == "http://127.0.0.1:8080" and settings.data_center is None


def test_missing_everything_names_each_item_and_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncClient()
    text = str(caught.value)
    for item in (
        "workspace_id",
        "MOENGAGE_WORKSPACE_ID",
        "api_key",
        "MOENGAGE_API_KEY",
        "data_center",
        "MOENGAGE_DATA_CENTER",
        "base_url",
        "MOENGAGE_BASE_URL",
    ):
        assert item in text


@pytest.mark.parametrize(
    ("kwargs", "missing", "present"),
    [
        ({"api_key": "k", "data_center": 1}, "MOENGAGE_WORKSPACE_ID", "MOENGAGE_API_KEY"),
        ({"workspace_id": "w", "data_center": 1}, "MOENGAGE_API_KEY", "MOENGAGE_WORKSPACE_ID"),
        ({"workspace_id": "w", "api_key": "k"}, "MOENGAGE_DATA_CENTER", "MOENGAGE_API_KEY"),
        ({"workspace_id": "w", "api_key": "", "data_center": 1}, "MOENGAGE_API_KEY", "MOENGAGE_WORKSPACE_ID"),
    ],
)
def test_missing_one_item(kwargs: dict[str, Any], missing: str, present: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncClient(**kwargs)
    assert missing in str(caught.value) and present not in str(caught.value)


@pytest.mark.parametrize("url", ["http://api.example.com", "http://10.0.0.5:8080"])
def test_plain_http_refused_unless_allowed(url: str) -> None:
    with pytest.raises(ConfigurationError, match="plain-http"):
        AsyncClient("ws", "key", base_url=url)
    assert AsyncClient("ws", "key", base_url=url, allow_insecure_http=True).settings.base_url == url


@pytest.mark.parametrize("url", ["http://localhost:9000", "http://127.0.0.1:9000/", "http://[::1]:9000"])
def test_plain_http_allowed_on_loopback(url: str) -> None:
    assert AsyncClient("ws", "key", base_url=url).settings.base_url == url.rstrip("/")


@pytest.mark.parametrize("url", ["ftp://api.example.com", "api.example.com", "https://"])
def test_bad_base_url(url: str) -> None:
    with pytest.raises(ConfigurationError):
        AsyncClient("ws", "key", base_url=url)


def test_reprs_never_show_the_key() -> None:
    client = AsyncClient(WORKSPACE, API_KEY, 1, db_name="db")
    error = APIStatusError(
        401,
        code="Authentication required",
        message="bad key",
        request_id="abc",
        method="GET",
        path="/v3/custom-segments",
    )
    texts = [
        repr(client),
        str(client),
        repr(client.settings),
        str(client.settings),
        repr(client._transport),
        repr(error),
        str(error),
        repr(RateLimitError(429)),
    ]
    for text in texts:
        assert API_KEY not in text and BASIC.split()[1] not in text
    assert WORKSPACE in repr(client)


async def test_auth_header_is_basic_workspace_and_key(make_client: Callable[..., AsyncClient]) -> None:
    headers = make_client()._transport.headers_for(LIST_SEGMENTS)
    assert headers["Authorization"] == BASIC
    assert BASIC == "Basic V1NfVEVTVF80Mjpzay1UT1BTRUNSRVQtNGY5YQ=="  # base64("WS_TEST_42:sk-TOPSECRET-4f9a")


async def test_use_after_aclose_raises(make_client: Callable[..., AsyncClient], mocked: aioresponses) -> None:
    mocked.get(BASE + "/v3/custom-segments", payload={"data": []}, repeat=True)
    client = make_client()
    await client.segments.list()
    await client.aclose()
    await client.aclose()  # idempotent
    with pytest.raises(ClientStateError, match="closed"):
        await client.segments.list()
    assert len(calls(mocked)) == 1


async def test_async_with_closes(make_client: Callable[..., AsyncClient], mocked: aioresponses) -> None:
    mocked.get(BASE + "/v3/custom-segments", payload={"data": []}, repeat=True)
    async with make_client() as client:
        await client.segments.list()
    with pytest.raises(ClientStateError):
        await client.segments.list()


async def test_never_used_client_can_be_closed() -> None:
    client = AsyncClient("ws", "key", 1)
    await client.aclose()
    with pytest.raises(ClientStateError):
        await client.segments.list()


async def test_use_from_a_second_event_loop_raises(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    mocked.get(BASE + "/v3/custom-segments", payload={"data": []}, repeat=True)
    client = make_client()
    await client.segments.list()
    outcome: list[BaseException | None] = []

    def other_thread() -> None:
        try:
            asyncio.run(client.segments.list())
            outcome.append(None)
        except BaseException as exc:  # the test inspects it
            outcome.append(exc)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(5)
    assert isinstance(outcome[0], ClientStateError) and "event loop" in str(outcome[0])
    assert len(calls(mocked)) == 1
    assert await client.segments.list() == []  # still fine on its own loop


def test_constructing_creates_no_session() -> None:
    """Lazy resources: building a client outside any loop works and opens nothing."""
    client = AsyncClient("ws", "key", 1)
    sender = client._transport.sender
    assert isinstance(sender, AiohttpTransport) and sender._session is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"timeout": 0}, "timeout"), ({"timeout": -1.5}, "timeout"), ({"max_connections": 0}, "max_connections")],
)
def test_bad_numbers_are_rejected(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(MoEngageError, match=field):
        AsyncClient("ws", "key", 1, **kwargs)


def test_credentials_in_base_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AsyncClient("ws", "key", base_url="http://someone:s3cret-pw@127.0.0.1:8080")
    assert "credentials" in str(caught.value) and "s3cret-pw" not in str(caught.value)
