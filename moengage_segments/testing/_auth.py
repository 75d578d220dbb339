"""Authentication per endpoint family: Basic auth plus the MOE-APPKEY / MOE-DBNAME rules.

* every family: ``Authorization: Basic base64(workspace_id:api_key)``; missing → 401, unknown workspace
  or wrong key → 401 in the family's envelope;
* v3 (filter): ``MOE-APPKEY`` (workspace id) or ``MOE-DBNAME`` must name the workspace, else 400
  "MoEngage Client not found..."; a MOE-APPKEY for another workspace than the Basic user → 401;
* v2 (file, manage): ``MOE-DBNAME`` must be the workspace's db name (400 otherwise); both revisions of
  the spec mark it required. ``optional_db_name=True`` (not with ``strict``) accepts calls without it,
  as older pages describe;
* cohort: ``MOE-APPKEY`` must equal the Basic-auth username, else 401 "App key mismatch...".

Example::

    ws = authenticate(core, request, "filter")
"""

from __future__ import annotations

import base64
import binascii
import hmac

from aiohttp import web

from moengage_segments.testing import _errors as E
from moengage_segments.testing._core import Core
from moengage_segments.testing._errors import Family, Reject
from moengage_segments.testing._state import Workspace

__all__ = ["authenticate", "basic_credentials", "credentials_valid"]


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    """``(username, password)`` from a Basic ``Authorization`` header, or None.

    Example::

        basic_credentials(request)  # ('ws', 'key')
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def credentials_valid(core: Core, request: web.Request) -> bool:
    """True when the Basic credentials name a workspace and its key (the header rules come later).

    Example::

        if credentials_valid(core, request): body = await request.read()
    """
    credentials = basic_credentials(request)
    if credentials is None:
        return False
    ws = core.workspace_for_id(credentials[0])
    return ws is not None and hmac.compare_digest(credentials[1].encode(), ws.api_key.encode())


def _unauthorized(family: Family, message: str, cohort_type: str = "Authentication required") -> Reject:
    if family == "cohort":
        return Reject(E.cohort_error(401, cohort_type, message), message)
    if family == "filter":
        return Reject(E.v3_error(401, "Authentication required", message), message)
    return Reject(E.v2_error(401, "Authentication required", message), message)


def authenticate(core: Core, request: web.Request, family: Family) -> Workspace:
    """Return the workspace the request is for, or raise :class:`Reject` with the documented error.

    Example::

        ws = authenticate(core, request, "cohort")
    """
    target: Workspace | None = None
    if family == "filter":
        app_key = request.headers.get("MOE-APPKEY")
        db_name = request.headers.get("MOE-DBNAME")
        target = core.workspace_for_id(app_key) if app_key else core.workspace_for_db(db_name)
        if target is None:
            raise Reject(E.v3_error(400, "Request Error", E.CLIENT_NOT_FOUND), "unknown MOE-APPKEY/MOE-DBNAME")
    credentials = basic_credentials(request)
    if credentials is None:
        raise _unauthorized(family, E.AUTH_HEADER_REQUIRED)
    user, password = credentials
    ws = core.workspace_for_id(user)
    if ws is None:
        # Each family's documented text: v2 has only the key-mismatch example (current spec, preferred
        # over the older revision's "Invalid Workspace ID or API key..."); v3 has "Invalid APP_KEY...".
        if family == "cohort":
            message = E.COHORT_APP_SECRET
        elif family == "filter":
            message = E.V3_INVALID_APP_KEY
        else:
            message = E.V2_AUTH_SECRET
        raise _unauthorized(family, message)
    if password != ws.api_key:
        message = E.COHORT_APP_SECRET if family == "cohort" else E.V2_AUTH_SECRET
        raise _unauthorized(family, message)
    if family == "filter" and target is not ws:
        raise _unauthorized(family, E.V3_INVALID_APP_KEY)
    if family == "cohort" and request.headers.get("MOE-APPKEY") != user:
        # A missing MOE-APPKEY is treated as a mismatch (the header is required).
        raise _unauthorized(family, E.COHORT_APP_KEY_MISMATCH, "Authentication Mismatch")
    if family in ("file", "manage"):
        db_name = request.headers.get("MOE-DBNAME")
        required = core.config.strict or not core.config.optional_db_name
        if (db_name is not None and db_name != ws.db_name) or (db_name is None and required):
            raise Reject(E.v2_error(400, "Invalid request", E.CLIENT_NOT_FOUND), "bad MOE-DBNAME")
    return ws
