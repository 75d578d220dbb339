"""Checked by mypy --strict in test_sync_typing.py (never executed): the sync client's static types."""

from __future__ import annotations

from typing_extensions import assert_type

from moengage_segments._sync import Client, Cohorts, FileSegments, FilterSegments, Segments
from moengage_segments.models import Cohort, CohortBatchResult, Segment, SegmentAck, SegmentSummary


def use() -> None:
    with Client(workspace_id="WS", api_key="KEY", data_center="01") as client:
        assert_type(client, Client)
        assert_type(client.segments, Segments)
        assert_type(client.file_segments, FileSegments)
        assert_type(client.filter_segments, FilterSegments)
        assert_type(client.cohorts, Cohorts)
        assert_type(client.segments.list(), list[SegmentSummary])
        assert_type(client.segments.list(name="vip"), list[SegmentSummary])
        assert_type(client.segments.find("vip"), SegmentSummary | None)
        assert_type(client.segments.get("0" * 24), Segment)
        assert_type(client.segments.archive("vip"), SegmentAck)
        assert_type(client.segments.unarchive(segment_id="0" * 24), SegmentAck)
        assert_type(client.file_segments.create("vip", file_url="https://x/y.csv", expiry_days=30), SegmentAck)
        assert_type(client.file_segments.add_users("vip", file_url="https://x/y.csv"), SegmentAck)
        assert_type(client.filter_segments.create("adults", included={}), Segment)
        assert_type(client.filter_segments.update("0" * 24, included={}), Segment)
        cohort = Cohort(id="c", name="C", partner="p")
        assert_type(client.cohorts.send_batch(cohort, "add_members", ["u1"]), CohortBatchResult)
        assert_type(client.close(), None)
    client.close()
