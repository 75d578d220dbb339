"""The three error envelopes of the API, with the vendor's example texts.

v2 (file and manage segments)::

    {"title": "Invalid request", "description": "..."}

v3 (filter segments)::

    {"response_id": "xFyVHeOr", "type": "custom_segment", "error": {"code": "...", "message": "..."}}

cohort sync::

    {"status": "fail", "error": {"attribute": "action", "message": "...", "type": "...", "request_id": "..."}}

Handlers raise :class:`Reject` with a ready response; the server middleware turns it into the reply.

Example::

    raise Reject(v3_error(404, "Entity Not Found", f"Custom segment not found with the given id: {sid}"))
"""

from __future__ import annotations

import json
from typing import Any, Literal

from aiohttp import web

from moengage_segments.testing._ids import new_response_id

__all__ = [
    "Family",
    "Reject",
    "account_suspended_error",
    "cohort_error",
    "family_error",
    "json_response",
    "v2_error",
    "v3_error",
]

Family = Literal["file", "manage", "filter", "cohort"]

# Texts copied from the vendor's OpenAPI examples (custom-segments.json, cohort-audience.json).
V2_AUTH_SECRET = "APP_SECRET key mismatch. Please login to the dashboard to verify key"
V3_INVALID_APP_KEY = "Invalid APP_KEY used in Authentication Header"
AUTH_HEADER_REQUIRED = "Authentication Header Required"
CLIENT_NOT_FOUND = "MoEngage Client not found. Please check values for headers - MOE-APPKEY or MOE-DBNAME"
V3_INVALID_FORMAT = (
    "Invalid request format. Please check the documentation to ensure that the request has been formed correctly."
)
V3_INVALID_FILTERS = (
    "Invalid request. Please ensure that the filters are correct and the custom-segment name doesn't "
    "contain HTML characters/only whitespaces."
)
V3_INVALID_BSON = "Invalid bson object-id passed in the request"
V3_FORBIDDEN = (
    "Update isn't supported for file-segments, internally created custom-segments, custom-segments "
    "imported from Analyze and archived custom-segments."
)
V3_CYCLE = "Circular reference detected in the custom segment definition."
ACTIVE_LIMIT = "Total active segments limit breached. Request rejected!"
SERVER_ERROR = "An unexpected error was encountered while processing this request. Please contact MoEngage Team"
FILE_OPS_LIMIT = "File segment operations limit breached. Please retry after some time."
COHORT_RATE = "Rate limits for customers exceeded. Please Try After Some Time"
COHORT_APP_SECRET = "App Secret key mismatch. Please login to the dashboard to verify key"
COHORT_APP_KEY_MISMATCH = "App key mismatch in params and authentication"
COHORT_MALFORMED = "Could not decode the request body. The JSON was incorrect or not encoded as UTF-8."
COHORT_TOO_LARGE = "Payload can not exceed 128KB"
COHORT_MEDIA_TYPE = "Content type is not supported"
# The documented cohort-sync 403 examples: variant -> (type, message).
SUSPENSIONS = {
    "suspended": ("Account Suspended", "Your account is suspended. Please contact MoEngage team."),
    "temporarily_suspended": (
        "Account Temporarily Suspended",
        "Your account is temporarily suspended. Please contact MoEngage team.",
    ),
    "blocked": ("BlockedClient", "Your account is suspended. Please contact MoEngage team."),
}

_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class Reject(Exception):
    """Abort request handling and answer with ``response``.

    Example::

        raise Reject(v2_error(404, "Entity Not Found", "Custom segment not found ..."))
    """

    def __init__(self, response: web.Response, detail: str | None = None) -> None:
        super().__init__(detail or f"HTTP {response.status}")
        self.response = response
        self.detail = detail


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response with compact separators (what the service sends).

    Example::

        json_response(200, {"status": "success"})
    """
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
        headers=headers,
    )


def v2_error(status: int, title: str, description: str | None = None) -> web.Response:
    """The v2 ``ApiErrorV2`` envelope; ``description`` is omitted when None (as in the 500 example).

    Example::

        v2_error(409, "Resource not created", "Name already exists: promo")
    """
    body: dict[str, str] = {"title": title}
    if description is not None:
        body["description"] = description
    return json_response(status, body)


def v3_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    """The v3 envelope; ``extra`` adds keys inside ``error`` (``existing_cs_id``, ``actual_count``, ...).

    Example::

        v3_error(412, "Cyclic Entity", "Circular reference detected in the custom segment definition.")
    """
    error: dict[str, Any] = {"code": code, "message": message, **extra}
    return json_response(status, {"response_id": new_response_id(), "type": "custom_segment", "error": error})


def cohort_error(status: int, type_: str, message: str, attribute: str | None = None) -> web.Response:
    """The cohort-sync envelope; ``attribute`` only for attribute-specific errors.

    Example::

        cohort_error(415, "Unsupported media type", "Content type is not supported")
    """
    error: dict[str, str] = {}
    if attribute is not None:
        error["attribute"] = attribute
    error.update(message=message, type=type_, request_id=new_response_id())
    return json_response(status, {"status": "fail", "error": error})


def family_error(family: Family, status: int) -> web.Response:
    """A generic 429 or 5xx body in the envelope of ``family`` (used by rate limits and faults).

    Example::

        family_error("cohort", 503).status  # 503
    """
    if status == 429:
        if family == "cohort":
            return cohort_error(429, "Rate Limits Exceeded", COHORT_RATE)
        if family == "filter":
            return v3_error(429, "Too Many Requests", "API rate limit breached. Current limit: n/m mins")
        return v2_error(429, "Too Many Requests", FILE_OPS_LIMIT)
    reason = _REASONS.get(status, "Internal Server Error")
    if family == "cohort":
        return cohort_error(status, "Server Error", SERVER_ERROR)
    if family == "filter":
        return v3_error(status, reason, SERVER_ERROR)
    return v2_error(status, reason)


def account_suspended_error(family: Family, variant: str = "suspended") -> web.Response:
    """A 403 "account suspended" in the envelope of ``family`` (documented for cohort sync only; the v2
    and v3 families carry the same type and message as their ``title``/``code`` and text).

    Example::

        account_suspended_error("cohort").status  # 403
    """
    type_, message = SUSPENSIONS[variant]
    if family == "cohort":
        return cohort_error(403, type_, message)
    if family == "filter":
        return v3_error(403, type_, message)
    return v2_error(403, type_, message)
