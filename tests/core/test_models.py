"""Models tolerate the server: unknown fields kept in ``extra``, new enum strings, bad timestamps, callbacks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from moengage_segments import (
    Cohort,
    CohortSyncReport,
    FileSegmentCallback,
    Segment,
    SegmentAck,
    SegmentSummary,
    ValidationError,
)
from moengage_segments.models import parse_timestamp, structure
from tests._services import spec_missing_reason
from tests.core import _spec


def test_summary_keeps_unknown_fields_and_new_enum_values() -> None:
    summary = structure(
        {
            "id": "6388a97a02adb9071ca84ce9",
            "name": "n",
            "type": "QUANTUM_INDEX",
            "source": "DASHBOARD",
            "created_time": "not a date",
            "user_count": 12,
            "status": "pending",
        },
        SegmentSummary,
    )
    assert (summary.type, summary.source, summary.created_time) == ("QUANTUM_INDEX", "DASHBOARD", None)
    assert dict(summary.extra) == {"user_count": 12, "status": "pending"}


def test_segment_keeps_unknown_fields() -> None:
    segment = structure({"id": "i", "name": "n", "updated_time": 17, "team": "Default", "new": {"a": 1}}, Segment)
    assert segment.updated_time is None and dict(segment.extra) == {"team": "Default", "new": {"a": 1}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-12-01T13:17:46.409000", datetime(2022, 12, 1, 13, 17, 46, 409000)),
        ("2024-01-15T00:00:00.000Z", datetime(2024, 1, 15, tzinfo=timezone.utc)),
        ("2024-01-15T05:30:00+05:30", datetime(2024, 1, 15, 5, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))),
        ("2024-01-15", datetime(2024, 1, 15)),
        ("", None),
        ("yesterday", None),
        ("2024-13-45T99:00:00", None),
        (None, None),
        (1700000000, None),
        ([], None),
    ],
)
def test_parse_timestamp(text: Any, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


def test_ack_reads_either_id_key_and_keeps_the_rest() -> None:
    a = SegmentAck.from_response(202, {"cs_id": "x", "cs_name": "n", "message": "m", "success": True, "eta": 5})
    assert (a.status, a.segment_id, a.name, a.message, a.success, dict(a.extra)) == (
        202,
        "x",
        "n",
        "m",
        True,
        {"eta": 5},
    )
    b = SegmentAck.from_response(200, {"segment_id": "y", "name": "n2"})
    assert (b.status, b.segment_id, b.name) == (200, "y", "n2")
    assert SegmentAck.from_response(202, None) == SegmentAck(status=202)
    assert SegmentAck.from_response(202, ["unexpected"]) == SegmentAck(status=202)


_REPORT_FIELDS: dict[str, Any] = dict.fromkeys(
    ("submitted", "accepted", "failed", "invalid", "duplicates", "not_sent", "skipped", "requests", "bytes", "retries"),
    0,
) | {"action": "add", "cohort_id": "c", "elapsed": 0.0}


def test_models_are_frozen() -> None:
    cohort = Cohort(id="c", name="n", partner="p")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        cohort.name = "m"  # type: ignore[misc]
    assert Cohort(id="c", name="n", partner="p") == cohort and hash(cohort) == hash(Cohort("c", "n", "p"))


@pytest.mark.parametrize(
    "model",
    [
        SegmentSummary(id="a", name="b"),
        SegmentAck(status=202, extra={"eta": [1, {"x": 2}]}),
        CohortSyncReport(**_REPORT_FIELDS, invalid_reasons={"empty": 1}),
        FileSegmentCallback.from_json({"segment_id": "s", "status": 201, "new_key": {"a": [1]}}),
    ],
    ids=lambda m: type(m).__name__,
)
def test_frozen_models_are_hashable_and_their_extra_cannot_change(model: Any) -> None:
    assert hash(model) == hash(attrs.evolve(model))
    for field in attrs.fields(type(model)):
        value = getattr(model, field.name)
        if isinstance(value, Mapping):
            with pytest.raises(TypeError):
                value["sneaky"] = 1  # type: ignore[index]


def test_unknown_server_keys_are_kept_frozen_in_extra() -> None:
    summary = structure({"id": "a", "name": "b", "tags": ["x", "y"], "meta": {"k": [1]}}, SegmentSummary)
    assert summary.extra == {"tags": ("x", "y"), "meta": {"k": (1,)}}
    assert hash(summary) == hash(
        structure({"id": "a", "name": "b", "tags": ["x", "y"], "meta": {"k": [1]}}, SegmentSummary)
    )


def _callback_examples() -> list[Any]:
    spec = _spec._load(_spec.SEGMENTS)
    if spec is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=spec_missing_reason()))]
    cb = spec["components"]["callbacks"]["segmentProcessingCallback"]
    (operation,) = cb.values()
    examples = operation["post"]["requestBody"]["content"]["application/json"]["examples"]
    return [pytest.param(e["value"], id=name) for name, e in examples.items()]


@pytest.mark.parametrize("payload", _callback_examples())
@pytest.mark.parametrize("form", ["mapping", "str", "bytes"])
def test_callback_from_vendor_examples(payload: dict[str, Any], form: str) -> None:
    import json

    raw: Any = payload if form == "mapping" else json.dumps(payload)
    if form == "bytes":
        raw = raw.encode()
    callback = FileSegmentCallback.from_json(raw)
    assert callback.status == payload["status"]
    assert (callback.db_name, callback.segment_name, callback.request_id) == (
        "test_db",
        "test_segment_name",
        "d5a263c4ef1198ae3d8496c0460f570f",
    )
    assert callback.succeeded is (payload["status"] == 201)
    if callback.succeeded:
        assert (callback.values_found, callback.values_processed, callback.user_count) == (80, 70, 60)
        assert callback.error_message is None
    else:
        assert callback.error_message == payload["error_message"] and callback.user_count is None
    assert dict(callback.extra) == {}


def test_callback_tolerates_unknown_fields() -> None:
    cb = FileSegmentCallback.from_json({"status": 201, "user_count": 1, "cs_id": "abc", "attempt": 2})
    assert cb.user_count == 1 and dict(cb.extra) == {"cs_id": "abc", "attempt": 2}


@pytest.mark.parametrize("payload", ["not json", b"\xff\xfe", "[1, 2]", '{"segment_name": "s"}', "null"])
def test_callback_rejects_what_is_not_a_callback(payload: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        FileSegmentCallback.from_json(payload)
    assert caught.value.field == "callback"
