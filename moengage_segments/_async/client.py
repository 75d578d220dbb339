"""``AsyncClient`` and its resource namespaces: the hand-written async surface of the SDK.

The sync ``Client`` is generated from this file by ``tools/gen_sync.py``: keep every public method an
``async def`` (or a ``@property``) with full annotations and a docstring that reads right for both clients
once ``await``/``async with`` are dropped, and every namespace an ``Async*`` class declared as a class
attribute of ``AsyncClient``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any, Literal

from moengage_segments._async import cohort_delta, cohort_sync
from moengage_segments._async import endpoints as ep
from moengage_segments._async.cohort_delta import DEFAULT_REFRESH_AFTER, MAX_COHORT_MEMBERS
from moengage_segments._async.cohort_sync import DEFAULT_MAX_IN_FLIGHT, CohortSync
from moengage_segments._async.http import HTTPTransport
from moengage_segments._async.ledger import Ledger
from moengage_segments._async.packing import CohortEnvelope, wire_form
from moengage_segments._async.pool import SessionPool
from moengage_segments._async.quota import QuotaStore, open_quota
from moengage_segments._async.streaming import DEFAULT_LINGER
from moengage_segments._async.transport import Response, Transport, logger
from moengage_segments.config import (
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_RATE_LIMITS,
    DEFAULT_RETRY,
    NoPickle,
    RateLimits,
    RetryPolicy,
    Settings,
    check_client_options,
    describe_value,
)
from moengage_segments.errors import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    ServerError,
    UnexpectedResponseError,
    ValidationError,
)
from moengage_segments.filters import Filter, FilterGroup, RawFilter, coerce_group
from moengage_segments.models import (
    Cohort,
    CohortAction,
    CohortBatchResult,
    CohortDeltaProgress,
    CohortDeltaReport,
    CohortPlan,
    CohortSyncProgress,
    CohortSyncReport,
    Segment,
    SegmentAck,
    SegmentSummary,
    structure,
)
from moengage_segments.models.cohorts import check_action, check_cohort
from moengage_segments.telemetry import EventHook, Telemetry
from moengage_segments.validation import (
    check_attribute_type,
    check_email,
    check_expiry_days,
    check_file_url,
    check_name,
    check_segment_id,
    uid_problem,
)

__all__ = ["AsyncClient", "AsyncCohorts", "AsyncFileSegments", "AsyncFilterSegments", "AsyncSegments"]

AttributeType = Literal["string", "double"]
#: What ``included``/``excluded`` accept: a typed group, a single filter, or a plain payload dict.
FilterInput = FilterGroup | Filter | Mapping[str, Any]


def _ambiguous(error: APIError) -> bool:
    """True when a failed create may nevertheless have been carried out by the service.

    A dropped connection or a 5xx may hide a create that succeeded; a 2xx whose body lacks the segment
    (``UnexpectedResponseError``) almost certainly does.
    """
    return isinstance(error, (APIConnectionError, ServerError, UnexpectedResponseError))


def _filter_payload(value: FilterGroup | Filter | Mapping[str, Any], path: str) -> dict[str, Any]:
    """Validate a filter group (typed object, single filter or plain dict) and return its payload."""
    return coerce_group(value, path).to_payload()


#: How much earlier than our clock a segment's ``created_time`` may be and still be the one our ambiguous
#: create made (the service's clock and ours are not the same clock).
_CLOCK_SKEW = timedelta(seconds=60)


def _utcnow() -> datetime:
    # The service's timestamps are naive UTC.
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _created_since(summary: SegmentSummary, started: datetime) -> bool:
    created = summary.created_time
    if created is None:
        return False
    if created.tzinfo is not None:
        created = created.astimezone(timezone.utc).replace(tzinfo=None)
    return created >= started - _CLOCK_SKEW


#: The v3 ``type`` of the segments each create makes. ``ELASTIC_SEARCH`` is documented for filter segments;
#: the value for file segments is not (``FILE`` is the emulator's assumption): a namesake of another or an
#: unknown type is never taken for the segment an ambiguous create made.
_CREATED_TYPE = {"file": "FILE", "filter": "ELASTIC_SEARCH"}


async def _created_namesakes(
    segments: AsyncSegments, name: str, kind: Literal["file", "filter"], error: APIError, started: datetime
) -> list[SegmentSummary]:
    """After a create failed, the segments it may have made; raises ``error`` when there can be none.

    Only an ambiguous failure is looked up (rather than re-sending the create); a candidate has exactly the
    name, the kind being created and a ``created_time`` after the call started (a namesake created earlier,
    perhaps archived, is not ours). When the lookup itself fails, the create's own error is raised.
    """
    if not _ambiguous(error):
        raise error
    try:
        namesakes = [s for s in await segments.list(name) if s.name == name]
    except APIError:
        raise error from None
    found = [s for s in namesakes if s.type == _CREATED_TYPE[kind] and _created_since(s, started)]
    if not found:
        if namesakes:
            logger.warning(
                "create of %s segment %r failed ambiguously; %d segment(s) of that name exist but none is a %s "
                "segment created by this call (types: %s), so none is adopted",
                kind,
                name,
                len(namesakes),
                kind,
                ", ".join(sorted({str(s.type) for s in namesakes})),
            )
        raise error
    return found


async def _recover_file_create(segments: AsyncSegments, name: str, error: APIError, started: datetime) -> SegmentAck:
    """The file segment an ambiguously failed create made (see :func:`_created_namesakes`), or ``error``."""
    found = (await _created_namesakes(segments, name, "file", error, started))[0]
    return SegmentAck(
        status=202,
        segment_id=found.id,
        name=found.name,
        message="recovered: the segment exists although the create call failed",
    )


async def _recover_filter_create(
    segments: AsyncSegments, body: Mapping[str, Any], error: APIError, started: datetime
) -> Segment:
    """The filter segment with exactly ``body``'s name and definition made by a failed create, or ``error``."""
    wanted = _comparable((body["included_filters"], body.get("excluded_filters")))
    for candidate in await _created_namesakes(segments, body["name"], "filter", error, started):
        try:
            segment = await segments.get(candidate.id)
        except APIError:
            raise error from None
        if _comparable((_payload(segment.included_filters), _payload(segment.excluded_filters))) == wanted:
            return segment
    logger.warning("create of filter segment %r failed ambiguously; its namesake has another definition", body["name"])
    raise error


def _payload(group: FilterGroup | RawFilter | None) -> Any:
    return None if group is None else group.to_payload()


def _comparable(payload: Any) -> Any:
    """A definition as the service echoes it: event-attribute filters come back without ``filter_type``."""
    if isinstance(payload, Mapping):
        return {k: _comparable(v) for k, v in payload.items() if not (k == "filter_type" and v == "action_attributes")}
    if isinstance(payload, (list, tuple)):
        return [_comparable(v) for v in payload]
    return payload


async def _target(segments: AsyncSegments, name: str | None, segment_id: str | None) -> dict[str, Any]:
    """The ``{name, cs_id}`` pair of the v2 bodies; the API requires ``name`` even when ``cs_id`` is set."""
    segments._transport.require_db_name()  # before the name lookup below sends anything
    if segment_id is not None:
        check_segment_id(segment_id)
    if name is None:
        if segment_id is None:
            raise ValidationError("name", "give the segment's name or segment_id")
        name = (await segments.get(segment_id)).name
    body: dict[str, Any] = {"name": check_name(name)}
    if segment_id is not None:
        body["cs_id"] = segment_id
    return body


def _addresses(emails: Any) -> list[str]:
    """``emails`` read once (a generator is fine) and checked: the list that is sent."""
    if isinstance(emails, (str, bytes, bytearray)):
        raise ValidationError("emails", "must be a list of addresses, not a single string")
    try:
        addresses = list(emails)
    except TypeError:
        raise ValidationError("emails", f"must be a list of addresses, got {type(emails).__name__}") from None
    for i, address in enumerate(addresses):
        check_email(address, f"emails[{i}]")
    return addresses


def _is_summary(item: Any) -> bool:
    # An item without an id or a name cannot be used for anything; skip it rather than fail the listing.
    ok = isinstance(item, Mapping) and isinstance(item.get("id"), str) and isinstance(item.get("name"), str)
    if not ok:
        logger.warning("skipping a segment list item without a string id and name")
    return ok


def _segment(response: Response) -> Segment:
    body = response.data if isinstance(response.data, Mapping) else {}
    data = body.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("id"), str) or not isinstance(data.get("name"), str):
        raise UnexpectedResponseError(f"HTTP {response.status} response without a segment (no data.id/data.name)")
    return structure({**data, "response_id": body.get("response_id")}, Segment)


class AsyncSegments:
    """Operations on any segment: list, find, get, archive and unarchive.

    Example::

        async with AsyncClient() as client:
            summary = await client.segments.find("High value customers")
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def list(self, name: str | None = None) -> list[SegmentSummary]:
        """List segments, or only those whose name is exactly ``name``.

        Example::

            for summary in await client.segments.list():
                print(summary.id, summary.name)
        """
        params = None
        if name is not None:
            params = {"name": check_name(name)}
        response = await self._transport.request(ep.LIST_SEGMENTS, params=params)
        body = response.data if isinstance(response.data, Mapping) else {}
        items = body.get("data") or []
        return [structure(item, SegmentSummary) for item in items if _is_summary(item)]

    async def find(self, name: str) -> SegmentSummary | None:
        """Return the segment named exactly ``name``, or ``None`` when there is none.

        Example::

            summary = await client.segments.find("churn-risk")
            segment_id = summary.id if summary else None
        """
        for summary in await self.list(name):
            if summary.name == name:
                return summary
        return None

    async def get(self, segment_id: str) -> Segment:
        """Fetch a segment (file or filter) by its 24-hex id.

        Example::

            segment = await client.segments.get("6388a97a02adb9071ca84ce9")
        """
        check_segment_id(segment_id)
        response = await self._transport.request(ep.GET_SEGMENT, path=ep.GET_SEGMENT.format(segment_id=segment_id))
        return _segment(response)

    async def archive(self, name: str | None = None, *, segment_id: str | None = None) -> SegmentAck:
        """Archive a file or filter segment, named by ``name`` or ``segment_id`` (the id wins if both).

        Example::

            await client.segments.archive("summer-sale-2025")
        """
        async with self._transport.telemetry.operation("segments.archive"):
            body = await _target(self, name, segment_id)
            response = await self._transport.request(ep.ARCHIVE, json_body=body)
        return SegmentAck.from_response(response.status, response.data)

    async def unarchive(self, name: str | None = None, *, segment_id: str | None = None) -> SegmentAck:
        """Make an archived segment active again (cohort-sync segments cannot be unarchived).

        Example::

            await client.segments.unarchive(segment_id="6388a97a02adb9071ca84ce9")
        """
        async with self._transport.telemetry.operation("segments.unarchive"):
            body = await _target(self, name, segment_id)
            response = await self._transport.request(ep.UNARCHIVE, json_body=body)
        return SegmentAck.from_response(response.status, response.data)


class AsyncFileSegments:
    """File segments (v2): create a segment from a CSV at a URL, then add, remove or replace its users.

    Processing is asynchronous: the service answers 202 at once (the segment has zero users) and later
    POSTs the outcome to ``callback_url`` (see :class:`FileSegmentCallback`).

    Example::

        ack = await client.file_segments.create("vip", file_url="https://host/vip.csv",
                                                attribute_name="ID", expiry_days=30)
    """

    def __init__(self, transport: Transport, segments: AsyncSegments) -> None:
        self._transport = transport
        self._segments = segments

    async def create(
        self,
        name: str,
        *,
        file_url: str,
        expiry_days: int,
        attribute_name: str = "ID",
        attribute_type: AttributeType = "string",
        callback_url: str | None = None,
        emails: Iterable[str] | None = None,
    ) -> SegmentAck:
        """Create a file segment from the single-column CSV at ``file_url``.

        ``attribute_name`` is the user attribute the file's values match (``"ID"`` is the MoEngage user
        id); ``expiry_days`` archives the segment after that many days. ``emails`` (any iterable of
        addresses, read once before sending) are notified when processing ends. If the outcome is ambiguous
        (the connection dropped, or a 5xx), the name is looked up instead of re-sending blindly.

        Example::

            ack = await client.file_segments.create(
                "vip", file_url="https://files.example.com/vip.csv", expiry_days=30,
                callback_url="https://hooks.example.com/moengage")
            print(ack.segment_id)
        """
        body = self._body(name, file_url, attribute_name, attribute_type, callback_url, emails)
        body["expiry_time"] = check_expiry_days(expiry_days)
        self._transport.require_db_name()
        started = _utcnow()
        async with self._transport.telemetry.operation("file_segments.create"):
            try:
                response = await self._transport.request(ep.FILE_CREATE, json_body=body)
            except APIError as error:
                return await _recover_file_create(self._segments, body["name"], error, started)
        return SegmentAck.from_response(response.status, response.data)

    async def add_users(
        self,
        name: str | None = None,
        *,
        file_url: str,
        segment_id: str | None = None,
        attribute_name: str = "ID",
        attribute_type: AttributeType = "string",
        callback_url: str | None = None,
        emails: Iterable[str] | None = None,
    ) -> SegmentAck:
        """Add the users listed in the CSV at ``file_url`` to an existing file segment.

        Example::

            await client.file_segments.add_users("vip", file_url="https://files.example.com/new.csv")
        """
        return await self._update(
            ep.FILE_ADD_USERS, name, segment_id, file_url, attribute_name, attribute_type, callback_url, emails
        )

    async def remove_users(
        self,
        name: str | None = None,
        *,
        file_url: str,
        segment_id: str | None = None,
        attribute_name: str = "ID",
        attribute_type: AttributeType = "string",
        callback_url: str | None = None,
        emails: Iterable[str] | None = None,
    ) -> SegmentAck:
        """Remove the users listed in the CSV at ``file_url`` from a file segment.

        Example::

            await client.file_segments.remove_users("vip", file_url="https://files.example.com/gone.csv")
        """
        return await self._update(
            ep.FILE_REMOVE_USERS, name, segment_id, file_url, attribute_name, attribute_type, callback_url, emails
        )

    async def replace_users(
        self,
        name: str | None = None,
        *,
        file_url: str,
        segment_id: str | None = None,
        attribute_name: str = "ID",
        attribute_type: AttributeType = "string",
        callback_url: str | None = None,
        emails: Iterable[str] | None = None,
    ) -> SegmentAck:
        """Drop all users of a file segment, then add those listed in the CSV at ``file_url``.

        Example::

            await client.file_segments.replace_users("vip", file_url="https://files.example.com/all.csv")
        """
        return await self._update(
            ep.FILE_REPLACE_USERS, name, segment_id, file_url, attribute_name, attribute_type, callback_url, emails
        )

    async def _update(
        self,
        endpoint: ep.Endpoint,
        name: str | None,
        segment_id: str | None,
        file_url: str,
        attribute_name: str,
        attribute_type: str,
        callback_url: str | None,
        emails: Iterable[str] | None,
    ) -> SegmentAck:
        async with self._transport.telemetry.operation(endpoint.name):
            target = await _target(self._segments, name, segment_id)
            body = self._body(target["name"], file_url, attribute_name, attribute_type, callback_url, emails)
            if "cs_id" in target:
                body["cs_id"] = target["cs_id"]
            response = await self._transport.request(endpoint, json_body=body)
        return SegmentAck.from_response(response.status, response.data)

    @staticmethod
    def _body(
        name: str,
        file_url: str,
        attribute_name: str,
        attribute_type: str,
        callback_url: str | None,
        emails: Iterable[str] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": check_name(name),
            "attribute_name": check_name(attribute_name, "attribute_name"),
            "attribute_type": check_attribute_type(attribute_type),
            "file_url": check_file_url(file_url),
        }
        if callback_url is not None:
            body["callback_url"] = check_file_url(callback_url, "callback_url")
        if emails is not None:
            body["emails"] = _addresses(emails)
        return body


class AsyncFilterSegments:
    """Filter segments (v3): create and update segments defined by filter conditions.

    Example::

        from moengage_segments.filters import attr, all_of
        segment = await client.filter_segments.create("adults", included=all_of(attr("age", "double").greater_than(17)))
    """

    def __init__(self, transport: Transport, segments: AsyncSegments) -> None:
        self._transport = transport
        self._segments = segments

    async def create(self, name: str, *, included: FilterInput, excluded: FilterInput | None = None) -> Segment:
        """Create a filter segment. Both the name and the definition must be unique (else 409).

        ``included``/``excluded`` are filter groups (typed objects from :mod:`moengage_segments.filters`
        or plain payload dicts); they are validated before sending. An ambiguous failure is resolved by
        looking the name up rather than re-sending.

        Example::

            segment = await client.filter_segments.create(
                "us-users", included={"filter_operator": "and", "filters": [...]})
        """
        body: dict[str, Any] = {
            "name": check_name(name, html_forbidden=True),
            "included_filters": _filter_payload(included, "included"),
        }
        if excluded is not None:
            body["excluded_filters"] = _filter_payload(excluded, "excluded")
        started = _utcnow()
        async with self._transport.telemetry.operation("filter_segments.create"):
            try:
                return _segment(await self._transport.request(ep.CREATE_FILTER_SEGMENT, json_body=body))
            except APIError as error:  # including a 2xx without the segment (UnexpectedResponseError)
                return await _recover_filter_create(self._segments, body, error, started)

    async def update(
        self,
        segment_id: str,
        *,
        included: FilterInput,
        excluded: FilterInput | None = None,
        name: str | None = None,
        updated_by: str | None = None,
    ) -> Segment:
        """Replace a filter segment's definition (and optionally rename it).

        Example::

            segment = await client.filter_segments.update(segment.id, included=new_group, name="us-users-v2")
        """
        check_segment_id(segment_id)
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = check_name(name, html_forbidden=True)
        body["included_filters"] = _filter_payload(included, "included")
        if excluded is not None:
            body["excluded_filters"] = _filter_payload(excluded, "excluded")
        if updated_by is not None:
            body["updated_by"] = check_email(updated_by, "updated_by")
        response = await self._transport.request(
            ep.UPDATE_FILTER_SEGMENT, path=ep.UPDATE_FILTER_SEGMENT.format(segment_id=segment_id), json_body=body
        )
        return _segment(response)


def _cohort_attributes(cohort: Cohort, action: str) -> dict[str, str]:
    attributes = {"moengage.cohort.action": action}
    if isinstance(cohort, Cohort) and isinstance(cohort.id, str):  # not validated yet: the engine does that
        attributes["moengage.cohort.id"] = cohort.id
    return attributes


class AsyncCohorts:
    """Cohort sync: add or remove members (MoEngage user ids) in a cohort's custom segment.

    Example::

        cohort = Cohort(id="churn-risk", name="Churn risk", partner="warehouse")
        await client.cohorts.send_batch(cohort, "add_members", ["u1", "u2"])
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def send_batch(
        self,
        cohort: Cohort,
        action: CohortAction,
        uids: Sequence[str],
        *,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    ) -> CohortBatchResult:
        """Send ONE cohort-sync request with these uids (retried per the client's policy).

        The body must fit in ``max_request_bytes``; use ``add_members``/``remove_members`` for any
        number of uids.

        Example::

            result = await client.cohorts.send_batch(cohort, "remove_members", ["u1"])
        """
        check_cohort(cohort)
        check_action(action)
        if isinstance(uids, (str, bytes)) or not isinstance(uids, Sequence):
            raise ValidationError("uids", "must be a list of uid strings")
        if not uids:
            raise ValidationError("uids", "must not be empty")
        members = []
        for i, uid in enumerate(uids):
            problem = uid_problem(uid)
            if problem:
                raise ValidationError(f"uids[{i}]", problem)
            members.append(wire_form(uid))
        body = CohortEnvelope(cohort, action).body(members)
        if len(body) > max_request_bytes:
            raise ValidationError(
                "uids", f"request body would be {len(body)} bytes, over max_request_bytes={max_request_bytes}"
            )
        response = await self._transport.request(ep.COHORT_SYNC, body=body)
        data = response.data if isinstance(response.data, Mapping) else {}
        extra = {k: v for k, v in data.items() if k != "message"}
        return CohortBatchResult(
            status=response.status,
            members=len(members),
            bytes=len(body),
            message=data.get("message"),
            attempts=response.attempts,
            extra=extra,
        )

    async def add_members(
        self,
        cohort: Cohort,
        uids: Iterable[str] | AsyncIterable[str],
        *,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        on_error: Literal["collect", "raise"] = "collect",
        dedupe: bool = False,
        on_progress: Callable[[CohortSyncProgress], object] | None = None,
        on_report: Callable[[CohortSyncReport], object] | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        failed_uids_path: str | os.PathLike[str] | None = None,
        linger: float | None = DEFAULT_LINGER,
    ) -> CohortSyncReport:
        """Add any number of uids to a cohort: packed into full requests, sent paced and concurrently.

        ``uids`` may be anything the signature accepts: a list, a set, a generator, a file from
        :func:`moengage_segments.read_uids` (files and generators are read in a worker thread). Each request
        body is packed to at most ``max_request_bytes``; at most ``max_in_flight`` requests are in flight, paced by the
        client's cohort limiter (300/min by default) and retried per its retry policy; a 413 splits the
        batch in two. Invalid uids are counted and never sent; duplicates within a request are dropped
        (``dedupe=True`` drops them run-wide, holding every distinct uid in memory).

        ``on_error="collect"`` finishes the run whatever fails; ``"raise"`` stops at the first failed
        batch with :class:`CohortSyncError` (``.report`` attached). ``on_progress`` receives a
        :class:`CohortSyncProgress` about twice a second. ``on_report`` receives the final report however
        the run ends, including on cancellation (the way to learn what was sent before a cancel).
        ``checkpoint`` names a journal file making the run resumable: run again with the same input and
        journal after a crash, and confirmed batches are skipped. ``failed_uids_path`` receives the uids
        the service refused and, after an early stop, those read but not sent: a CSV file with the columns
        ``uid`` and ``reason``, read back by ``read_uids(path, column="uid")``.
        ``linger`` (seconds, default 0.2) keeps a slow input moving: a generator or stream that
        trickles has what it gave so far packed and sent once it has been idle that long, while fast input
        still fills every request to the byte; ``None`` waits for full chunks. A ``checkpoint`` run always
        waits (its batches must be cut the same way on every run).

        Example::

            report = await client.cohorts.add_members(cohort, read_uids("uids.txt"), checkpoint="push.journal")
            print(report.accepted, report.failed, report.throughput)
        """
        return await self._push(
            "add_members",
            cohort,
            uids,
            max_request_bytes=max_request_bytes,
            max_in_flight=max_in_flight,
            on_error=on_error,
            dedupe=dedupe,
            on_progress=on_progress,
            on_report=on_report,
            checkpoint=checkpoint,
            failed_uids_path=failed_uids_path,
            linger=linger,
        )

    async def remove_members(
        self,
        cohort: Cohort,
        uids: Iterable[str] | AsyncIterable[str],
        *,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        on_error: Literal["collect", "raise"] = "collect",
        dedupe: bool = False,
        on_progress: Callable[[CohortSyncProgress], object] | None = None,
        on_report: Callable[[CohortSyncReport], object] | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        failed_uids_path: str | os.PathLike[str] | None = None,
        linger: float | None = DEFAULT_LINGER,
    ) -> CohortSyncReport:
        """Remove any number of uids from a cohort; the same engine and options as :meth:`add_members`.

        Example::

            report = await client.cohorts.remove_members(cohort, ["u1", "u2"], on_error="raise")
            assert report.ok
        """
        return await self._push(
            "remove_members",
            cohort,
            uids,
            max_request_bytes=max_request_bytes,
            max_in_flight=max_in_flight,
            on_error=on_error,
            dedupe=dedupe,
            on_progress=on_progress,
            on_report=on_report,
            checkpoint=checkpoint,
            failed_uids_path=failed_uids_path,
            linger=linger,
        )

    async def _push(
        self,
        action: CohortAction,
        cohort: Cohort,
        uids: Iterable[str] | AsyncIterable[str],
        *,
        on_report: Callable[[CohortSyncReport], object] | None,
        **options: Any,
    ) -> CohortSyncReport:
        # One push, either direction, inside its telemetry operation (which also sees the final report).
        async with self._transport.telemetry.operation(f"cohorts.{action}", _cohort_attributes(cohort, action)) as op:
            return await CohortSync(self._transport, cohort, action, on_report=op.on_report(on_report), **options).run(
                uids
            )

    async def plan(
        self,
        cohort: Cohort,
        uids: Iterable[str] | AsyncIterable[str],
        *,
        action: CohortAction = "add_members",
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        dedupe: bool = False,
    ) -> CohortPlan:
        """Pack ``uids`` exactly as a push would and return requests, bytes and ETA, sending nothing.

        The ETA is the least time the requests take under the client's cohort rate limit (latency not
        included). A generator is consumed by planning; files from ``read_uids`` can be read again.

        Example::

            plan = await client.cohorts.plan(cohort, read_uids("uids.txt"))
            print(plan.requests, plan.bytes, plan.eta, plan.invalid)
        """
        return await cohort_sync.plan(
            self._transport, cohort, action, uids, max_request_bytes=max_request_bytes, dedupe=dedupe
        )

    async def sync(
        self,
        cohort: Cohort,
        desired: Iterable[str] | AsyncIterable[str],
        *,
        ledger: Ledger,
        full_refresh: bool = False,
        dry_run: bool = False,
        refresh_after: timedelta | None = DEFAULT_REFRESH_AFTER,
        max_members: int | None = MAX_COHORT_MEMBERS,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        on_error: Literal["collect", "raise"] = "collect",
        on_progress: Callable[[CohortDeltaProgress], object] | None = None,
        on_report: Callable[[CohortDeltaReport], object] | None = None,
        lock_timeout: float = 0.0,
    ) -> CohortDeltaReport:
        """Make the cohort match ``desired`` by sending only the changes since the last sync.

        ``ledger`` (:class:`~moengage_segments.SQLiteLedger` or :class:`~moengage_segments.PostgresLedger`)
        remembers which uids the service confirmed. The desired list (a list, set, any iterable or a
        :func:`~moengage_segments.read_uids` file; invalid uids and duplicates are counted, never sent) is
        compared with it inside the ledger's database, then the uids that left are removed and the new ones
        added through the same engine as ``add_members``/``remove_members`` (exact-byte packing, the
        client's limiter, retries, 413 split). A uid enters the ledger only once its add request was
        accepted and leaves it only once its removal was, so after a crash the next sync converges,
        re-sending at most ``max_in_flight`` requests; failed changes are tried again by the next sync.

        The whole list is re-sent (a full refresh) on the first sync, when ``full_refresh=True``, when the
        last full one is older than ``refresh_after`` (None: never), to finish an interrupted one, and when the
        cohort has been idle for longer than the service's 60-day auto-archive. A list above
        5,000,000 distinct uids is warned about, one above ``max_members`` refused before anything is sent.
        ``dry_run=True`` computes the diff and the requests and ETA it would take, and changes nothing.
        Two syncs of one cohort never overlap: the second raises :class:`LedgerLockedError` naming the
        holder, or waits up to ``lock_timeout`` seconds. ``on_error``, ``on_progress`` and ``on_report``
        work as for ``add_members`` (with :class:`CohortDeltaProgress` and :class:`CohortDeltaReport`).

        Example::

            ledger = SQLiteLedger("cohorts.db")
            report = await client.cohorts.sync(cohort, read_uids("churn-today.txt"), ledger=ledger)
            print(report.added, report.removed, report.unchanged, report.requests)
        """
        async with self._transport.telemetry.operation("cohorts.sync", _cohort_attributes(cohort, "sync")):
            return await cohort_delta.sync(
                self._transport,
                cohort,
                desired,
                ledger=ledger,
                full_refresh=full_refresh,
                dry_run=dry_run,
                max_request_bytes=max_request_bytes,
                max_in_flight=max_in_flight,
                on_error=on_error,
                on_progress=on_progress,
                on_report=on_report,
                refresh_after=refresh_after,
                max_members=max_members,
                lock_timeout=lock_timeout,
            )


class AsyncClient(NoPickle):
    """The asynchronous MoEngage Segments client.

    Configuration falls back to ``MOENGAGE_WORKSPACE_ID``, ``MOENGAGE_API_KEY``,
    ``MOENGAGE_DATA_CENTER``, ``MOENGAGE_BASE_URL``, ``MOENGAGE_DB_NAME`` and ``MOENGAGE_QUOTA_URL``.
    ``base_url`` overrides the data centre (point it at the emulator). ``db_name`` (the ``MOE-DBNAME``
    header) is required by the v2 calls (file segments, archive, unarchive): without it they raise
    :class:`ConfigurationError` before sending. Network resources are created by the first request, not
    here; close the client when done (``async with`` or ``aclose()``).

    ``quota`` says where the rate-limit state lives, so that every pusher of a workspace shares one
    quota: by default every client of the workspace in this process; ``"sqlite:///path/quota.db"`` for
    every process on the host; ``"redis://host:6379/0"`` for every host; or a store object.

    ``event_hooks`` receive typed events (request, response, retry, limiter wait); ``tracer_provider``
    and ``meter_provider`` send OpenTelemetry spans and metrics there instead of to the global providers.
    See ``docs/observability.md``.

    ``transport`` replaces the raw HTTP send (aiohttp by default) with any :class:`HTTPTransport`, such
    as :class:`moengage_segments.testing.MockTransport` in unit tests; pacing, retries and error mapping
    still apply. A transport you pass is yours to close.

    ``pool`` shares one :class:`SessionPool` (a concurrency-limited set of connections, its own
    ``max_connections``) between clients, for a process that pushes for many workspaces; each client
    keeps its own credentials, limits and quota. By default each client has a pool of its own, of
    ``max_connections``.

    Example::

        async with AsyncClient(workspace_id="WS", api_key="KEY", data_center="01") as client:
            print(await client.segments.list())

        # eight worker processes on two hosts pushing for one workspace, sharing its quota
        async with AsyncClient(quota="redis://quota.internal:6379/0") as client:
            ...
    """

    file_segments: AsyncFileSegments
    segments: AsyncSegments
    filter_segments: AsyncFilterSegments
    cohorts: AsyncCohorts

    def __init__(
        self,
        workspace_id: str | None = None,
        api_key: str | None = None,
        data_center: str | int | None = None,
        *,
        base_url: str | None = None,
        db_name: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        rate_limits: RateLimits | None = DEFAULT_RATE_LIMITS,
        max_connections: int = 64,
        allow_insecure_http: bool = False,
        transport: HTTPTransport | None = None,
        quota: QuotaStore | str | None = None,
        pool: SessionPool | None = None,
        event_hooks: Sequence[EventHook] = (),
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        check_client_options(
            timeout=timeout,
            retry=retry,
            rate_limits=rate_limits,
            max_connections=max_connections,
            allow_insecure_http=allow_insecure_http,
        )
        settings = Settings.resolve(
            workspace_id,
            api_key,
            data_center,
            base_url=base_url,
            db_name=db_name,
            allow_insecure_http=allow_insecure_http,
        )
        if transport is not None and not callable(getattr(transport, "send", None)):
            raise ConfigurationError(
                f"transport must have an async send(request) method, got {describe_value(transport)}"
            )
        if pool is not None:
            if not isinstance(pool, SessionPool):
                raise ConfigurationError(f"pool must be a SessionPool, got {type(pool).__name__}")
            if transport is not None:
                raise ConfigurationError("give pool or transport, not both (a pool is the transport)")
            transport = pool
        store, self._owns_quota = open_quota(quota)
        self._transport = Transport(
            settings,
            timeout=timeout,
            retry=retry,
            rate_limits=rate_limits,
            max_connections=max_connections,
            sender=transport,
            quota=store,
            telemetry=Telemetry(
                event_hooks=event_hooks,
                tracer_provider=tracer_provider,
                meter_provider=meter_provider,
                base_url=settings.base_url,
            ),
        )
        self.segments = AsyncSegments(self._transport)
        self.file_segments = AsyncFileSegments(self._transport, self.segments)
        self.filter_segments = AsyncFilterSegments(self._transport, self.segments)
        self.cohorts = AsyncCohorts(self._transport)

    def __repr__(self) -> str:
        s = self._transport.settings
        return f"AsyncClient(workspace_id={s.workspace_id!r}, base_url={s.base_url!r})"

    @property
    def settings(self) -> Settings:
        """The resolved settings (the API key is hidden from ``repr()``).

        Example::

            print(client.settings.base_url)  # https://api-01.moengage.com
        """
        return self._transport.settings

    async def __aenter__(self) -> AsyncClient:
        """Enter ``async with``; the session itself is created by the first request."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client on leaving ``async with``."""
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session. Idempotent; the client cannot be used afterwards.

        Example::

            client = AsyncClient()
            try:
                ...
            finally:
                await client.aclose()
        """
        await self._transport.aclose()
        if self._owns_quota:
            await self._transport.limiter.store.aclose()
