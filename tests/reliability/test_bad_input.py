"""Hostile input, across every operation, against the emulator.

Client-side failures raise :class:`ValidationError` (or :class:`ConfigurationError` for the client's own
settings) naming the offending field, and the emulator's request log shows that nothing was sent. Wrong
credentials reach the service once and come back as the documented 401 :class:`AuthenticationError`.
Bad uids in a cohort *push* are not raised: they are reported (``invalid``, ``invalid_reasons``) and never
reach the service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from moengage_segments import (
    AsyncClient,
    AuthenticationError,
    Client,
    Cohort,
    ConfigurationError,
    ValidationError,
    read_uids,
)
from moengage_segments.filters import MAX_FILTER_DEPTH, all_of, attr
from moengage_segments.testing import Emulator
from moengage_segments.validation import COHORT_NAME_FORBIDDEN, MAX_NAME_LENGTH
from tests.reliability._support import assert_accounted, async_client, cohort_members

URL = "https://files.example.com/u.csv"
SEG = "6388a97a02adb9071ca84ce9"
COHORT = Cohort(id="bad-input", name="Bad input", partner="reliability")
GROUP: dict[str, Any] = {
    "filter_operator": "and",
    "filters": [
        {
            "filter_type": "user_attributes",
            "name": "city",
            "data_type": "string",
            "operator": "in",
            "value": ["Pune"],
            "negate": False,
            "case_sensitive": False,
        }
    ],
}
#: Valid filters but for a trailing newline (regular expressions once matched with "$", which allows it).
MONTH_DAY = {
    "filter_type": "user_attributes",
    "name": "birthday",
    "data_type": "datetime",
    "operator": "is",
    "extract_type": "date_month_of_the_year",
    "value": "06-15\n",
}
DYNAMIC = {
    "filter_type": "user_attributes",
    "name": "order_value",
    "data_type": "double",
    "operator": "greaterThan",
    "value": "{{MoeUserAttribute['lifetime_value']}}\n",
    "is_dynamic_value": True,
    "dynamic_attribute_type": "double",
}
BIG_UID = "u" * 200_000  # 200 KB: larger than any request may be

Call = Callable[[AsyncClient], Awaitable[Any]]


def file_create(**overrides: Any) -> Call:
    kwargs: dict[str, Any] = {"file_url": URL, "expiry_days": 30, **overrides}
    name = kwargs.pop("name", "vip")
    return lambda c: c.file_segments.create(name, **kwargs)


def push(cohort: Any = COHORT, uids: Any = ("u1",), **options: Any) -> Call:
    return lambda c: c.cohorts.add_members(cohort, list(uids) if isinstance(uids, tuple) else uids, **options)


def batch(uids: Any, cohort: Any = COHORT) -> Call:
    return lambda c: c.cohorts.send_batch(cohort, "add_members", uids)


def cohort_named(name: str) -> Cohort:
    return Cohort(id="c1", name=name, partner="p")


def described(description: Any) -> Cohort:
    return Cohort(id="c1", name="n", partner="p", description=description)


def nested(levels: int) -> dict[str, Any]:
    """GROUP wrapped in ``levels`` nested groups."""
    payload: dict[str, Any] = GROUP
    for _ in range(levels):
        payload = {"filter_operator": "and", "filters": [{"filter_type": "nested_filters", **payload}]}
    return payload


def typed_nested(levels: int) -> Any:
    built: Any = attr("city").is_in(["Pune"])
    for _ in range(levels):
        built = all_of(built, attr("plan").is_in(["gold"]))
    return built


def cyclic() -> dict[str, Any]:
    payload: dict[str, Any] = {"filter_operator": "and", "filters": []}
    payload["filters"].append({"filter_type": "nested_filters", **payload})
    payload["filters"][0]["filters"] = payload["filters"]
    return payload


#: The first group past MAX_FILTER_DEPTH: the one at that depth below the root.
DEEP_PATH = "included" + ".filters[0]" * MAX_FILTER_DEPTH


def group(**changes: Any) -> dict[str, Any]:
    return {**GROUP, **changes}


def one_filter(**changes: Any) -> dict[str, Any]:
    return group(filters=[{**GROUP["filters"][0], **changes}])


CASES: list[tuple[str, Call, str]] = [
    # names
    ("empty segment name", file_create(name=""), "name"),
    ("whitespace segment name", file_create(name=" \t\u3000 "), "name"),
    ("over-long segment name", file_create(name="n" * (MAX_NAME_LENGTH + 1)), "name"),
    ("NUL in a name", file_create(name="vip\x00"), "name"),
    ("lone surrogate in a name", file_create(name="vip\udc80"), "name"),
    ("HTML in a filter segment name", lambda c: c.filter_segments.create("<script>", included=GROUP), "name"),
    ("whitespace name to list", lambda c: c.segments.list("   "), "name"),
    ("empty attribute name", file_create(attribute_name=""), "attribute_name"),
    *[
        (f"cohort name with {ch!r}", push(cohort_named(f"churn{ch}risk")), "cohort.name")
        for ch in sorted(COHORT_NAME_FORBIDDEN)
    ],
    ("cohort name starting with '.'", push(cohort_named(".hidden")), "cohort.name"),
    ("over-long cohort name", push(cohort_named("c" * (MAX_NAME_LENGTH + 1))), "cohort.name"),
    ("empty cohort id", push(Cohort(id="", name="n", partner="p")), "cohort.id"),
    ("whitespace partner", push(Cohort(id="c", name="n", partner="  ")), "cohort.partner"),
    ("cohort given as a dict", push({"id": "c", "name": "n", "partner": "p"}), "cohort"),
    ("lone surrogate in a cohort description", push(described("churn \udc80")), "cohort.description"),
    ("200 KB cohort description", push(described("d" * 200_000)), "cohort.description"),
    ("NUL in a cohort description", push(described("a\x00b")), "cohort.description"),
    ("non-string cohort description", push(described(42)), "cohort.description"),
    # uids (single-request API: raised, since one request cannot be partly sent)
    ("non-string uid", batch(["ok", 42]), "uids[1]"),
    ("empty uid", batch([""]), "uids[0]"),
    ("whitespace uid", batch(["  "]), "uids[0]"),
    ("NUL in a uid", batch(["a\x00b"]), "uids[0]"),
    ("lone surrogate uid", batch(["\ud800x"]), "uids[0]"),
    ("200 KB uid", batch([BIG_UID]), "uids"),
    ("uids as one string", batch("u1,u2"), "uids"),
    ("no uids", batch([]), "uids"),
    ("push of one string", push(uids="u1"), "uids"),
    ("push of bytes", push(uids=b"u1\nu2"), "uids"),
    ("push budget too small for the envelope", push(max_request_bytes=50), "max_request_bytes"),
    ("push max_in_flight 0", push(max_in_flight=0), "max_in_flight"),
    ("on_progress not callable", push(on_progress=5), "on_progress"),
    ("on_report not callable", push(on_report="x"), "on_report"),
    ("checkpoint not a path", push(checkpoint=5), "checkpoint"),
    ("failed_uids_path not a path", push(failed_uids_path=1.5), "failed_uids_path"),
    # file URLs
    ("ftp file_url", file_create(file_url="ftp://files.example.com/u.csv"), "file_url"),
    ("relative file_url", file_create(file_url="uploads/u.csv"), "file_url"),
    ("file_url with a space", file_create(file_url="https://files.example.com/my file.csv"), "file_url"),
    ("file:// file_url", file_create(file_url="file:///etc/passwd"), "file_url"),
    ("javascript: callback_url", file_create(callback_url="javascript:alert(1)"), "callback_url"),
    ("NUL in file_url", file_create(file_url="https://files.example.com/u\x00.csv"), "file_url"),
    ("NUL in callback_url", file_create(callback_url="https://hooks.example.com/cb\x00"), "callback_url"),
    ("lone surrogate in file_url", file_create(file_url="https://files.example.com/\ud800.csv"), "file_url"),
    (
        "NUL in the file_url of add_users",
        lambda c: c.file_segments.add_users("vip", file_url="https://files.example.com/\x00"),
        "file_url",
    ),
    # e-mail addresses
    ("emails as one string", file_create(emails="ops@example.com"), "emails"),
    ("emails not iterable", file_create(emails=5), "emails"),
    ("bad address in an emails generator", file_create(emails=(a for a in ["ok@example.com", "nope"])), "emails[1]"),
    ("NUL in an address", file_create(emails=["ops\x00@example.com"]), "emails[0]"),
    # attribute types and numbers
    ("attribute_type int", file_create(attribute_type="int"), "attribute_type"),
    ("attribute_type None", file_create(attribute_type=None), "attribute_type"),
    ("expiry_days as text", file_create(expiry_days="30"), "expiry_days"),
    ("expiry_days zero", file_create(expiry_days=0), "expiry_days"),
    # segment ids
    ("short segment id", lambda c: c.segments.get("6388a97a"), "segment_id"),
    ("non-hex segment id", lambda c: c.segments.get("z" * 24), "segment_id"),
    ("path traversal as a segment id", lambda c: c.segments.get("../../../v2/custom-segments"), "segment_id"),
    ("int segment id", lambda c: c.segments.archive(segment_id=0x6388A97A02ADB9071CA84CE9), "segment_id"),
    ("malformed id to update", lambda c: c.filter_segments.update(SEG + "0", included=GROUP), "segment_id"),
    ("segment id with a trailing newline", lambda c: c.segments.get(SEG + "\n"), "segment_id"),
    (
        "trailing newline in an id to update",
        lambda c: c.filter_segments.update(SEG + "\n", included=GROUP),
        "segment_id",
    ),
    (
        "trailing newline in a referenced segment id",
        lambda c: c.filter_segments.create(
            "n", included=group(filters=[{"filter_type": "custom_segments", "id": SEG + "\n"}])
        ),
        "included.filters[0]",
    ),
    (
        "malformed id to add users",
        lambda c: c.file_segments.add_users("vip", segment_id="x", file_url=URL),
        "segment_id",
    ),
    # filter trees
    ("empty filter group", lambda c: c.filter_segments.create("n", included={}), "included.filter_operator"),
    (
        "xor operator",
        lambda c: c.filter_segments.create("n", included=group(filter_operator="xor")),
        "included.filter_operator",
    ),
    (
        "filters not a list",
        lambda c: c.filter_segments.create("n", included=group(filters="city=Pune")),
        "included.filters",
    ),
    (
        "unknown filter type",
        lambda c: c.filter_segments.create("n", included=one_filter(filter_type="sql")),
        "included.filters[0].filter_type",
    ),
    (
        "operator wrong for the data type",
        lambda c: c.filter_segments.create("n", included=one_filter(operator="between")),
        "included.filters[0].operator",
    ),
    (
        "month-day value with a trailing newline",
        lambda c: c.filter_segments.create("n", included=group(filters=[MONTH_DAY])),
        "included.filters[0].value",
    ),
    (
        "dynamic value with a trailing newline",
        lambda c: c.filter_segments.create("n", included=group(filters=[DYNAMIC])),
        "included.filters[0].value",
    ),
    ("bad excluded group", lambda c: c.filter_segments.create("n", included=GROUP, excluded=[GROUP]), "excluded"),
    ("bad group in an update", lambda c: c.filter_segments.update(SEG, included=group(filters=[])), "included"),
    # nesting: a ValidationError at the first group past MAX_FILTER_DEPTH, never a RecursionError
    ("groups nested 500 deep", lambda c: c.filter_segments.create("n", included=nested(500)), DEEP_PATH),
    ("typed groups nested 500 deep", lambda c: c.filter_segments.create("n", included=typed_nested(500)), "included"),
    (
        "excluded nested 500 deep",
        lambda c: c.filter_segments.create("n", included=GROUP, excluded=nested(500)),
        "excluded",
    ),
    ("update nested 500 deep", lambda c: c.filter_segments.update(SEG, included=nested(500)), DEEP_PATH),
    ("a group that contains itself", lambda c: c.filter_segments.create("n", included=cyclic()), DEEP_PATH),
]


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert len({name for name, _, _ in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def emulator() -> Any:
    with Emulator.in_thread(accept_any_uid=True) as emu:
        yield emu


@pytest.mark.parametrize(("call", "field"), [pytest.param(call, field, id=name) for name, call, field in CASES])
async def test_refused_before_sending_with_the_field_named(emulator: Emulator, call: Call, field: str) -> None:
    emulator.reset_counters()
    async with async_client(emulator) as client:
        with pytest.raises(ValidationError) as info:
            await call(client)
    error = info.value
    assert error.field == field or error.field.startswith(field + ".") or error.field.startswith(field + "[")
    assert str(error).startswith(error.field + ": ") and error.reason
    assert emulator.counters.requests == 0 and emulator.requests == []


async def test_invalid_uids_in_a_push_are_reported_and_never_sent(emulator: Emulator) -> None:
    valid = [f"ok-{i}" for i in range(1_000)]
    hostile: list[Any] = [42, None, b"bytes", "", "   ", "a\x00b", "\ud800", "x\udfff", BIG_UID, 1.5, ["u"]]
    emulator.reset_counters()
    async with async_client(emulator) as client:
        report = await client.cohorts.add_members(COHORT, [*valid[:500], *hostile, *valid[500:]])
    assert report.ok  # the valid uids all landed; the invalid ones are counted, not raised
    assert (report.accepted, report.invalid) == (len(valid), len(hostile))
    assert_accounted(report)
    assert report.invalid_reasons == {
        "uid must be a string, got int": 1,
        "uid must be a string, got NoneType": 1,
        "uid must be a string, got bytes": 1,
        "uid must be a string, got float": 1,
        "uid must be a string, got list": 1,
        "empty uid": 2,
        "uid contains NUL": 1,
        "uid is not valid Unicode (lone surrogate)": 2,
        "uid too large to fit in one request": 1,
    }
    assert cohort_members(emulator, COHORT) == frozenset(valid)
    # The service only ever saw well-formed bodies (it would answer 400 to a non-string uid).
    assert set(emulator.counters.statuses) == {200}
    assert max(r.body_size for r in emulator.requests) < 128_000


async def test_a_push_of_only_invalid_uids_sends_nothing(emulator: Emulator) -> None:
    emulator.reset_counters()
    async with async_client(emulator) as client:
        report = await client.cohorts.add_members(COHORT, ["", " ", "\x00", BIG_UID])
    assert (report.invalid, report.accepted, report.requests) == (4, 0, 0)
    assert emulator.counters.requests == 0


@pytest.mark.parametrize("where", ["missing", "directory"])
async def test_unreadable_uid_file_is_a_validation_error_naming_the_path(
    emulator: Emulator, tmp_path: Path, where: str
) -> None:
    # read_uids checks the path when it is called, so nothing can be sent for a bad path.
    path = tmp_path / "nope.txt" if where == "missing" else tmp_path
    emulator.reset_counters()
    with pytest.raises(ValidationError) as info:
        read_uids(path)
    assert info.value.field == "path" and str(path) in str(info.value)
    assert emulator.counters.requests == 0


async def test_wrong_credentials_are_the_documented_401(emulator: Emulator) -> None:
    emulator.reset_counters()
    async with AsyncClient(
        emulator.workspace_id, "wrong-key-123", base_url=emulator.base_url, rate_limits=None
    ) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.segments.list()
        report = await client.cohorts.add_members(COHORT, ["u1", "u2"])
    assert info.value.status == 401 and info.value.attempts == 1  # never retried
    assert "wrong-key-123" not in repr(info.value.args)
    # A cohort push does not raise per batch (on_error="collect"): the 401 is in the report.
    assert (report.failed, report.accepted) == (2, 0) and "401" in (report.batches[0].error or "")
    assert [r.status for r in emulator.requests] == [401, 401]


V2_CALLS: list[tuple[str, Call]] = [
    ("file create", file_create()),
    ("add users by id", lambda c: c.file_segments.add_users(segment_id=SEG, file_url=URL)),
    ("remove users", lambda c: c.file_segments.remove_users("vip", file_url=URL)),
    ("replace users", lambda c: c.file_segments.replace_users("vip", file_url=URL)),
    ("archive", lambda c: c.segments.archive("vip")),
    ("unarchive by id", lambda c: c.segments.unarchive(segment_id=SEG)),
]


@pytest.mark.parametrize("call", [pytest.param(call, id=name) for name, call in V2_CALLS])
async def test_v2_call_without_db_name_is_refused_before_sending(emulator: Emulator, call: Call) -> None:
    # The spec requires MOE-DBNAME on every v2 operation (the emulator too, by default).
    emulator.reset_counters()
    async with async_client(emulator, db_name=None) as client:
        with pytest.raises(ConfigurationError) as info:
            await call(client)
    assert "db_name (argument or MOENGAGE_DB_NAME)" in str(info.value)
    assert emulator.counters.requests == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"data_center": "07"}, "unknown data centre '07'"),
        ({"data_center": "dc-99"}, "unknown data centre"),
        ({"data_center": "eu"}, "unknown data centre"),
        # digits that are not ASCII are no data centre (and never become a host name to resolve)
        ({"data_center": "٠١"}, "unknown data centre"),
        ({"data_center": "１"}, "unknown data centre"),
        ({"data_center": "01\n"}, "unknown data centre"),
        ({"data_center": True}, "unknown data centre"),
        ({"data_center": 1.0}, "unknown data centre"),
        ({"base_url": "ftp://api-01.moengage.com"}, "base_url must be an absolute http"),
        ({"base_url": "http://api-01.moengage.com"}, "refusing plain-http"),
        ({"base_url": 443}, "base_url must be a string"),
        ({"base_url": "https://api-01.moengage.com:99999"}, "^base_url must have no port or a number"),
        ({"base_url": "https://api-01.moengage.com?x=1"}, "^base_url must not have a query or a fragment"),
        # client options: checked at construction, not at the first request
        ({"data_center": "01", "timeout": "30"}, "^timeout must be a finite number"),
        ({"data_center": "01", "timeout": float("inf")}, "^timeout must be a finite number"),
        ({"data_center": "01", "timeout": float("nan")}, "^timeout must be a finite number"),
        ({"data_center": "01", "timeout": 0}, "^timeout must be a finite number"),
        ({"data_center": "01", "timeout": True}, "^timeout must be a finite number"),
        ({"data_center": "01", "retry": None}, "^retry must be a RetryPolicy"),
        ({"data_center": "01", "retry": 3}, "^retry must be a RetryPolicy"),
        ({"data_center": "01", "rate_limits": "x"}, "^rate_limits must be a RateLimits or None"),
        ({"data_center": "01", "max_connections": True}, "^max_connections must be a whole number"),
        ({"data_center": "01", "max_connections": 1.5}, "^max_connections must be a whole number"),
        ({"data_center": "01", "allow_insecure_http": "yes"}, "^allow_insecure_http must be True or False"),
    ],
)
def test_bad_configuration_is_refused_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AsyncClient("ws", "key", **options)
    with pytest.raises(ConfigurationError, match=message):
        Client("ws", "key", **options)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        # a line end read from a file: a puzzling 401 for the key, a ValueError at the first request otherwise
        ({"workspace_id": "ws\n"}, r"^workspace_id \(argument or MOENGAGE_WORKSPACE_ID\) must not contain control"),
        ({"api_key": "key\r"}, r"^api_key \(argument or MOENGAGE_API_KEY\) must not contain control"),
        ({"api_key": " key"}, r"^api_key .* start or end with whitespace"),
        ({"db_name": "db\r\nX-Injected: 1"}, r"^db_name \(argument or MOENGAGE_DB_NAME\) must not contain control"),
        ({"api_key": b"key"}, r"^api_key .* must be a str, got a bytes"),  # str() would send "b'key'"
        ({"workspace_id": 12}, r"^workspace_id .* must be a str, got 12"),
    ],
)
def test_credentials_with_control_characters_or_not_strings_are_refused(
    arguments: dict[str, Any], message: str
) -> None:
    options = {"workspace_id": "ws", "api_key": "key", "data_center": "01", **arguments}
    for cls in (AsyncClient, Client):
        with pytest.raises(ConfigurationError, match=message) as info:
            cls(**options)
        assert "key\r" not in str(info.value)  # the value itself is never repeated


def test_a_key_from_a_crlf_env_file_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOENGAGE_API_KEY", "sk-from-dotenv\r")
    with pytest.raises(ConfigurationError, match=r"api_key \(argument or MOENGAGE_API_KEY\)") as info:
        AsyncClient("ws", data_center="01")
    assert "sk-from-dotenv" not in str(info.value)
