"""One exception hierarchy, shared by :class:`AsyncClient` and :class:`Client`.

Everything the SDK raises on purpose derives from :class:`MoEngageError`::

    MoEngageError
    ├── ConfigurationError          missing credentials, unknown data centre, unsafe base URL
    ├── ValidationError             bad input found before anything was sent
    ├── ClientStateError            client used after close, from another loop, after fork()
    ├── CohortSyncError             a cohort push stopped on a failed batch (carries the report)
    ├── CheckpointError             a cohort push's checkpoint journal is damaged or from another run
    ├── QuotaStoreError             the SQLite quota store file is corrupt, locked or cannot be opened
    ├── LedgerError                 a delta sync's ledger cannot be used (schema, storage, lost lock)
    │   └── LedgerLockedError       another run holds the cohort's ledger lock
    └── APIError
        ├── APIConnectionError      the request did not get an HTTP response
        │   └── APITimeoutError
        ├── UnexpectedResponseError a success response without what the API documents
        └── APIStatusError          the service answered with an error status
            ├── BadRequestError (400)        ├── PayloadTooLargeError (413)
            ├── AuthenticationError (401)    ├── UnsupportedMediaTypeError (415)
            ├── PermissionDeniedError (403)  ├── RateLimitError (429)
            ├── NotFoundError (404)          └── ServerError (5xx)
            ├── ConflictError (409)
            └── PreconditionFailedError (412)

Errors never carry the API key, the Authorization header or the user IDs of a request.

Example::

    try:
        await client.filter_segments.create(name="vip", included=group)
    except ConflictError as exc:
        print(exc.existing_segment_id)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CheckpointError",
    "ClientStateError",
    "CohortSyncError",
    "ConfigurationError",
    "ConflictError",
    "LedgerError",
    "LedgerLockedError",
    "MoEngageError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "QuotaStoreError",
    "RateLimitError",
    "ServerError",
    "UnexpectedResponseError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "error_for_status",
]


class MoEngageError(Exception):
    """Root of every exception raised by this SDK.

    Example::

        try:
            await client.segments.get("0" * 24)
        except MoEngageError as exc:
            log.warning("MoEngage call failed: %s", exc)
    """


class ConfigurationError(MoEngageError, ValueError):
    """The client cannot be configured: missing credentials, unknown data centre, unsafe URL.

    Example::

        AsyncClient(workspace_id=None, api_key=None)  # raises ConfigurationError naming both
    """


class ValidationError(MoEngageError, ValueError):
    """Bad input found before anything was sent.

    ``field`` names the offending input (for example ``"name"`` or ``"included.filters[2].operator"``)
    and ``reason`` says what is allowed there.

    Example::

        try:
            await client.cohorts.send_batch(cohort, "add_members", [""])
        except ValidationError as exc:
            assert exc.field == "uids[0]"
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class ClientStateError(MoEngageError, RuntimeError):
    """The client is used in a state where it cannot work.

    Raised after ``aclose()``/``close()``, from a second event loop, from a forked child, or when the sync
    client is called from its own event-loop thread (which would otherwise deadlock).

    Example::

        await client.aclose()
        await client.segments.list()  # raises ClientStateError
    """


class APIError(MoEngageError):
    """A request to the MoEngage API failed.

    ``attempts`` is how many times the request was sent before giving up.

    Example::

        except APIError as exc:
            print(exc.attempts)
    """

    attempts: int = 1


class APIConnectionError(APIError):
    """No HTTP response was received (DNS failure, refused or reset connection).

    Example::

        except APIConnectionError:
            schedule_retry_later()
    """


class APITimeoutError(APIConnectionError):
    """The request timed out before a response arrived.

    Example::

        AsyncClient(timeout=5.0)  # requests slower than 5 s raise APITimeoutError
    """


class UnexpectedResponseError(APIError):
    """A success response lacked what the API documents (for example a segment without an id).

    Example::

        except UnexpectedResponseError:
            log.error("MoEngage answered without a segment; retry later")
    """


class APIStatusError(APIError):
    """The service answered with an error status; the fields come from its error body.

    The three error envelopes of the API (v2 file/manage segments, v3 filter segments and cohort sync)
    are all read into the same fields:

    - ``status``: the HTTP status code.
    - ``code``: v2 ``title``, v3 ``error.code`` or cohort ``error.type``.
    - ``message``: v2 ``description``, v3/cohort ``error.message``.
    - ``attribute``: the cohort ``error.attribute`` when the error concerns one field.
    - ``request_id``: the cohort ``error.request_id`` or the v3 ``response_id``.
    - ``details``: any further keys of the error object (for example ``actual_count``).

    Example::

        except APIStatusError as exc:
            print(exc.status, exc.code, exc.message, exc.request_id)
    """

    def __init__(
        self,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        attribute: str | None = None,
        request_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.attribute = attribute
        self.request_id = request_id
        self.details: dict[str, Any] = dict(details or {})
        self.method = method
        self.path = path
        super().__init__(self._summary())

    @property
    def type(self) -> str | None:
        """The error ``type`` of a cohort-sync error (same value as ``code``).

        Example::

            except APIStatusError as exc:
                assert exc.type == exc.code  # e.g. "Payload too large"
        """
        return self.code

    @property
    def response_id(self) -> str | None:
        """The v3 ``response_id`` (same value as ``request_id``).

        Example::

            except APIStatusError as exc:
                log.error("MoEngage response %s failed", exc.response_id)
        """
        return self.request_id

    def _summary(self) -> str:
        where = f"{self.method} {self.path} -> " if self.method and self.path else ""
        parts = [f"{where}HTTP {self.status}"]
        if self.code:
            parts.append(self.code)
        text = ": ".join(parts)
        if self.message:
            text += f" - {self.message}"
        if self.attribute:
            text += f" (attribute: {self.attribute})"
        if self.request_id:
            text += f" [request_id={self.request_id}]"
        return text


class BadRequestError(APIStatusError):
    """HTTP 400: the request was malformed or failed the service's validation.

    Example::

        except BadRequestError as exc:
            print(exc.attribute, exc.message)
    """


class AuthenticationError(APIStatusError):
    """HTTP 401: the workspace ID or API key was rejected.

    Example::

        except AuthenticationError:
            sys.exit("check MOENGAGE_WORKSPACE_ID and MOENGAGE_API_KEY")
    """


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the operation is forbidden, or the account is suspended or blocked.

    Example::

        except PermissionDeniedError as exc:
            if exc.account_suspended:
                page_the_account_manager()
    """

    @property
    def account_suspended(self) -> bool:
        """True when the 403 says the account is suspended or blocked (not a per-segment refusal).

        Example::

            except PermissionDeniedError as exc:
                if exc.account_suspended:
                    alert_account_manager()
        """
        text = f"{self.code or ''} {self.message or ''}".lower()
        return "suspended" in text or "blocked" in text


class NotFoundError(APIStatusError):
    """HTTP 404: the segment does not exist.

    Example::

        except NotFoundError:
            segment = None
    """


class ConflictError(APIStatusError):
    """HTTP 409: the name, or (for filter segments) the definition, is already used.

    ``existing_segment_id`` and ``existing_segment_name`` are set when the service names the segment
    that already has this definition.

    Example::

        except ConflictError as exc:
            segment_id = exc.existing_segment_id
    """

    @property
    def existing_segment_id(self) -> str | None:
        """The id of the existing segment, when the 409 names it (``existing_cs_id``).

        Example::

            except ConflictError as exc:
                segment_id = exc.existing_segment_id or (await client.segments.find(name)).id
        """
        value = self.details.get("existing_cs_id")
        return str(value) if value is not None else None

    @property
    def existing_segment_name(self) -> str | None:
        """The name of the existing segment, when the 409 names it (``existing_cs_name``).

        Example::

            except ConflictError as exc:
                print(f"same definition as {exc.existing_segment_name!r}")
        """
        value = self.details.get("existing_cs_name")
        return str(value) if value is not None else None


class PreconditionFailedError(APIStatusError):
    """HTTP 412: the segment definition references itself through other segments ("Cyclic Entity").

    Example::

        except PreconditionFailedError:
            print("segment A references B which references A")
    """


class PayloadTooLargeError(APIStatusError):
    """HTTP 413: the body is over the size cap, or a filter is nested or referenced too deeply.

    Example::

        except PayloadTooLargeError as exc:
            print(exc.code)  # "Query has too many nesting levels", "Payload too large", ...
    """


class UnsupportedMediaTypeError(APIStatusError):
    """HTTP 415: the request's content type was not accepted.

    Example::

        except UnsupportedMediaTypeError:
            ...
    """


class RateLimitError(APIStatusError):
    """HTTP 429: a rate limit or the active-segment cap was hit.

    ``retry_after`` is the number of seconds the service asked us to wait, when it said so.
    ``actual_count`` and ``limit`` are set when the 429 is the 1000-active-segments cap.

    Example::

        except RateLimitError as exc:
            await asyncio.sleep(exc.retry_after or 60)
    """

    retry_after: float | None = None

    @property
    def active_segment_cap(self) -> bool:
        """True when this 429 is the 1000-active-segments cap, which waiting does not lift (never retried).

        Example::

            except RateLimitError as exc:
                if exc.active_segment_cap:
                    await client.segments.archive("an-old-campaign")
        """
        if self.actual_count is not None or self.limit is not None:
            return True
        return "active segments" in (self.message or "").lower()

    @property
    def actual_count(self) -> int | None:
        """The number of active segments, for the active-segment cap variant.

        Example::

            except RateLimitError as exc:
                if exc.actual_count is not None:
                    print(f"{exc.actual_count} of {exc.limit} active segments: archive some")
        """
        value = self.details.get("actual_count")
        return int(value) if isinstance(value, (int, float)) else None

    @property
    def limit(self) -> int | None:
        """The active-segment limit, for the active-segment cap variant (1000 by default).

        Example::

            except RateLimitError as exc:
                print(exc.limit)
        """
        value = self.details.get("limit")
        return int(value) if isinstance(value, (int, float)) else None


class ServerError(APIStatusError):
    """HTTP 5xx: the service failed (after the retries the policy allowed).

    Example::

        except ServerError as exc:
            print(exc.status, exc.attempts)
    """


class CohortSyncError(MoEngageError):
    """A cohort push with ``on_error="raise"`` stopped at a failed batch.

    ``report`` holds what was accepted, failed and not sent; ``cause`` the underlying error.

    Example::

        try:
            await client.cohorts.add_members(cohort, uids, on_error="raise")
        except CohortSyncError as exc:
            print(exc.report.failed)
    """

    def __init__(self, message: str, report: Any) -> None:
        self.report = report
        super().__init__(message)


class CheckpointError(MoEngageError, ValueError):
    """The checkpoint journal cannot be used: damaged, or written by a run with other input or settings.

    Example::

        try:
            await client.cohorts.add_members(cohort, uids, checkpoint="push.journal")
        except CheckpointError as exc:
            print(exc)  # says which line or which batch does not match
    """


class QuotaStoreError(MoEngageError):
    """The quota store cannot be used: its SQLite file is corrupt, locked too long, or cannot be opened.

    The message names the file. (A Redis store never raises this: when Redis fails, the client paces
    itself locally and keeps pushing.)

    Example::

        try:
            await client.cohorts.add_members(cohort, uids)
        except QuotaStoreError as exc:
            print(exc)  # quota store file '/var/lib/app/quota.db' is not a usable SQLite database ...
    """


class LedgerError(MoEngageError):
    """The membership ledger of ``cohorts.sync`` cannot be used: a newer schema, a storage failure, a lost lock.

    Example::

        try:
            await client.cohorts.sync(cohort, uids, ledger=SQLiteLedger("cohorts.db"))
        except LedgerError as exc:
            print(exc)  # names the ledger and what is wrong
    """


class LedgerLockedError(LedgerError):
    """Another run holds the lock of this cohort's ledger record (two syncs of one cohort never overlap).

    ``holder`` describes the run holding it (host, process id, since when, last heartbeat).

    Example::

        try:
            await client.cohorts.sync(cohort, uids, ledger=ledger, lock_timeout=0)
        except LedgerLockedError as exc:
            print("busy:", exc.holder)
    """

    def __init__(self, message: str, holder: str) -> None:
        self.holder = holder
        super().__init__(message)


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    429: RateLimitError,
}


def error_for_status(status: int) -> type[APIStatusError]:
    """Return the exception class for an HTTP error status.

    Example::

        assert error_for_status(409) is ConflictError
    """
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIStatusError)


def one_line(what: str | BaseException) -> str:
    """``what`` on one line with runs of whitespace collapsed; an exception without a message gives its type.

    Example::

        one_line("bad\\n  value")        # "bad value"
        one_line(TimeoutError())        # "TimeoutError"
    """
    text = " ".join(str(what).split())
    return text or (type(what).__name__ if isinstance(what, BaseException) else "")
