"""Rate windows enforced exactly, with the documented bodies and x-ratelimit-* headers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from moengage_segments.testing import Emulator, Window
from moengage_segments.testing._limits import EMULATOR_WINDOWS, ServerLimits, resolve_rate_limits
from tests.emulator.conftest import Api


@pytest.mark.moengage_emulator(time_scale=10)  # a minute lasts 6 s: ample for 51 requests even on a busy machine
async def test_list_allows_exactly_50_per_minute(api: Api, emu: Emulator) -> None:
    for i in range(50):
        reply = await api.call("GET", "/v3/custom-segments")
        assert reply.status == 200, i
        assert reply.headers["x-ratelimit-limit"] == "50"
        assert reply.headers["x-ratelimit-remaining"] == str(49 - i)
    reply = await api.call("GET", "/v3/custom-segments")
    assert reply.status == 429
    assert reply.body["error"] == {
        "code": "Too Many Requests",
        "message": "API rate limit breached. Current limit: 50/1 mins",
    }
    assert reply.headers["x-ratelimit-remaining"] == "0"
    assert float(reply.headers["x-ratelimit-reset"]) >= time.time()  # milliseconds: the time is scaled
    assert emu.counters.rate_limited == 1


@pytest.mark.moengage_emulator(time_scale=120, rate_limits={"list_segments": [(2, 60)]})  # a minute lasts 0.5 s
async def test_window_reopens_after_an_emulated_minute(api: Api) -> None:
    assert [(await api.call("GET", "/v3/custom-segments")).status for _ in range(3)] == [200, 200, 429]
    await asyncio.sleep(0.55)
    assert (await api.call("GET", "/v3/custom-segments")).status == 200


@pytest.mark.moengage_emulator(time_scale=600, rate_limits={"cohort_sync": [(5, 60)]})
async def test_cohort_window_and_body(api: Api, emu: Emulator) -> None:
    for _ in range(5):
        assert (await api.cohort("add_members", "c", [])).status == 200
    reply = await api.cohort("add_members", "c", [])
    assert reply.status == 429
    assert reply.body["error"]["message"] == "Rate limits for customers exceeded. Please Try After Some Time"
    assert reply.body["error"]["type"] == "Rate Limits Exceeded"


@pytest.mark.moengage_emulator(rate_limits={"get_segment": [(2, 60)]})
async def test_limits_are_per_endpoint_and_workspace(api: Api, emu: Emulator) -> None:
    path = f"/v3/custom-segments/{'0' * 24}"
    assert [(await api.call("GET", path)).status for _ in range(3)] == [404, 404, 429]
    assert (await api.call("GET", "/v3/custom-segments")).status == 200  # other bucket
    emu.add_workspace("OTHER", "k2")
    headers = {"Authorization": api.auth("OTHER", "k2"), "MOE-APPKEY": "OTHER"}
    assert (await api.call("GET", path, headers=headers)).status == 404  # other workspace


@pytest.mark.moengage_emulator(rate_limits=False)
async def test_limits_can_be_disabled(api: Api) -> None:
    for _ in range(60):
        reply = await api.call("GET", "/v3/custom-segments")
        assert reply.status == 200 and "x-ratelimit-limit" not in reply.headers


async def test_update_and_archive_have_no_default_limit(api: Api) -> None:
    reply = await api.call("PATCH", "/v2/custom-segments/archive", {"name": "x"})
    assert "x-ratelimit-limit" not in reply.headers


def test_defaults_match_the_documentation() -> None:
    assert EMULATOR_WINDOWS["cohort_sync"] == (Window(300, 60),)
    assert EMULATOR_WINDOWS["list_segments"] == (Window(50, 60), Window(200, 3600), Window(1000, 86400))
    assert EMULATOR_WINDOWS["get_segment"] == (Window(100, 60), Window(1000, 3600), Window(4000, 86400))
    assert EMULATOR_WINDOWS["file_segment_ops"] == (Window(10, 3600), Window(100, 86400))
    with pytest.raises(ValueError, match="unknown rate-limit bucket"):
        resolve_rate_limits({"nope": [(1, 1)]})


def test_sliding_window_with_a_fake_clock() -> None:
    now = [0.0]
    limits = ServerLimits({"b": (Window(2, 10), Window(3, 100))}, clock=lambda: now[0])
    assert [limits.check(("w", "b")).allowed for _ in range(3)] == [True, True, False]
    now[0] = 10.0  # the first window slid; the second still counts 2 of 3
    decision = limits.check(("w", "b"))
    assert decision.allowed and decision.remaining == 0 and decision.limit == 3
    assert not limits.check(("w", "b")).allowed
    now[0] = 100.0
    assert limits.check(("w", "b")).allowed
    refused = ServerLimits({"b": (Window(1, 60),)}, time_scale=60, clock=lambda: now[0])
    assert refused.check(("w", "b")).allowed and not refused.check(("w", "b")).allowed
    now[0] += 1.0  # 60 emulated seconds
    assert refused.check(("w", "b")).allowed


@pytest.mark.moengage_emulator(rate_limits={"file_segment_ops": [(2, 3600)]}, max_active_segments=1)
async def test_a_handler_429_does_not_count_and_carries_no_rate_headers(api: Api, emu: Emulator) -> None:
    url = emu.host_file("x.csv", [])
    first = await api.create_file("a", url)
    assert first.status == 202 and first.headers["x-ratelimit-remaining"] == "1"
    capped = await api.create_file("b", url)  # the active-segment cap, not the request rate
    assert capped.status == 429
    assert capped.body["description"] == "Total active segments limit breached. Request rejected!"
    assert not any(h.lower().startswith("x-ratelimit-") for h in capped.headers)
    assert (await api.call("PATCH", "/v2/custom-segments/archive", {"name": "a"})).status == 200
    second = await api.create_file("b", url)  # still admitted: the capped request was not counted
    assert second.status == 202 and second.headers["x-ratelimit-remaining"] == "0"
    limited = await api.create_file("c", url)  # the window's own 429 keeps its headers
    assert limited.status == 429 and limited.headers["x-ratelimit-remaining"] == "0"
    assert emu.counters.rate_limited == 2


@pytest.mark.moengage_emulator(rate_limits={"file_segment_ops": [(2, 3600)]}, max_file_users_per_day=1)
async def test_the_daily_user_quota_429_does_not_count_either(api: Api, emu: Emulator) -> None:
    emu.add_users(["u1"])
    assert (await api.create_file("a", emu.host_file("a.csv", ["u1"]))).status == 202
    await emu.drain()
    quota = await api.create_file("b", emu.host_file("b.csv", []))
    assert quota.status == 429 and "x-ratelimit-limit" not in quota.headers
    emu.config.max_file_users_per_day = 10
    assert (await api.create_file("b", emu.host_file("b.csv", []))).status == 202


@pytest.mark.moengage_emulator(max_active_segments=0)
async def test_the_cohort_active_cap_429_does_not_count(api: Api, emu: Emulator) -> None:
    emu.rate_limits.windows["cohort_sync"] = (Window(1, 60),)
    capped = await api.cohort("add_members", "c", [])
    assert capped.status == 429 and capped.body["error"]["message"].startswith("Total active segments")
    assert "x-ratelimit-limit" not in capped.headers
    emu.config.max_active_segments = 1
    reply = await api.cohort("add_members", "c", [])
    assert reply.status == 200 and reply.headers["x-ratelimit-remaining"] == "0"


# --- one Window type, the client's ServerLimits and family names ----------------------------------------


def test_the_emulator_window_is_the_sdk_window() -> None:
    import moengage_segments
    from moengage_segments import config

    assert Window is moengage_segments.Window is config.Window
    assert Window(50, 60) == moengage_segments.Window(50, 60.0) and Window(50, 60).period == 60.0


def test_defaults_agree_with_the_client_defaults() -> None:
    from moengage_segments import RateLimits as ClientLimits

    assert resolve_rate_limits(ClientLimits()) == resolve_rate_limits(None)


def test_sdk_windows_and_family_names_are_accepted() -> None:
    from moengage_segments import Window as SdkWindow

    emu = Emulator(rate_limits={"cohort_sync": [SdkWindow(1000, 60)]})
    assert emu.rate_limits.windows["cohort_sync"] == (Window(1000, 60),)
    windows = resolve_rate_limits(
        {
            "cohort": [SdkWindow(1000, 60)],
            "file_ops": [(2, 3600)],
            "manage": [(5, 60)],
            "get": SdkWindow(3, 60),
            "list": (4, 60),
        }
    )
    assert windows["cohort_sync"] == (Window(1000, 60),)
    assert windows["file_segment_ops"] == (Window(2, 3600),)
    assert windows["archive"] == windows["unarchive"] == (Window(5, 60),)
    assert windows["get_segment"] == (Window(3, 60),)  # a bare Window: one window
    assert windows["list_segments"] == (Window(4, 60),)  # a bare (limit, period) pair: one window
    assert windows["create_filter_segment"] == EMULATOR_WINDOWS["create_filter_segment"]  # untouched
    assert resolve_rate_limits({"cohort": []})["cohort_sync"] == ()  # empty: no limit


def test_the_client_rate_limits_are_accepted_and_the_margin_ignored() -> None:
    from moengage_segments import RateLimits as ClientLimits
    from moengage_segments import Window as SdkWindow

    limits = ClientLimits(cohort=(SdkWindow(7, 60),), manage=(SdkWindow(2, 10),), update=(), margin=5.0)
    emu = Emulator(rate_limits=limits)
    windows = emu.rate_limits.windows
    assert windows["cohort_sync"] == (Window(7, 60),)
    assert windows["archive"] == windows["unarchive"] == (Window(2, 10),)
    assert windows["list_segments"] == EMULATOR_WINDOWS["list_segments"]
    assert all(w.period in (10.0, 60.0, 3600.0, 86400.0) for ws in windows.values() for w in ws)  # no margin


@pytest.mark.parametrize("spec", [{"nope": [(1, 60)]}, {"cohorts": [(1, 60)]}, {3: [(1, 60)]}])
def test_unknown_keys_name_the_allowed_buckets_and_families(spec: Any) -> None:
    with pytest.raises(ValueError, match="unknown rate-limit bucket") as info:
        Emulator(rate_limits=spec)
    message = str(info.value)
    for name in ("cohort_sync", "file_segment_ops", "archive", "cohort", "file_ops", "manage"):
        assert name in message


@pytest.mark.parametrize(
    "spec",
    [
        "cohort",
        5,
        Window(1, 60),
        [("cohort_sync", [(1, 60)])],
        {"cohort_sync": 5},
        {"cohort_sync": "1/60"},
        {"cohort_sync": [5]},
        {"cohort_sync": [("1", 60)]},
        {"cohort_sync": [(1, 60, 3)]},
    ],
)
def test_values_of_the_wrong_type_raise_type_error(spec: Any) -> None:
    with pytest.raises(TypeError, match="rate_limits"):
        Emulator(rate_limits=spec)


def test_invalid_windows_and_duplicates_raise_value_error() -> None:
    with pytest.raises(ValueError, match=r"rate_limits\['cohort_sync'\].*> 0"):
        Emulator(rate_limits={"cohort_sync": [(0, 60)]})
    with pytest.raises(ValueError, match="'cohort_sync' twice"):
        Emulator(rate_limits={"cohort": [(1, 60)], "cohort_sync": [(2, 60)]})
    with pytest.raises(ValueError, match="'archive' twice"):
        Emulator(rate_limits={"manage": [(1, 60)], "archive": [(2, 60)]})


@pytest.mark.moengage_emulator(time_scale=600, rate_limits={"cohort": [Window(2, 60)]})
async def test_a_family_limit_is_enforced_on_its_bucket(api: Api) -> None:
    statuses = [(await api.cohort("add_members", "c", [])).status for _ in range(3)]
    assert statuses == [200, 200, 429]
