"""moengage-segments: an async-first SDK for the MoEngage Segments API, with a generated sync twin.

Example::

    from moengage_segments import AsyncClient, Cohort

    async with AsyncClient() as client:          # credentials from MOENGAGE_* variables
        report = await client.cohorts.add_members(Cohort(id="c1", name="VIP", partner="crm"), uids)
"""

from moengage_segments._async.client import (
    AsyncClient,
    AsyncCohorts,
    AsyncFileSegments,
    AsyncFilterSegments,
    AsyncSegments,
)
from moengage_segments._async.http import HTTPRequest, HTTPResponse, HTTPTransport
from moengage_segments._async.ledger import Ledger, LedgerEntry, PostgresLedger, SQLiteLedger
from moengage_segments._async.pool import SessionPool
from moengage_segments._async.quota import InProcessQuotaStore, QuotaStore, RedisQuotaStore, SQLiteQuotaStore
from moengage_segments._sync import Client, Cohorts, FileSegments, FilterSegments, Segments
from moengage_segments.config import DATA_CENTERS, RateLimits, RetryPolicy, Settings, Window
from moengage_segments.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CheckpointError,
    ClientStateError,
    CohortSyncError,
    ConfigurationError,
    ConflictError,
    LedgerError,
    LedgerLockedError,
    MoEngageError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PreconditionFailedError,
    QuotaStoreError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from moengage_segments.models import (
    BatchRecord,
    Cohort,
    CohortBatchResult,
    CohortDeltaProgress,
    CohortDeltaReport,
    CohortPlan,
    CohortSyncProgress,
    CohortSyncReport,
    FileSegmentCallback,
    Segment,
    SegmentAck,
    SegmentSummary,
)
from moengage_segments.telemetry import (
    EventHook,
    LimiterWaitEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    TelemetryEvent,
)
from moengage_segments.uids import UidFile, read_uids

__version__ = "0.1.0"

__all__ = [
    "DATA_CENTERS",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncCohorts",
    "AsyncFileSegments",
    "AsyncFilterSegments",
    "AsyncSegments",
    "AuthenticationError",
    "BadRequestError",
    "BatchRecord",
    "CheckpointError",
    "Client",
    "ClientStateError",
    "Cohort",
    "CohortBatchResult",
    "CohortDeltaProgress",
    "CohortDeltaReport",
    "CohortPlan",
    "CohortSyncError",
    "CohortSyncProgress",
    "CohortSyncReport",
    "Cohorts",
    "ConfigurationError",
    "ConflictError",
    "EventHook",
    "FileSegmentCallback",
    "FileSegments",
    "FilterSegments",
    "HTTPRequest",
    "HTTPResponse",
    "HTTPTransport",
    "InProcessQuotaStore",
    "Ledger",
    "LedgerEntry",
    "LedgerError",
    "LedgerLockedError",
    "LimiterWaitEvent",
    "MoEngageError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PostgresLedger",
    "PreconditionFailedError",
    "QuotaStore",
    "QuotaStoreError",
    "RateLimitError",
    "RateLimits",
    "RedisQuotaStore",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "RetryPolicy",
    "SQLiteLedger",
    "SQLiteQuotaStore",
    "Segment",
    "SegmentAck",
    "SegmentSummary",
    "Segments",
    "ServerError",
    "SessionPool",
    "Settings",
    "TelemetryEvent",
    "UidFile",
    "UnexpectedResponseError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "Window",
    "__version__",
    "read_uids",
]
