"""Bad input is refused before anything is sent: a ValidationError naming the field, and no request at all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aioresponses import aioresponses

from moengage_segments import AsyncClient, Cohort, ValidationError
from moengage_segments.validation import COHORT_NAME_FORBIDDEN, MAX_NAME_LENGTH
from tests.core._support import SEG_ID, calls

URL = "https://files.example.com/u.csv"
GROUP = {
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
COHORT = Cohort(id="c1", name="Churn risk", partner="crm")

Call = Callable[[AsyncClient], Awaitable[Any]]


def fc(**overrides: Any) -> Call:
    kwargs: dict[str, Any] = {"file_url": URL, "expiry_days": 30, **overrides}
    name = kwargs.pop("name", "vip")
    return lambda c: c.file_segments.create(name, **kwargs)


def batch(cohort: Any = COHORT, action: Any = "add_members", uids: Any = ("u1",), **kw: Any) -> Call:
    return lambda c: c.cohorts.send_batch(cohort, action, list(uids) if isinstance(uids, tuple) else uids, **kw)


CASES: list[tuple[str, Call, str]] = [
    ("empty name", fc(name=""), "name"),
    ("whitespace name", fc(name=" \t "), "name"),
    ("non-string name", fc(name=42), "name"),
    ("too long name", fc(name="x" * (MAX_NAME_LENGTH + 1)), "name"),
    ("newline in name", fc(name="a\nb"), "name"),
    ("lone surrogate in name", fc(name="a\ud800"), "name"),
    ("attribute_type int", fc(attribute_type="int"), "attribute_type"),
    ("attribute_type String", fc(attribute_type="String"), "attribute_type"),
    ("empty attribute_name", fc(attribute_name=" "), "attribute_name"),
    ("expiry 0", fc(expiry_days=0), "expiry_days"),
    ("expiry negative", fc(expiry_days=-3), "expiry_days"),
    ("expiry float", fc(expiry_days=1.5), "expiry_days"),
    ("expiry bool", fc(expiry_days=True), "expiry_days"),
    ("expiry string", fc(expiry_days="30"), "expiry_days"),
    ("expiry over int32", fc(expiry_days=2**31), "expiry_days"),
    ("ftp file_url", fc(file_url="ftp://files.example.com/u.csv"), "file_url"),
    ("s3 file_url", fc(file_url="s3://bucket/u.csv"), "file_url"),
    ("relative file_url", fc(file_url="/tmp/u.csv"), "file_url"),
    ("empty file_url", fc(file_url=""), "file_url"),
    ("file_url with space", fc(file_url="https://h.example/a b.csv"), "file_url"),
    ("callback_url not http", fc(callback_url="mailto:x@example.com"), "callback_url"),
    ("emails as a string", fc(emails="a@example.com"), "emails"),
    ("email without @", fc(emails=["a@example.com", "nope"]), "emails[1]"),
    ("update: neither name nor id", lambda c: c.file_segments.add_users(file_url=URL), "name"),
    (
        "update: malformed id",
        lambda c: c.file_segments.remove_users("vip", segment_id="123", file_url=URL),
        "segment_id",
    ),
    ("update: ftp url", lambda c: c.file_segments.replace_users("vip", file_url="ftp://h/u.csv"), "file_url"),
    ("archive: nothing", lambda c: c.segments.archive(), "name"),
    ("archive: malformed id", lambda c: c.segments.archive(segment_id="x" * 24), "segment_id"),
    ("unarchive: empty name", lambda c: c.segments.unarchive(""), "name"),
    ("get: 23 hex", lambda c: c.segments.get(SEG_ID[:-1]), "segment_id"),
    ("get: 25 hex", lambda c: c.segments.get(SEG_ID + "0"), "segment_id"),
    ("get: non-hex", lambda c: c.segments.get(SEG_ID[:-1] + "g"), "segment_id"),
    ("get: path injection", lambda c: c.segments.get("../../v2/custom-segments/x"), "segment_id"),
    ("get: not a string", lambda c: c.segments.get(123), "segment_id"),
    ("list: whitespace name", lambda c: c.segments.list("  "), "name"),
    ("find: empty name", lambda c: c.segments.find(""), "name"),
    ("filter create: empty name", lambda c: c.filter_segments.create(" ", included=GROUP), "name"),
    ("filter create: HTML name", lambda c: c.filter_segments.create("<b>vip</b>", included=GROUP), "name"),
    ("filter create: group not a mapping", lambda c: c.filter_segments.create("n", included=[1]), "included"),
    (
        "filter create: bad operator",
        lambda c: c.filter_segments.create("n", included={**GROUP, "filter_operator": "xor"}),
        "included.filter_operator",
    ),
    ("filter update: malformed id", lambda c: c.filter_segments.update("abc", included=GROUP), "segment_id"),
    (
        "filter update: updated_by",
        lambda c: c.filter_segments.update(SEG_ID, included=GROUP, updated_by="bob"),
        "updated_by",
    ),
    ("cohort: not a Cohort", batch(cohort={"id": "c"}), "cohort"),
    ("cohort: empty id", batch(cohort=Cohort(id=" ", name="n", partner="p")), "cohort.id"),
    ("cohort: empty partner", batch(cohort=Cohort(id="c", name="n", partner="")), "cohort.partner"),
    ("cohort: empty name", batch(cohort=Cohort(id="c", name="", partner="p")), "cohort.name"),
    ("cohort: leading dot", batch(cohort=Cohort(id="c", name=".Partner_Name", partner="p")), "cohort.name"),
    (
        "cohort: description not str",
        batch(cohort=Cohort(id="c", name="n", partner="p", description=3)),  # type: ignore[arg-type]
        "cohort.description",
    ),
    ("cohort: bad action", batch(action="add"), "action"),
    ("uids: empty list", batch(uids=[]), "uids"),
    ("uids: a string", batch(uids="u1"), "uids"),
    ("uids: a set", batch(uids={"u1"}), "uids"),
    ("uids: empty uid", batch(uids=("u1", "")), "uids[1]"),
    ("uids: whitespace uid", batch(uids=("  ",)), "uids[0]"),
    ("uids: int uid", batch(uids=("u1", "u2", 3)), "uids[2]"),
    ("uids: None uid", batch(uids=(None,)), "uids[0]"),
    ("uids: NUL in uid", batch(uids=("a\x00b",)), "uids[0]"),
    ("uids: lone surrogate", batch(uids=("\udc80",)), "uids[0]"),
    (
        "uids: over the byte budget",
        batch(uids=tuple(f"user-{i:06d}" for i in range(20)), max_request_bytes=200),
        "uids",
    ),
] + [
    (f"cohort: forbidden {ch!r}", batch(cohort=Cohort(id="c", name=f"a{ch}b", partner="p")), "cohort.name")
    for ch in sorted(COHORT_NAME_FORBIDDEN)
]


@pytest.mark.parametrize(("case", "call", "field"), CASES, ids=[c[0] for c in CASES])
async def test_refused_before_sending(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, case: str, call: Call, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await call(make_client())
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert calls(mocked) == []


def test_every_documented_forbidden_cohort_character_is_listed() -> None:
    assert set('|*?\\:<>=$"') == COHORT_NAME_FORBIDDEN


async def test_error_message_never_echoes_uids(make_client: Callable[..., AsyncClient], mocked: aioresponses) -> None:
    secret = "user-SECRET-" + "x" * 50
    with pytest.raises(ValidationError) as caught:
        await make_client().cohorts.send_batch(COHORT, "add_members", [secret, 7])
    assert secret not in str(caught.value) and caught.value.field == "uids[1]"


async def test_body_exactly_at_the_budget_is_sent(
    make_client: Callable[..., AsyncClient], mocked: aioresponses
) -> None:
    mocked.post("https://api-01.moengage.com/v1/integrations/cohortsync", status=200, payload={"status": "success"})
    client = make_client()
    result = await client.cohorts.send_batch(COHORT, "add_members", ["u1", "u2"], max_request_bytes=10_000)
    exact = result.bytes
    mocked.post("https://api-01.moengage.com/v1/integrations/cohortsync", status=200, payload={"status": "success"})
    await client.cohorts.send_batch(COHORT, "add_members", ["u1", "u2"], max_request_bytes=exact)
    with pytest.raises(ValidationError):
        await client.cohorts.send_batch(COHORT, "add_members", ["u1", "u2"], max_request_bytes=exact - 1)
    assert len(calls(mocked)) == 2


@pytest.mark.parametrize("name", ["Partner_Name", "churn risk (Q3)", "a.b", "ünïcode", "x" * MAX_NAME_LENGTH])
async def test_valid_cohort_names_pass(
    make_client: Callable[..., AsyncClient], mocked: aioresponses, name: str
) -> None:
    mocked.post("https://api-01.moengage.com/v1/integrations/cohortsync", status=200, payload={"status": "success"})
    await make_client().cohorts.send_batch(Cohort(id="c", name=name, partner="p"), "add_members", ["u"])
    assert len(calls(mocked)) == 1


async def test_default_byte_budget_is_128_000(make_client: Callable[..., AsyncClient], mocked: aioresponses) -> None:
    from moengage_segments.config import DEFAULT_MAX_REQUEST_BYTES

    assert DEFAULT_MAX_REQUEST_BYTES == 128_000
    uids = [f"user-{i:010d}" for i in range(128_000 // len('{"uid":"user-0000000000"},'))]
    with pytest.raises(ValidationError) as caught:
        await make_client().cohorts.send_batch(COHORT, "add_members", uids)
    assert caught.value.field == "uids" and "128000" in caught.value.reason
    assert calls(mocked) == []
