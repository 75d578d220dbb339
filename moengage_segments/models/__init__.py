"""Frozen attrs models of everything the API returns, built by one cattrs converter."""

from moengage_segments.models._converter import converter, parse_timestamp, structure
from moengage_segments.models.callbacks import FileSegmentCallback
from moengage_segments.models.cohorts import Cohort, CohortAction, CohortBatchResult
from moengage_segments.models.reports import (
    BatchRecord,
    BatchStatus,
    CohortDeltaProgress,
    CohortDeltaReport,
    CohortPlan,
    CohortSyncProgress,
    CohortSyncReport,
    WaitingFor,
)
from moengage_segments.models.segments import Segment, SegmentAck, SegmentSummary

__all__ = [
    "BatchRecord",
    "BatchStatus",
    "Cohort",
    "CohortAction",
    "CohortBatchResult",
    "CohortDeltaProgress",
    "CohortDeltaReport",
    "CohortPlan",
    "CohortSyncProgress",
    "CohortSyncReport",
    "FileSegmentCallback",
    "Segment",
    "SegmentAck",
    "SegmentSummary",
    "WaitingFor",
    "converter",
    "parse_timestamp",
    "structure",
]
