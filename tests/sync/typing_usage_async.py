"""Checked by mypy --strict in test_sync_typing.py (never executed): the async client's static types."""

from __future__ import annotations

from typing_extensions import assert_type

from moengage_segments import AsyncClient, AsyncCohorts, AsyncFileSegments, AsyncFilterSegments, AsyncSegments
from moengage_segments.models import Cohort, CohortBatchResult, Segment, SegmentAck, SegmentSummary


async def use() -> None:
    async with AsyncClient(workspace_id="WS", api_key="KEY", data_center="01") as client:
        assert_type(client, AsyncClient)
        assert_type(client.segments, AsyncSegments)
        assert_type(client.file_segments, AsyncFileSegments)
        assert_type(client.filter_segments, AsyncFilterSegments)
        assert_type(client.cohorts, AsyncCohorts)
        assert_type(await client.segments.list(), list[SegmentSummary])
        assert_type(await client.segments.list(name="vip"), list[SegmentSummary])
        assert_type(await client.segments.find("vip"), SegmentSummary | None)
        assert_type(await client.segments.get("0" * 24), Segment)
        assert_type(await client.segments.archive("vip"), SegmentAck)
        assert_type(await client.segments.unarchive(segment_id="0" * 24), SegmentAck)
        assert_type(await client.file_segments.create("vip", file_url="https://x/y.csv", expiry_days=30), SegmentAck)
        assert_type(await client.file_segments.add_users("vip", file_url="https://x/y.csv"), SegmentAck)
        assert_type(await client.filter_segments.create("adults", included={}), Segment)
        assert_type(await client.filter_segments.update("0" * 24, included={}), Segment)
        cohort = Cohort(id="c", name="C", partner="p")
        assert_type(await client.cohorts.send_batch(cohort, "add_members", ["u1"]), CohortBatchResult)
        assert_type(await client.aclose(), None)
