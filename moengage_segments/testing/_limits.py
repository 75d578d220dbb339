"""Sliding-window rate limits per endpoint, with ``x-ratelimit-*`` headers and a time-scale factor.

Each endpoint bucket has a list of windows, the SDK's own :class:`~moengage_segments.Window` ``(limit,
period)``; a request is admitted only when every window has room, and only admitted requests are counted
(a 429 does not extend the wait). ``time_scale`` makes emulated time run faster: with ``time_scale=60`` a
one-minute window lasts one real second.

Example::

    limits = ServerLimits(resolve_rate_limits({"cohort_sync": [(5, 60)]}), time_scale=60)
    decision = limits.check(("ws", "cohort_sync"))
    decision.allowed, decision.headers()
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

import attrs

from moengage_segments.config import RateLimits as ClientRateLimits
from moengage_segments.config import Window

__all__ = [
    "EMULATOR_WINDOWS",
    "FAMILY_BUCKETS",
    "Decision",
    "RateLimitSpec",
    "ServerLimits",
    "Window",
    "resolve_rate_limits",
]

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


# Documented defaults (API notes §2.7). Update, archive and unarchive have no documented limit.
# "file_segment_ops" is one bucket shared by create/add/remove/replace: replace is assumed to count.
EMULATOR_WINDOWS: Mapping[str, tuple[Window, ...]] = {
    "file_segment_ops": (Window(10, HOUR), Window(100, DAY)),
    "list_segments": (Window(50, MINUTE), Window(200, HOUR), Window(1000, DAY)),
    "create_filter_segment": (Window(50, MINUTE), Window(200, HOUR), Window(1000, DAY)),
    "get_segment": (Window(100, MINUTE), Window(1000, HOUR), Window(4000, DAY)),
    "update_filter_segment": (),
    "archive": (),
    "unarchive": (),
    "cohort_sync": (Window(300, MINUTE),),
}
"""The documented rate limits the emulator enforces by default: bucket -> windows (empty: no limit).

Override buckets with ``Emulator(rate_limits={...})``; ``rate_limits=False`` turns every limit off.

Example::

    EMULATOR_WINDOWS["cohort_sync"]  # (Window(limit=300, period=60.0),)
"""

FAMILY_BUCKETS: Mapping[str, tuple[str, ...]] = {
    "cohort": ("cohort_sync",),
    "list": ("list_segments",),
    "create": ("create_filter_segment",),
    "get": ("get_segment",),
    "file_ops": ("file_segment_ops",),
    "update": ("update_filter_segment",),
    "manage": ("archive", "unarchive"),
}
"""The client's rate-limit families (:class:`moengage_segments.RateLimits` fields) -> emulator buckets.

``manage`` sets both ``archive`` and ``unarchive`` (each keeps its own window log in the emulator).

Example::

    FAMILY_BUCKETS["cohort"]  # ("cohort_sync",)
"""

_WindowLike = Window | tuple[int, float]
RateLimitSpec = Mapping[str, Sequence[_WindowLike] | _WindowLike] | ClientRateLimits | bool | None
"""What ``Emulator(rate_limits=...)`` accepts (see :func:`resolve_rate_limits`)."""


def _allowed_keys() -> str:
    buckets = ", ".join(EMULATOR_WINDOWS)
    families = ", ".join(f"{family} (= {'+'.join(FAMILY_BUCKETS[family])})" for family in FAMILY_BUCKETS)
    return f"emulator buckets: {buckets}; client families: {families}"


def _window(key: str, value: object) -> Window:
    if isinstance(value, Window):
        return value
    if (
        isinstance(value, Sequence)
        and not isinstance(value, (str, bytes))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        try:
            return Window(int(value[0]), float(value[1]))
        except ValueError as exc:
            raise ValueError(
                f"rate_limits[{key!r}]: bad window {tuple(value)!r}: limit and period must be > 0 ({exc})"
            ) from None
    raise TypeError(f"rate_limits[{key!r}]: expected Window(limit, period) or a (limit, period) pair, got {value!r}")


def _windows(key: str, value: object) -> tuple[Window, ...]:
    if isinstance(value, Window):
        return (value,)
    if (
        isinstance(value, Sequence)
        and not isinstance(value, (str, bytes))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        return (_window(key, value),)  # one bare (limit, period) pair
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(
            f"rate_limits[{key!r}]: expected a list of Window(limit, period) or (limit, period) "
            f"pairs (empty: no limit), got {value!r}"
        )
    return tuple(_window(key, item) for item in value)


def resolve_rate_limits(spec: RateLimitSpec) -> dict[str, tuple[Window, ...]]:
    """Defaults overridden per bucket by ``spec``; ``False`` disables every limit, ``None``/``True`` = defaults.

    ``spec`` is a mapping or the client's :class:`moengage_segments.RateLimits`. Mapping keys are emulator
    buckets (``"cohort_sync"``) or client families (``"cohort"``); values are windows
    (:class:`moengage_segments.Window` or ``(limit, period)`` pairs). A ``RateLimits`` sets every bucket
    from its families; its ``margin`` is a client concern and is ignored. Unknown keys raise
    ``ValueError``, values of the wrong type ``TypeError``, both naming what is allowed.

    Example::

        resolve_rate_limits({"cohort_sync": [(1000, 60)]})["cohort_sync"]  # (Window(1000, 60.0),)
        resolve_rate_limits({"cohort": [Window(1000, 60)]})["cohort_sync"]  # the same
        resolve_rate_limits(moengage_segments.RateLimits(cohort=(Window(1000, 60),)))["cohort_sync"]  # the same
    """
    base = {k: tuple(v) for k, v in EMULATOR_WINDOWS.items()}
    if spec is False:
        return {k: () for k in base}
    if spec is None or spec is True:
        return base
    if isinstance(spec, ClientRateLimits):
        for family, buckets in FAMILY_BUCKETS.items():
            for bucket in buckets:
                base[bucket] = spec.for_family(family)
        return base
    if not isinstance(spec, Mapping):
        raise TypeError(
            "rate_limits must be a mapping {bucket or family: [Window(limit, period), ...]}, a "
            f"moengage_segments.RateLimits, True/None (the defaults) or False (no limits), got {spec!r}"
        )
    given: dict[str, str] = {}
    for key, value in spec.items():
        if not isinstance(key, str) or (key not in base and key not in FAMILY_BUCKETS):
            raise ValueError(f"unknown rate-limit bucket {key!r}; allowed keys are {_allowed_keys()}")
        windows = _windows(key, value)
        for bucket in FAMILY_BUCKETS.get(key, (key,)):
            if bucket in given:
                raise ValueError(
                    f"rate_limits sets bucket {bucket!r} twice (as {given[bucket]!r} and {key!r}); "
                    "give each bucket once"
                )
            given[bucket] = key
            base[bucket] = windows
    return base


@attrs.frozen
class Decision:
    """The outcome of a rate-limit check and the numbers for the response headers.

    Example::

        if not decision.allowed:
            print(decision.window)
    """

    allowed: bool
    limit: int | None = None
    remaining: int | None = None
    #: UTC epoch seconds: whole seconds, rounded up; milliseconds when time is scaled.
    reset_epoch: float | None = None
    window: Window | None = None
    #: The clock reading the admitted request was logged at (None when refused or unlimited).
    counted_at: float | None = None

    def headers(self) -> dict[str, str]:
        """``x-ratelimit-limit``/``-remaining``/``-reset`` for the tightest window (empty if unlimited).

        Example::

            response.headers.update(decision.headers())
        """
        if self.limit is None:
            return {}
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": f"{self.reset_epoch:.3f}".rstrip("0").rstrip("."),
        }


class ServerLimits:
    """Sliding-window logs per ``(workspace, bucket)``.

    Example::

        limits = ServerLimits({"get_segment": (Window(2, 60),)})
        limits.check(("ws", "get_segment")).allowed  # True
    """

    def __init__(
        self,
        windows: Mapping[str, tuple[Window, ...]],
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.windows = dict(windows)
        self.time_scale = time_scale
        self._clock = clock
        self._logs: dict[tuple[str, str, int], deque[float]] = {}

    def reset(self) -> None:
        """Forget every counted request.

        Example::

            emu.rate_limits.reset()
        """
        self._logs.clear()

    def check(self, key: tuple[str, str]) -> Decision:
        """Admit (and count) one request for ``key`` = ``(workspace_id, bucket)`` or refuse it.

        Example::

            limits.check(("ws", "cohort_sync"))
        """
        windows = self.windows.get(key[1], ())
        if not windows:
            return Decision(True)
        now = self._clock()
        logs = []
        tightest: tuple[int, int, float, Window] | None = None  # (remaining, limit, reset_in, window)
        refused: tuple[int, int, float, Window] | None = None
        for index, window in enumerate(windows):
            span = window.period / self.time_scale
            log = self._logs.setdefault((key[0], key[1], index), deque())
            while log and log[0] <= now - span:
                log.popleft()
            logs.append(log)
            remaining = window.limit - len(log)
            reset_in = (log[0] + span - now) if log else span
            if remaining <= 0:
                candidate = (0, window.limit, reset_in, window)
                # Report the window that stays closed longest: it decides when a retry can succeed.
                if refused is None or reset_in > refused[2]:
                    refused = candidate
            elif tightest is None or remaining - 1 < tightest[0]:
                tightest = (remaining - 1, window.limit, reset_in, window)
        wall = time.time()
        if refused is not None:
            return Decision(False, refused[1], 0, self._epoch(wall + refused[2]), refused[3])
        for log in logs:
            log.append(now)
        assert tightest is not None
        return Decision(True, tightest[1], tightest[0], self._epoch(wall + tightest[2]), tightest[3], now)

    def _epoch(self, wall: float) -> float:
        # The service sends whole seconds. With time scaled, a second can be a whole window: send
        # milliseconds (still rounded up, so a client that waits until then finds the slot free).
        if self.time_scale == 1.0:
            return math.ceil(wall)
        return math.ceil(wall * 1000) / 1000

    def refund(self, key: tuple[str, str], decision: Decision) -> None:
        """Un-count a request :meth:`check` admitted (its handler answered 429 for another reason).

        Example::

            limits.refund(("ws", "file_segment_ops"), decision)
        """
        if decision.counted_at is None:
            return
        for index in range(len(self.windows.get(key[1], ()))):
            log = self._logs.get((key[0], key[1], index))
            if log is not None and decision.counted_at in log:
                log.remove(decision.counted_at)
