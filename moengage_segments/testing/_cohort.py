"""Handler of ``POST /v1/integrations/cohortsync``: the fast path benchmarks push millions of uids through.

Per request: one ``json.loads``, one list comprehension to pull the uids, one set operation. Membership
changes are applied before the 200 is sent, so tests can observe them at once.

Assumptions (undocumented): a cohort is keyed by ``cohort_id``; its segment is named after the latest
``cohort_name``; ``remove_members`` on an unknown cohort is a no-op; a push to an archived cohort starts a
new segment (archived cohorts cannot be unarchived).

Example::

    POST /v1/integrations/cohortsync
    {"action": "add_members", "partner": "warehouse",
     "parameters": {"cohort_id": "c1", "cohort_name": "Churn risk", "members": [{"uid": "u1"}]}}
    -> 200 {"status": "success", "message": "Your request has been accepted and will be processed soon."}
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from moengage_segments.testing import _errors as E
from moengage_segments.testing._core import BODY_KEY, Core
from moengage_segments.testing._errors import Reject, cohort_error
from moengage_segments.testing._state import Workspace, _Segment

__all__ = ["cohort_sync"]

_SUCCESS = json.dumps(
    {"status": "success", "message": "Your request has been accepted and will be processed soon."},
    separators=(",", ":"),
).encode()
_RESTRICTED = set('|*?\\:<>=$"')


def _missing(attribute: str) -> Reject:
    message = f"{attribute} is not found in the payload"
    return Reject(cohort_error(400, "MissingAttributeError", message, attribute), message)


def _invalid(attribute: str, message: str) -> Reject:
    return Reject(cohort_error(400, "InvalidAttributeError", message, attribute), message)


def _cohort_segment(core: Core, ws: Workspace, params: dict[str, Any], partner: str) -> _Segment:
    cohort_id = params["cohort_id"]
    segment = ws.cohorts.get(cohort_id)
    if segment is None or segment.status == "archived":
        active = ws.active_count()
        if active >= core.config.max_active_segments:
            raise Reject(cohort_error(429, "Rate Limits Exceeded", E.ACTIVE_LIMIT), "active segment cap")
        segment = ws.add_segment(_Segment(name=params["cohort_name"], kind="cohort", cohort_id=cohort_id))
        ws.cohorts[cohort_id] = segment
    segment.name = params["cohort_name"]
    segment.partner = partner
    segment.description = params.get("cohort_description") or f"Cohort synced from {partner}"
    return segment


async def cohort_sync(core: Core, request: web.Request, ws: Workspace) -> web.Response:
    """``POST /v1/integrations/cohortsync``.

    Example::

        await cohort_sync(core, request, ws)
    """
    if request.content_type != "application/json":
        raise Reject(cohort_error(415, "Unsupported media type", E.COHORT_MEDIA_TYPE), "content type")
    body: bytes = request[BODY_KEY]
    if len(body) > core.config.max_cohort_body_bytes:
        raise Reject(cohort_error(413, "Payload too large", E.COHORT_TOO_LARGE), f"{len(body)} bytes")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep to parse
        raise Reject(cohort_error(400, "Malformed JSON", E.COHORT_MALFORMED), "malformed JSON") from exc
    if not isinstance(payload, dict):
        raise Reject(cohort_error(400, "Malformed JSON", E.COHORT_MALFORMED), "not an object")
    action = payload.get("action")
    if action is None:
        raise _missing("action")
    if action not in ("add_members", "remove_members"):
        raise _invalid("action", "action must be one of add_members, remove_members")
    partner = payload.get("partner")
    if partner is None:
        raise _missing("partner")
    if not isinstance(partner, str) or not partner.strip():
        raise _invalid("partner", "partner must be a non-empty string")
    params = payload.get("parameters")
    if params is None:
        raise _missing("parameters")
    if not isinstance(params, dict):
        raise _invalid("parameters", "parameters must be an object")
    for key in ("cohort_id", "cohort_name", "members"):
        if key not in params:
            raise _missing(key)
    for key in ("cohort_id", "cohort_name"):
        if not isinstance(params[key], str) or not params[key].strip():
            raise _invalid(key, f"{key} must be a non-empty string")
    description = params.get("cohort_description")
    if "cohort_description" in params and not isinstance(description, str):
        # The schema says string (a null included: only an absent key means "no description").
        raise _invalid("cohort_description", "cohort_description must be a string")
    name = params["cohort_name"]
    if _RESTRICTED.intersection(name) or (core.config.strict and name.startswith(".")):
        raise _invalid("cohort_name", "cohort_name contains restricted characters")
    members = params["members"]
    if not isinstance(members, list):
        raise _invalid("members", "members must be a list")
    try:
        uids = [member["uid"] for member in members]
    except (TypeError, KeyError) as exc:
        raise _missing("uid") from exc
    # C-level type check: one pass over the types, no Python loop per uid.
    if uids and not set(map(type, uids)) <= {str}:
        raise _invalid("uid", "uid must be a string")
    if action == "add_members":
        segment = _cohort_segment(core, ws, params, partner)
        segment.members.update(uids if core.config.accept_any_uid else ws.users.intersection(uids))
        segment.touch()
    else:
        existing = ws.cohorts.get(params["cohort_id"])
        if existing is not None and existing.status == "active":
            existing.members.difference_update(uids)
            existing.touch()
    return web.Response(status=200, body=_SUCCESS, content_type="application/json")
