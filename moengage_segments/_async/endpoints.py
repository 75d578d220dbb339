"""The eleven operations of the Segments API: method, path, error envelope, limiter family, idempotency.

One table, so paths live in one place and the transport can treat every call the same way.
"""

from __future__ import annotations

from typing import Literal

import attrs

__all__ = [
    "ARCHIVE",
    "COHORT_SYNC",
    "CREATE_FILTER_SEGMENT",
    "FILE_ADD_USERS",
    "FILE_CREATE",
    "FILE_REMOVE_USERS",
    "FILE_REPLACE_USERS",
    "GET_SEGMENT",
    "LIST_SEGMENTS",
    "UNARCHIVE",
    "UPDATE_FILTER_SEGMENT",
    "Endpoint",
    "Envelope",
]

#: Which headers and error envelope an endpoint uses: v2 (``MOE-DBNAME``, ``{title, description}``),
#: v3 (``MOE-APPKEY``, ``{response_id, error: {code, message}}``) or cohort (``MOE-APPKEY``,
#: ``{status: "fail", error: {type, message, ...}}``).
Envelope = Literal["v2", "v3", "cohort"]


@attrs.frozen
class Endpoint:
    """One API operation as the transport sees it."""

    name: str
    method: str
    path: str
    envelope: Envelope
    limit_family: str
    #: False for calls that must not be re-sent blindly after an ambiguous failure (creates).
    idempotent: bool = True
    #: False where the service's window is hours long (file operations: 10/hour, 100/day), so a 429
    #: without a ``Retry-After`` is not worth a retry seconds later.
    retry_unhinted_429: bool = True

    def format(self, **params: str) -> str:
        """The path with ``{placeholders}`` filled in."""
        return self.path.format(**params)


FILE_CREATE = Endpoint(
    "file_segments.create",
    "POST",
    "/v2/custom-segments/file-segment",
    "v2",
    "file_ops",
    idempotent=False,
    retry_unhinted_429=False,
)
FILE_ADD_USERS = Endpoint(
    "file_segments.add_users",
    "PUT",
    "/v2/custom-segments/file-segment/add-users",
    "v2",
    "file_ops",
    retry_unhinted_429=False,
)
FILE_REMOVE_USERS = Endpoint(
    "file_segments.remove_users",
    "PUT",
    "/v2/custom-segments/file-segment/remove-users",
    "v2",
    "file_ops",
    retry_unhinted_429=False,
)
FILE_REPLACE_USERS = Endpoint(
    "file_segments.replace_users",
    "PUT",
    "/v2/custom-segments/file-segment/replace",
    "v2",
    "file_ops",
    retry_unhinted_429=False,
)
ARCHIVE = Endpoint("segments.archive", "PATCH", "/v2/custom-segments/archive", "v2", "manage")
UNARCHIVE = Endpoint("segments.unarchive", "PATCH", "/v2/custom-segments/unarchive", "v2", "manage")
LIST_SEGMENTS = Endpoint("segments.list", "GET", "/v3/custom-segments", "v3", "list")
GET_SEGMENT = Endpoint("segments.get", "GET", "/v3/custom-segments/{segment_id}", "v3", "get")
CREATE_FILTER_SEGMENT = Endpoint(
    "filter_segments.create", "POST", "/v3/custom-segments", "v3", "create", idempotent=False
)
UPDATE_FILTER_SEGMENT = Endpoint("filter_segments.update", "PATCH", "/v3/custom-segments/{segment_id}", "v3", "update")
COHORT_SYNC = Endpoint("cohorts.send_batch", "POST", "/v1/integrations/cohortsync", "cohort", "cohort")
