"""Authentication rules per family, with the documented bodies."""

from __future__ import annotations

import pytest

from moengage_segments.testing import Emulator
from tests.emulator.conftest import Api

LIST = "/v3/custom-segments"
COHORT = "/v1/integrations/cohortsync"
ARCHIVE = "/v2/custom-segments/archive"
CLIENT_NOT_FOUND = "MoEngage Client not found. Please check values for headers - MOE-APPKEY or MOE-DBNAME"


async def test_v3_unknown_appkey_is_400_client_not_found(api: Api) -> None:
    reply = await api.call("GET", LIST, headers={"MOE-APPKEY": "nope"})
    assert reply.status == 400
    assert reply.body["error"] == {"code": "Request Error", "message": CLIENT_NOT_FOUND}
    assert reply.body["type"] == "custom_segment" and len(reply.body["response_id"]) == 8


async def test_v3_missing_both_headers_is_400(api: Api) -> None:
    reply = await api.call("GET", LIST, headers={"MOE-APPKEY": None})
    assert reply.status == 400 and reply.body["error"]["message"] == CLIENT_NOT_FOUND


async def test_v3_db_name_header_is_an_alternative(api: Api, emu: Emulator) -> None:
    reply = await api.call("GET", LIST, headers={"MOE-APPKEY": None, "MOE-DBNAME": emu.db_name})
    assert reply.status == 200 and reply.body["data"] == []


async def test_v3_wrong_key_is_401(api: Api) -> None:
    reply = await api.call("GET", LIST, headers={"Authorization": api.auth(password="wrong")})
    assert reply.status == 401
    assert reply.body["error"] == {
        "code": "Authentication required",
        "message": "APP_SECRET key mismatch. Please login to the dashboard to verify key",
    }


async def test_v3_missing_basic_auth_is_401(api: Api) -> None:
    reply = await api.call("GET", LIST, headers={"Authorization": None})
    assert reply.status == 401 and reply.body["error"]["code"] == "Authentication required"


async def test_v3_appkey_of_other_workspace_is_401(api: Api, emu: Emulator) -> None:
    emu.add_workspace("OTHER", "other-key")
    reply = await api.call("GET", LIST, headers={"MOE-APPKEY": "OTHER"})
    assert reply.status == 401
    assert reply.body["error"]["message"] == "Invalid APP_KEY used in Authentication Header"


async def test_v2_wrong_key_is_401_v2_envelope(api: Api) -> None:
    reply = await api.call("PATCH", ARCHIVE, {"name": "x"}, headers={"Authorization": api.auth(password="no")})
    assert reply.status == 401
    assert reply.body == {
        "title": "Authentication required",
        "description": "APP_SECRET key mismatch. Please login to the dashboard to verify key",
    }


async def test_v2_unknown_workspace_is_401_with_the_v2_text(api: Api) -> None:
    # The current spec's v2 text (the older revision said "Invalid Workspace ID or API key used in ...").
    reply = await api.call("PATCH", ARCHIVE, {"name": "x"}, headers={"Authorization": api.auth(user="ghost")})
    assert reply.status == 401
    assert reply.body == {
        "title": "Authentication required",
        "description": "APP_SECRET key mismatch. Please login to the dashboard to verify key",
    }
    reply = await api.call(
        "PUT", "/v2/custom-segments/file-segment/add-users", {}, headers={"Authorization": api.auth(user="ghost")}
    )
    assert reply.status == 401 and "APP_KEY" not in reply.body["description"]


async def test_v2_wrong_db_name_is_400(api: Api) -> None:
    reply = await api.call("PATCH", ARCHIVE, {"name": "x"}, headers={"MOE-DBNAME": "other_db"})
    assert reply.status == 400 and reply.body["title"] == "Invalid request"


async def test_v2_missing_db_name_is_400_by_default(api: Api) -> None:
    # Both revisions of the spec mark MOE-DBNAME required on every v2 operation.
    reply = await api.call("PATCH", ARCHIVE, {"name": "x"}, headers={"MOE-DBNAME": None})
    assert reply.status == 400 and reply.body["description"] == CLIENT_NOT_FOUND


@pytest.mark.moengage_emulator(optional_db_name=True)
async def test_v2_missing_db_name_is_accepted_with_optional_db_name(api: Api) -> None:
    reply = await api.call("PATCH", ARCHIVE, {"name": "x"}, headers={"MOE-DBNAME": None})
    assert reply.status == 404  # got past auth
    wrong = await api.call("PATCH", ARCHIVE, {"name": "x"}, headers={"MOE-DBNAME": "other_db"})
    assert wrong.status == 400  # a wrong value is still refused


@pytest.mark.moengage_emulator(strict=True, optional_db_name=True)
async def test_v2_missing_db_name_is_400_in_strict_mode(api: Api) -> None:
    reply = await api.call("PATCH", ARCHIVE, {"name": "x"}, headers={"MOE-DBNAME": None})
    assert reply.status == 400


async def test_cohort_appkey_mismatch_is_401(api: Api) -> None:
    reply = await api.call("POST", COHORT, {"action": "add_members"}, headers={"MOE-APPKEY": "someone-else"})
    assert reply.status == 401
    assert reply.body["status"] == "fail"
    error = reply.body["error"]
    assert (error["message"], error["type"]) == (
        "App key mismatch in params and authentication",
        "Authentication Mismatch",
    )
    assert len(error["request_id"]) == 8 and error["request_id"].isalpha()


async def test_cohort_missing_auth_header_is_401(api: Api) -> None:
    reply = await api.call("POST", COHORT, {"action": "add_members"}, headers={"Authorization": None})
    assert reply.status == 401
    assert reply.body["error"]["message"] == "Authentication Header Required"


async def test_cohort_wrong_secret_is_401(api: Api) -> None:
    reply = await api.call("POST", COHORT, {}, headers={"Authorization": api.auth(password="bad")})
    assert reply.status == 401
    assert reply.body["error"]["message"] == "App Secret key mismatch. Please login to the dashboard to verify key"


async def test_workspaces_are_isolated(api: Api, emu: Emulator) -> None:
    emu.add_workspace("OTHER", "other-key", "other_db")
    emu.add_users(["u1"], workspace_id="OTHER")
    headers = {"Authorization": api.auth("OTHER", "other-key"), "MOE-APPKEY": "OTHER"}
    body = {
        "action": "add_members",
        "partner": "p",
        "parameters": {"cohort_id": "c", "cohort_name": "C", "members": [{"uid": "u1"}]},
    }
    assert (await api.call("POST", COHORT, body, headers=headers)).status == 200
    assert emu.segments() == []
    assert emu.cohort_segment("c", workspace_id="OTHER").member_count == 1  # type: ignore[union-attr]
