"""Fidelity: for each documented status of each operation, the emulator's body validates against the
vendor's response schema for that status (schemas closed: no invented keys)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from moengage_segments.testing import Emulator, Fault
from tests._services import openapi_dir, spec_missing_reason
from tests.emulator._schema import validate_response
from tests.emulator.conftest import Api, Reply, attr_group, ref_group

pytestmark = pytest.mark.skipif(openapi_dir() is None, reason=spec_missing_reason())

FS, V3, COHORT = "/v2/custom-segments/file-segment", "/v3/custom-segments", "/v1/integrations/cohortsync"
ID = "/v3/custom-segments/{id}"
# Documented, but not something the emulator models (account suspension).
NOT_EMULATED = {("POST", COHORT, 403)}

Scenario = Callable[[Api, Emulator], Awaitable[Reply]]


def _file_body(url: str, name: str = "s") -> dict[str, Any]:
    return {"name": name, "attribute_name": "ID", "attribute_type": "string", "file_url": url}


async def _fault(api: Api, emu: Emulator, status: int, method: str, path: str, body: Any = None) -> Reply:
    emu.faults.script(Fault.server_error(status) if status >= 500 else Fault.rate_limited())
    return await api.call(method, path, body)


async def _filter_id(api: Api, name: str = "f") -> str:
    return str((await api.create_filter(name, attr_group(name))).body["data"]["id"])


def _v2_update_cases(path: str) -> dict[int, Scenario]:
    async def ok(api: Api, emu: Emulator) -> Reply:
        await api.create_file("s", emu.host_file("a.csv", []))
        return await api.call("PUT", path, _file_body(emu.host_file("a.csv", [])))

    async def limited(api: Api, emu: Emulator) -> Reply:
        emu.rate_limits.windows["file_segment_ops"] = ()
        await api.create_file("s", emu.host_file("a.csv", []))
        emu.config.max_file_users_per_day = 0
        return await api.call("PUT", path, _file_body(emu.host_file("a.csv", [])))

    return {
        202: ok,
        400: lambda api, emu: api.call("PUT", path, {"name": "s"}),
        401: lambda api, emu: api.call("PUT", path, {}, headers={"Authorization": api.auth(password="x")}),
        404: lambda api, emu: api.call("PUT", path, _file_body("http://127.0.0.1:1/a.csv", "ghost")),
        429: limited,
        500: lambda api, emu: _fault(api, emu, 500, "PUT", path, {}),
    }


async def _cyclic(api: Api, emu: Emulator) -> Reply:
    a = await _filter_id(api, "a")
    b = str((await api.create_filter("b", ref_group(a))).body["data"]["id"])
    return await api.call("PATCH", f"{V3}/{a}", {"included_filters": ref_group(b)})


async def _too_deep(api: Api, emu: Emulator) -> Reply:
    emu.config.max_filter_nesting = 0
    return await api.create_filter(
        "deep", {"filter_operator": "and", "filters": [{"filter_type": "nested_filters", **attr_group("x")}]}
    )


async def _dup_filters(api: Api, emu: Emulator) -> Reply:
    await api.create_filter("a", attr_group("x"))
    return await api.create_filter("b", attr_group("x"))


async def _cap(api: Api, emu: Emulator) -> Reply:
    emu.config.max_active_segments = 0
    return await api.create_filter("a", attr_group("x"))


async def _update_ok(api: Api, emu: Emulator) -> Reply:
    return await api.call("PATCH", f"{V3}/{await _filter_id(api)}", {"included_filters": attr_group("y")})


async def _update_forbidden(api: Api, emu: Emulator) -> Reply:
    cs_id = (await api.create_file("file", emu.host_file("a.csv", []))).body["cs_id"]
    return await api.call("PATCH", f"{V3}/{cs_id}", {"included_filters": attr_group("y")})


async def _update_dup(api: Api, emu: Emulator) -> Reply:
    await _filter_id(api, "a")
    return await api.call("PATCH", f"{V3}/{await _filter_id(api, 'b')}", {"included_filters": attr_group("a")})


async def _update_cap_or_limit(api: Api, emu: Emulator) -> Reply:
    return await _fault(api, emu, 429, "PATCH", f"{V3}/{await _filter_id(api)}", {})


async def _update_413(api: Api, emu: Emulator) -> Reply:
    emu.config.max_filter_segment_refs = 0
    other = await _filter_id(api, "o")
    return await api.call("PATCH", f"{V3}/{await _filter_id(api)}", {"included_filters": ref_group(other)})


async def _get_ok(api: Api, emu: Emulator) -> Reply:
    return await api.call("GET", f"{V3}/{await _filter_id(api)}")


async def _get_limited(api: Api, emu: Emulator) -> Reply:
    from moengage_segments.testing import Window

    emu.rate_limits.windows["get_segment"] = (Window(1, 60),)
    await api.call("GET", f"{V3}/{'0' * 24}")  # uses the window's one request
    return await api.call("GET", f"{V3}/{'0' * 24}")


async def _list_limited(api: Api, emu: Emulator) -> Reply:
    from moengage_segments.testing import Window

    emu.rate_limits.windows["list_segments"] = (Window(1, 60),)
    await api.call("GET", V3)
    return await api.call("GET", V3)


async def _archive_ok(api: Api, emu: Emulator) -> Reply:
    await _filter_id(api)
    return await api.call("PATCH", "/v2/custom-segments/archive", {"name": "f"})


async def _unarchive_ok(api: Api, emu: Emulator) -> Reply:
    await _archive_ok(api, emu)
    return await api.call("PATCH", "/v2/custom-segments/unarchive", {"name": "f"})


async def _file_create_limited(api: Api, emu: Emulator) -> Reply:
    from moengage_segments.testing import Window

    emu.rate_limits.windows["file_segment_ops"] = (Window(1, 60),)
    await api.create_file("s0", emu.host_file("a.csv", []))
    return await api.create_file("s", emu.host_file("a.csv", []))


async def _cohort_413(api: Api, emu: Emulator) -> Reply:
    emu.config.max_cohort_body_bytes = 10
    return await api.cohort("add_members", "c", ["u1"])


async def _cohort_limited(api: Api, emu: Emulator) -> Reply:
    from moengage_segments.testing import Window

    emu.rate_limits.windows["cohort_sync"] = (Window(1, 60),)
    await api.cohort("add_members", "c", [])
    return await api.cohort("add_members", "c", [])


SCENARIOS: dict[tuple[str, str, int], Scenario] = {
    ("POST", FS, 202): lambda api, emu: api.create_file("s", emu.host_file("a.csv", [])),
    ("POST", FS, 400): lambda api, emu: api.call("POST", FS, {"name": "s"}),
    ("POST", FS, 401): lambda api, emu: api.call("POST", FS, {}, headers={"Authorization": None}),
    ("POST", FS, 409): lambda api, emu: _dup_file(api, emu),
    ("POST", FS, 429): _file_create_limited,
    ("POST", FS, 500): lambda api, emu: _fault(api, emu, 500, "POST", FS, {}),
    **{
        ("PUT", f"{FS}/{op}", status): case
        for op in ("add-users", "remove-users", "replace")
        for status, case in _v2_update_cases(f"{FS}/{op}").items()
    },
    ("PATCH", "/v2/custom-segments/archive", 200): _archive_ok,
    ("PATCH", "/v2/custom-segments/archive", 400): lambda api, emu: api.call(
        "PATCH", "/v2/custom-segments/archive", {}
    ),
    ("PATCH", "/v2/custom-segments/archive", 401): lambda api, emu: api.call(
        "PATCH", "/v2/custom-segments/archive", {}, headers={"Authorization": None}
    ),
    ("PATCH", "/v2/custom-segments/archive", 404): lambda api, emu: api.call(
        "PATCH", "/v2/custom-segments/archive", {"name": "ghost"}
    ),
    ("PATCH", "/v2/custom-segments/archive", 500): lambda api, emu: _fault(
        api, emu, 500, "PATCH", "/v2/custom-segments/archive", {}
    ),
    ("PATCH", "/v2/custom-segments/unarchive", 200): _unarchive_ok,
    ("PATCH", "/v2/custom-segments/unarchive", 400): lambda api, emu: api.call(
        "PATCH", "/v2/custom-segments/unarchive", {}
    ),
    ("PATCH", "/v2/custom-segments/unarchive", 401): lambda api, emu: api.call(
        "PATCH", "/v2/custom-segments/unarchive", {}, headers={"Authorization": None}
    ),
    ("PATCH", "/v2/custom-segments/unarchive", 404): lambda api, emu: api.call(
        "PATCH", "/v2/custom-segments/unarchive", {"name": "ghost"}
    ),
    ("PATCH", "/v2/custom-segments/unarchive", 500): lambda api, emu: _fault(
        api, emu, 500, "PATCH", "/v2/custom-segments/unarchive", {}
    ),
    ("GET", V3, 200): lambda api, emu: _list_after_create(api),
    ("GET", V3, 400): lambda api, emu: api.call("GET", V3, headers={"MOE-APPKEY": "x"}),
    ("GET", V3, 401): lambda api, emu: api.call("GET", V3, headers={"Authorization": None}),
    ("GET", V3, 429): _list_limited,
    ("GET", V3, 500): lambda api, emu: _fault(api, emu, 500, "GET", V3),
    ("POST", V3, 201): lambda api, emu: api.create_filter("a", attr_group("a"), attr_group("b")),
    ("POST", V3, 400): lambda api, emu: api.create_filter("<b>", attr_group("a")),
    ("POST", V3, 401): lambda api, emu: api.call("POST", V3, {}, headers={"Authorization": api.auth(password="bad")}),
    ("POST", V3, 409): _dup_filters,
    ("POST", V3, 413): _too_deep,
    ("POST", V3, 429): _cap,
    ("POST", V3, 500): lambda api, emu: _fault(api, emu, 500, "POST", V3, {}),
    ("GET", ID, 200): _get_ok,
    ("GET", ID, 400): lambda api, emu: api.call("GET", f"{V3}/xyz"),
    ("GET", ID, 401): lambda api, emu: api.call("GET", f"{V3}/xyz", headers={"Authorization": None}),
    ("GET", ID, 404): lambda api, emu: api.call("GET", f"{V3}/{'0' * 24}"),
    ("GET", ID, 429): _get_limited,
    ("GET", ID, 500): lambda api, emu: _fault(api, emu, 500, "GET", f"{V3}/{'0' * 24}"),
    ("PATCH", ID, 200): _update_ok,
    ("PATCH", ID, 400): lambda api, emu: api.call("PATCH", f"{V3}/xyz", {}),
    ("PATCH", ID, 401): lambda api, emu: api.call("PATCH", f"{V3}/xyz", {}, headers={"Authorization": None}),
    ("PATCH", ID, 403): _update_forbidden,
    ("PATCH", ID, 404): lambda api, emu: api.call("PATCH", f"{V3}/{'0' * 24}", {}),
    ("PATCH", ID, 409): _update_dup,
    ("PATCH", ID, 412): _cyclic,
    ("PATCH", ID, 413): _update_413,
    ("PATCH", ID, 429): _update_cap_or_limit,
    ("PATCH", ID, 500): lambda api, emu: _fault(api, emu, 500, "PATCH", f"{V3}/{'0' * 24}", {}),
    ("POST", COHORT, 200): lambda api, emu: api.cohort("add_members", "c", ["u1"]),
    ("POST", COHORT, 400): lambda api, emu: api.call("POST", COHORT, data=b"{"),
    ("POST", COHORT, 401): lambda api, emu: api.call("POST", COHORT, {}, headers={"MOE-APPKEY": "x"}),
    ("POST", COHORT, 413): _cohort_413,
    ("POST", COHORT, 415): lambda api, emu: api.call("POST", COHORT, data=b"x", content_type="text/csv"),
    ("POST", COHORT, 429): _cohort_limited,
    ("POST", COHORT, 500): lambda api, emu: _fault(api, emu, 500, "POST", COHORT, {}),
}


async def _dup_file(api: Api, emu: Emulator) -> Reply:
    await api.create_file("s", emu.host_file("a.csv", []))
    return await api.create_file("s", emu.host_file("a.csv", []))


async def _list_after_create(api: Api) -> Reply:
    await api.create_filter("a", attr_group("a"))
    return await api.call("GET", V3)


def _documented() -> list[tuple[str, str, int]]:
    folder = openapi_dir()
    if folder is None:
        return []
    out = []
    for name in ("custom-segments.json", "cohort-audience.json"):
        for path, ops in json.loads((folder / name).read_text())["paths"].items():
            for method, op in ops.items():
                for status in op.get("responses", {}):
                    out.append((method.upper(), path, int(status)))
    return out


def test_every_documented_status_has_a_scenario() -> None:
    missing = [key for key in _documented() if key not in SCENARIOS and key not in NOT_EMULATED]
    assert missing == []


@pytest.mark.parametrize("key", sorted(SCENARIOS), ids=lambda k: f"{k[0]} {k[1]} {k[2]}")
async def test_documented_status_body_matches_schema(key: tuple[str, str, int], api: Api, emu: Emulator) -> None:
    method, template, status = key
    reply = await SCENARIOS[key](api, emu)
    assert reply.status == status, reply.text
    concrete = template.replace("{id}", "0" * 24)
    assert validate_response(method, concrete, status, reply.body) is True


def test_schema_check_rejects_invented_keys() -> None:
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        validate_response("PATCH", "/v2/custom-segments/archive", 200, {"message": "m", "surprise": 1})
    with pytest.raises(jsonschema.ValidationError):
        validate_response("POST", COHORT, 200, {"status": 1})
