"""Sliding-window rate limits per endpoint, with ``x-ratelimit-*`` headers and a time-scale factor.

Each endpoint key has a list of windows ``(limit, seconds)``; a request is admitted only when every window
has room, and only admitted requests are counted (a 429 does not extend the wait). ``time_scale`` makes
emulated time run faster: with ``time_scale=60`` a one-minute window lasts one real second.

Example::

    limits = RateLimits(resolve_rate_limits({"cohort_sync": [(5, 60)]}), time_scale=60)
    decision = limits.check(("ws", "cohort_sync"))
    decision.allowed, decision.headers()
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

import attrs

__all__ = ["DEFAULT_RATE_LIMITS", "Decision", "RateLimits", "Window", "resolve_rate_limits"]

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


@attrs.frozen
class Window:
    """``limit`` requests per ``seconds`` of emulated time.

    Example::

        Window(50, 60)   # 50 per minute
    """

    limit: int
    seconds: float


# Documented defaults (API notes §2.7). Update, archive and unarchive have no documented limit.
# "file_segment_ops" is one bucket shared by create/add/remove/replace: replace is assumed to count.
DEFAULT_RATE_LIMITS: Mapping[str, tuple[Window, ...]] = {
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

    DEFAULT_RATE_LIMITS["cohort_sync"]  # (Window(limit=300, seconds=60.0),)
"""

RateLimitSpec = Mapping[str, Sequence[Window | tuple[int, float]]] | bool | None


def resolve_rate_limits(spec: RateLimitSpec) -> dict[str, tuple[Window, ...]]:
    """Defaults overridden per bucket by ``spec``; ``False`` disables every limit, ``None``/``True`` = defaults.

    Example::

        resolve_rate_limits({"cohort_sync": [(1000, 60)]})["cohort_sync"]  # (Window(1000, 60),)
    """
    base = {k: tuple(v) for k, v in DEFAULT_RATE_LIMITS.items()}
    if spec is False:
        return {k: () for k in base}
    if spec is None or spec is True:
        return base
    for key, windows in spec.items():
        if key not in base:
            raise ValueError(f"unknown rate-limit bucket {key!r}; known: {sorted(base)}")
        base[key] = tuple(w if isinstance(w, Window) else Window(int(w[0]), float(w[1])) for w in windows)
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
    reset_epoch: int | None = None
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
            "x-ratelimit-reset": str(self.reset_epoch),
        }


class RateLimits:
    """Sliding-window logs per ``(workspace, bucket)``.

    Example::

        limits = RateLimits({"get_segment": (Window(2, 60),)})
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
            span = window.seconds / self.time_scale
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
            return Decision(False, refused[1], 0, math.ceil(wall + refused[2]), refused[3])
        for log in logs:
            log.append(now)
        assert tightest is not None
        return Decision(True, tightest[1], tightest[0], math.ceil(wall + tightest[2]), tightest[3], now)

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
