"""Settings, data centres, retry and rate-limit policies, and the environment fallbacks.

Everything here is plain, frozen data: the transport reads it, nothing in it performs I/O.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from typing import NoReturn, SupportsIndex
from urllib.parse import urlsplit

import attrs

from moengage_segments.errors import ConfigurationError

__all__ = [
    "DATA_CENTERS",
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_RETRY",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_DATA_CENTER",
    "ENV_DB_NAME",
    "ENV_QUOTA_URL",
    "ENV_WORKSPACE_ID",
    "NoPickle",
    "RateLimits",
    "RetryPolicy",
    "Settings",
    "Window",
    "check_client_options",
    "describe_value",
    "is_loopback",
    "normalize_data_center",
]

ENV_WORKSPACE_ID = "MOENGAGE_WORKSPACE_ID"
ENV_API_KEY = "MOENGAGE_API_KEY"
ENV_DATA_CENTER = "MOENGAGE_DATA_CENTER"
ENV_BASE_URL = "MOENGAGE_BASE_URL"
ENV_DB_NAME = "MOENGAGE_DB_NAME"
ENV_QUOTA_URL = "MOENGAGE_QUOTA_URL"

DATA_CENTERS: Mapping[str, str] = {
    "01": "https://api-01.moengage.com",
    "02": "https://api-02.moengage.com",
    "03": "https://api-03.moengage.com",
    "04": "https://api-04.moengage.com",
    "05": "https://api-05.moengage.com",
    "06": "https://api-06.moengage.com",
    "101": "https://api-101.moengage.com",
}
"""Data centre code -> REST API host, as documented on the API introduction page.

Example::

    DATA_CENTERS["01"]  # "https://api-01.moengage.com"
"""

# ASCII only: \d would also take Arabic-Indic or full-width digits ('٠١'), which are no data centre.
_DC_PATTERN = re.compile(r"(?:dc[-_ ]?)?0*([0-9]{1,3})", re.IGNORECASE | re.ASCII)


def normalize_data_center(value: str | int) -> str:
    """Return the canonical data-centre code (``"01"``..``"06"``, ``"101"``).

    Accepts ``1``, ``"1"``, ``"01"``, ``"dc-01"``, ``"DC1"`` and the like.

    Example::

        assert normalize_data_center("dc-02") == "02"
        assert normalize_data_center(101) == "101"
    """
    text = str(value).strip(" ") if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    match = _DC_PATTERN.fullmatch(text) if text is not None else None
    if match:
        number = int(match.group(1))
        code = f"{number:02d}" if number < 100 else str(number)
        if code in DATA_CENTERS:
            return code
    allowed = ", ".join(DATA_CENTERS)
    # Echo the value only when it has the shape of a data centre ('07', 'dc-99'): anything else may be the
    # API key given in the wrong place (swapped arguments, MOENGAGE_DATA_CENTER), so only its length is told.
    shown = repr(value) if match else describe_value(value)
    raise ConfigurationError(f"unknown data centre {shown}; expected one of {allowed} (e.g. 1, '01', 'dc-01')")


def describe_value(value: object) -> str:
    """A description of a rejected value that never repeats a string: its type, and its length.

    Used for values that may be a secret put in the wrong place (an API key as the data centre).

    Example::

        describe_value("sk-live-abc")  # 'a str of 11 characters'
        describe_value(None)           # 'None'
    """
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return f"a str of {len(value)} characters"
    return f"a {type(value).__name__}"


@attrs.frozen
class Window:
    """A rate-limit window: at most ``limit`` requests in any ``period`` seconds.

    Example::

        Window(300, 60.0)  # 300 requests a minute
    """

    limit: int = attrs.field(validator=attrs.validators.gt(0))
    period: float = attrs.field(converter=float, validator=attrs.validators.gt(0))


def _windows(*pairs: tuple[int, float]) -> tuple[Window, ...]:
    return tuple(Window(limit, period) for limit, period in pairs)


_MIN, _HOUR, _DAY = 60.0, 3600.0, 86400.0


@attrs.frozen
class RateLimits:
    """Client-side rate limits per endpoint family, the documented windows by default.

    Every task and thread using a client shares these limits. An empty tuple means "unlimited".
    Pass ``rate_limits=None`` to the client to turn all of them off (for the emulator or benchmarks).

    Example::

        limits = RateLimits(cohort=(Window(150, 60),))       # stay at half the cohort quota
        fast = RateLimits().scaled(1 / 60)                    # a "minute" lasts a second (emulator)
    """

    #: ``POST /v1/integrations/cohortsync``: 300 requests a minute.
    cohort: tuple[Window, ...] = _windows((300, _MIN))
    #: ``GET /v3/custom-segments``: 50/min, 200/hour, 1000/day.
    list: tuple[Window, ...] = _windows((50, _MIN), (200, _HOUR), (1000, _DAY))
    #: ``POST /v3/custom-segments``: 50/min, 200/hour, 1000/day.
    create: tuple[Window, ...] = _windows((50, _MIN), (200, _HOUR), (1000, _DAY))
    #: ``GET /v3/custom-segments/{id}``: 100/min, 1000/hour, 4000/day.
    get: tuple[Window, ...] = _windows((100, _MIN), (1000, _HOUR), (4000, _DAY))
    #: File-segment create/add/remove/replace: 10 an hour, 100 a day (replace counted too, to be safe).
    file_ops: tuple[Window, ...] = _windows((10, _HOUR), (100, _DAY))
    #: ``PATCH /v3/custom-segments/{id}``: no documented limit.
    update: tuple[Window, ...] = ()
    #: Archive and unarchive: no documented limit.
    manage: tuple[Window, ...] = ()
    #: Seconds added to each window so that requests still in flight cannot overrun the server's window.
    margin: float = 0.25

    def for_family(self, family: str) -> tuple[Window, ...]:
        """Return the windows of one limiter family (``"cohort"``, ``"list"``, ...).

        Example::

            assert RateLimits().for_family("cohort") == (Window(300, 60.0),)
        """
        windows: tuple[Window, ...] = getattr(self, family)
        return windows

    def scaled(self, factor: float) -> RateLimits:
        """Return these limits with every period (and the margin) multiplied by ``factor``.

        Example::

            RateLimits().scaled(1 / 60).cohort  # 300 requests a second
        """

        def scale(windows: tuple[Window, ...]) -> tuple[Window, ...]:
            return tuple(Window(w.limit, w.period * factor) for w in windows)

        return RateLimits(
            cohort=scale(self.cohort),
            list=scale(self.list),
            create=scale(self.create),
            get=scale(self.get),
            file_ops=scale(self.file_ops),
            update=scale(self.update),
            manage=scale(self.manage),
            margin=self.margin * factor,
        )

    @classmethod
    def families(cls) -> tuple[str, ...]:
        """Names of the limiter families.

        Example::

            assert "cohort" in RateLimits.families()
        """
        return tuple(a.name for a in attrs.fields(cls) if a.name != "margin")


@attrs.frozen
class RetryPolicy:
    """How failed requests are retried.

    Connection errors, timeouts, 5xx and 429 are retried; 400/401/403/404/409/412/413/415 never are.
    Waits grow exponentially from ``base`` up to ``cap`` seconds, with full jitter when ``jitter`` is
    true. A 429 waits for ``Retry-After`` or ``x-ratelimit-reset`` when the service sends them, otherwise
    backs off up to ``rate_limit_cap`` (one rate window). ``rate_limit_cap`` is also the longest a call
    waits for the client-side limiter: a slot further away (the 11th file operation in an hour, say)
    raises :class:`RateLimitError` with ``retry_after`` at once instead of parking the call. ``deadline``
    bounds the total time spent on one call, all waits included. ``RetryPolicy.none()`` disables retries.

    Example::

        AsyncClient(retry=RetryPolicy(max_attempts=8, cap=10.0, deadline=120.0))
    """

    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    base: float = attrs.field(default=0.5, converter=float, validator=attrs.validators.ge(0))
    cap: float = attrs.field(default=30.0, converter=float, validator=attrs.validators.ge(0))
    jitter: bool = True
    deadline: float | None = None
    rate_limit_cap: float = attrs.field(default=60.0, converter=float, validator=attrs.validators.ge(0))

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries.

        Example::

            AsyncClient(retry=RetryPolicy.none())
        """
        return cls(max_attempts=1)


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP addresses (where plain http is acceptable).

    Example::

        assert is_loopback("127.0.0.1") and not is_loopback("api-01.moengage.com")
    """
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_client_options(
    *, timeout: object, retry: object, rate_limits: object, max_connections: object, allow_insecure_http: object
) -> None:
    """Refuse client options of the wrong type or range at construction, naming the option.

    Without this, ``timeout="30"`` or ``retry=None`` failed later with a ``TypeError`` or
    ``AttributeError``, and ``timeout=float("inf")`` with an ``OverflowError`` at the first request.

    Example::

        check_client_options(timeout=30.0, retry=RetryPolicy(), rate_limits=None, max_connections=64,
                             allow_insecure_http=False)
    """
    if not _is_number(timeout) or not 0 < float(timeout) < _MAX_TIMEOUT:  # type: ignore[arg-type]
        raise ConfigurationError(
            f"timeout must be a finite number of seconds greater than 0, got {describe_value(timeout)}"
        )
    if not isinstance(retry, RetryPolicy):
        raise ConfigurationError(
            f"retry must be a RetryPolicy (RetryPolicy.none() to turn retries off), got {describe_value(retry)}"
        )
    if rate_limits is not None and not isinstance(rate_limits, RateLimits):
        raise ConfigurationError(
            f"rate_limits must be a RateLimits or None (no client-side limits), got {describe_value(rate_limits)}"
        )
    if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
        raise ConfigurationError(
            f"max_connections must be a whole number of at least 1, got {describe_value(max_connections)}"
        )
    if not isinstance(allow_insecure_http, bool):
        raise ConfigurationError(
            f"allow_insecure_http must be True or False, got {describe_value(allow_insecure_http)}"
        )


#: A timeout longer than this (about 31 years) is a mistake; asyncio cannot schedule ``inf``.
_MAX_TIMEOUT = 1e9


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_base_url(url: str, allow_insecure_http: bool) -> str:
    if not isinstance(url, str):
        raise ConfigurationError(f"base_url must be a string URL, got {describe_value(url)}")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        # Not echoed: the URL holds a secret. Credentials travel in the Authorization header only.
        raise ConfigurationError("base_url must not contain credentials (user:password@); pass api_key instead")
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in url:
        # Not echoed: a malformed URL may hold the key ("https:KEY@host" has no netloc, so no user-info).
        raise ConfigurationError(
            f"base_url must be an absolute http(s) URL such as https://host[:port][/path], without '@'; "
            f"got {describe_value(url)}"
        )
    try:
        parts.port  # noqa: B018  # parsed on access: raises ValueError for a port that is not a number
        bad_port = False
    except ValueError:
        bad_port = True
    if bad_port:
        # Not echoed: "https://host:KEY" puts the key where the port goes. Raised outside the except block
        # so that urllib's ValueError, which repeats the port, is not kept as the error's context.
        raise ConfigurationError(
            f"base_url must have no port or a number from 0 to 65535 as its port; got {describe_value(url)}"
        )
    if parts.query or parts.fragment or "?" in url or "#" in url:
        # Not echoed either: a query may hold a secret, and it would be glued to every request path.
        raise ConfigurationError(f"base_url must not have a query or a fragment ('?', '#'); got {describe_value(url)}")
    if parts.scheme == "http" and not (allow_insecure_http or is_loopback(parts.hostname)):
        raise ConfigurationError(
            f"refusing plain-http base_url (host {parts.hostname!r}): the API key would travel unencrypted. "
            "Use https, a loopback host (emulator), or pass allow_insecure_http=True"
        )
    return url.rstrip("/")


class NoPickle:
    """Refuses to be pickled (or copied): the object holds the API key, which must not travel in a pickle.

    A pickled client carried the key and the Basic token in clear to wherever the bytes went (a cache, a
    task queue, another process). Create a client in each process from the same configuration instead.

    Example::

        pickle.dumps(AsyncClient(...))  # TypeError: cannot pickle AsyncClient: ...
    """

    __slots__ = ()

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        raise TypeError(
            f"cannot pickle {type(self).__name__}: it holds the MoEngage API key. Create a client in each "
            "process from the same arguments or MOENGAGE_* variables instead"
        )


@attrs.frozen
class Settings(NoPickle):
    """Resolved connection settings of one client. The API key never appears in ``repr()``.

    Build it with :meth:`Settings.resolve`, which applies the environment fallbacks.

    Example::

        settings = Settings.resolve(workspace_id="ws", api_key="key", data_center="dc-01")
        assert settings.base_url == "https://api-01.moengage.com"
    """

    workspace_id: str
    api_key: str = attrs.field(repr=False)
    base_url: str
    db_name: str | None = None
    data_center: str | None = None

    @classmethod
    def resolve(
        cls,
        workspace_id: str | None = None,
        api_key: str | None = None,
        data_center: str | int | None = None,
        *,
        base_url: str | None = None,
        db_name: str | None = None,
        allow_insecure_http: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Combine explicit arguments with ``MOENGAGE_*`` environment variables; arguments win.

        Every explicit argument beats every variable: ``data_center=`` beats ``MOENGAGE_BASE_URL`` too
        (``base_url=`` beats ``data_center=``; between variables, ``MOENGAGE_BASE_URL`` beats
        ``MOENGAGE_DATA_CENTER``).

        Raises :class:`ConfigurationError` naming everything that is missing and where it was looked for.

        Example::

            os.environ["MOENGAGE_API_KEY"] = "..."
            Settings.resolve(workspace_id="ws", data_center=1)
        """
        env = os.environ if environ is None else environ
        workspace_id = workspace_id or env.get(ENV_WORKSPACE_ID) or None
        api_key = api_key or env.get(ENV_API_KEY) or None
        dc_value: str | int | None = data_center if data_center not in (None, "") else env.get(ENV_DATA_CENTER)
        # An explicit data centre beats MOENGAGE_BASE_URL: someone who exported the emulator's URL and
        # now asks for data centre 01 must reach data centre 01. An explicit base_url still beats both.
        explicit_dc = data_center not in (None, "")
        base_url = base_url or (None if explicit_dc else env.get(ENV_BASE_URL)) or None
        db_name = db_name or env.get(ENV_DB_NAME) or None

        missing = []
        if not workspace_id:
            missing.append(f"workspace_id (argument or {ENV_WORKSPACE_ID})")
        if not api_key:
            missing.append(f"api_key (argument or {ENV_API_KEY})")
        if not base_url and dc_value in (None, ""):
            missing.append(f"data_center (argument or {ENV_DATA_CENTER}) or base_url (argument or {ENV_BASE_URL})")
        if missing:
            raise ConfigurationError("missing MoEngage configuration: " + "; ".join(missing))
        assert workspace_id is not None and api_key is not None  # narrowed by the checks above

        dc = normalize_data_center(dc_value) if dc_value not in (None, "") else None
        url = base_url or DATA_CENTERS[dc or "01"]
        return cls(
            workspace_id=_check_text("workspace_id", ENV_WORKSPACE_ID, workspace_id),
            api_key=_check_text("api_key", ENV_API_KEY, api_key),
            base_url=_check_base_url(url, allow_insecure_http),
            db_name=None if db_name is None else _check_text("db_name", ENV_DB_NAME, db_name),
            data_center=dc,
        )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_text(field: str, env_name: str, value: object) -> str:
    """A credential or header value as given, or a ConfigurationError naming it (never repeating it)."""
    if not isinstance(value, str):
        # str() would quietly send "b'...'" for bytes, or "**********" for a pydantic SecretStr.
        raise ConfigurationError(f"{field} (argument or {env_name}) must be a str, got {describe_value(value)}")
    if value != value.strip() or _CONTROL.search(value):
        # A line end read from a file or a CRLF .env file: the key then fails with a puzzling 401, and the
        # workspace id or db name with a ValueError from the HTTP library at the first request.
        raise ConfigurationError(
            f"{field} (argument or {env_name}) must not contain control characters or start or end with "
            f"whitespace (a line break read from a file?); got {describe_value(value)}"
        )
    return value


#: The default retry policy of a client.
DEFAULT_RETRY = RetryPolicy()
#: The default (documented) rate limits of a client.
DEFAULT_RATE_LIMITS = RateLimits()
#: Default maximum size of one cohort-sync request body, envelope included (the service caps at 128 KB).
DEFAULT_MAX_REQUEST_BYTES = 128_000
