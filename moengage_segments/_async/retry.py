"""When and how long to wait before re-sending a request: the :class:`RetryPolicy` applied.

``backoff`` supplies the exponential wait sequence and the jitter; it stays behind this module so it
can be replaced without touching the transport.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import time
from collections.abc import Iterator, Mapping

import backoff

from moengage_segments.config import RetryPolicy
from moengage_segments.errors import APIConnectionError, APIError, APIStatusError, RateLimitError

__all__ = ["Retrier", "RetryDecision", "hinted_wait", "reset_wait", "service_time"]

#: Statuses that are never retried: the request itself is wrong, re-sending cannot help.
_NEVER_RETRY = frozenset({400, 401, 403, 404, 409, 412, 413, 415})


def hinted_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the service asked us to wait, from ``Retry-After`` or ``x-ratelimit-reset``.

    ``Retry-After`` may be seconds or an HTTP date; ``x-ratelimit-reset`` is UTC epoch seconds.
    A header that cannot be read (garbage, ``nan``) is ignored rather than failing the call.
    """
    wall = service_time(headers, now)
    value = (headers.get("Retry-After") or headers.get("retry-after") or "").strip()
    if value:
        seconds = _finite(value)
        if seconds is not None:
            return max(seconds, 0.0)
        parsed = _http_date(value)
        if parsed is not None:
            return max(parsed - wall, 0.0)
    return reset_wait(headers, wall)


def reset_wait(headers: Mapping[str, str], wall: float) -> float | None:
    """Seconds from ``wall`` (see :func:`service_time`) until ``x-ratelimit-reset``; None if absent."""
    reset = (headers.get("x-ratelimit-reset") or headers.get("X-RateLimit-Reset") or "").strip()
    epoch = _finite(reset) if reset else None
    return None if epoch is None else max(epoch - wall, 0.0)


def service_time(headers: Mapping[str, str], now: float | None = None) -> float:
    """Our wall clock, or the service's ``Date`` when the two disagree by more than two seconds.

    Reset times are the service's epoch seconds: read against a host clock that is off by an hour, they
    would mean "no wait" or "wait an hour". ``Date`` has whole-second resolution, so it only corrects a
    clock that is clearly wrong.
    """
    wall = time.time() if now is None else now
    date = _http_date((headers.get("Date") or headers.get("date") or "").strip())
    if date is not None and abs(date - wall) > 2.0:
        return date
    return wall


def _http_date(value: str) -> float | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # an HTTP date is always GMT
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def _finite(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


class RetryDecision:
    """The outcome of :meth:`Retrier.decide`: retry after ``delay`` seconds, or stop."""

    __slots__ = ("delay", "retry")

    def __init__(self, retry: bool, delay: float = 0.0) -> None:
        self.retry = retry
        self.delay = delay


_STOP = RetryDecision(False)


class Retrier:
    """Applies a :class:`RetryPolicy` to the attempts of one call."""

    def __init__(
        self, policy: RetryPolicy, *, idempotent: bool, started: float, retry_unhinted_429: bool = True
    ) -> None:
        self.policy = policy
        self.idempotent = idempotent
        self.retry_unhinted_429 = retry_unhinted_429
        self.started = started
        self._waits: Iterator[float] = self._wait_sequence(policy)

    @staticmethod
    def _wait_sequence(policy: RetryPolicy) -> Iterator[float]:
        waits = backoff.expo(base=2, factor=policy.base, max_value=policy.cap)
        next(waits)  # backoff's generators are primed with one empty step
        for wait in waits:
            yield backoff.full_jitter(wait) if policy.jitter else wait

    def decide(self, error: APIError, *, attempt: int, sent: bool, now: float) -> RetryDecision:
        """Decide whether to retry after ``error`` on attempt number ``attempt`` (1-based).

        ``sent`` is False only when the request provably never reached the service (connection refused),
        which makes even a create safe to re-send.
        """
        if attempt >= self.policy.max_attempts or not self._retryable(error, sent):
            return _STOP
        if isinstance(error, RateLimitError):
            if error.active_segment_cap:
                return _STOP  # too many active segments: only archiving some helps, not waiting
            hint = error.retry_after
            if hint is not None and hint > self.policy.rate_limit_cap:
                return _STOP  # e.g. an hourly file-ops window: let the caller decide
            if hint is None and not self.retry_unhinted_429:
                return _STOP  # the window is an hour or a day: a few seconds' wait would only waste quota
            delay = hint if hint is not None else min(next(self._waits) * 2, self.policy.rate_limit_cap)
        else:
            delay = next(self._waits)
        if self.policy.deadline is not None and (now - self.started) + delay > self.policy.deadline:
            return _STOP
        return RetryDecision(True, delay)

    def _retryable(self, error: APIError, sent: bool) -> bool:
        if isinstance(error, APIStatusError):
            if error.status in _NEVER_RETRY:
                return False
            if error.status == 429:
                return True  # a 429 was not processed, so even a create may be re-sent
            if error.status < 500:
                return False
            return self.idempotent
        if isinstance(error, APIConnectionError):
            return self.idempotent or not sent
        return False
