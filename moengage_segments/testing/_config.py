"""Emulator settings. Mutable on purpose: tests may tighten a cap while the emulator runs.

Example::

    emu.config.max_cohort_body_bytes = 16 * 1024   # a smaller body cap from now on
"""

from __future__ import annotations

import attrs

__all__ = ["EmulatorConfig"]


@attrs.define
class EmulatorConfig:
    """Limits and switches of the emulator (defaults are the documented values).

    Example::

        EmulatorConfig(max_active_segments=5, accept_any_uid=True)
    """

    max_active_segments: int = 1000
    #: "Payload can not exceed 128KB": read conservatively as 128,000 bytes (not 131,072), the SDK's
    #: default request budget, so a client that fits here fits the service under either reading.
    max_cohort_body_bytes: int = 128_000
    max_filter_nesting: int = 3
    max_filter_segment_refs: int = 10
    max_filter_query_bytes: int = 100_000
    #: Body cap of every endpoint but cohort sync (none is documented; far above any valid request): 413.
    max_request_body_bytes: int = 1024 * 1024
    max_file_bytes: int = 150 * 1024 * 1024
    max_file_users_per_day: int = 2_000_000
    #: Cohort sync: every uid joins even if it was never seeded (for benchmarks pushing millions).
    accept_any_uid: bool = False
    #: Stricter reading of rules the sources disagree on (``name`` required on v2 requests that give
    #: ``cs_id``, cohort names must not start with ".", ``category`` required on user property filters;
    #: MOE-DBNAME required on v2 even with ``optional_db_name``).
    strict: bool = False
    #: Accept v2 calls without ``MOE-DBNAME`` (the older pages' reading). Off by default: both revisions of
    #: the spec mark the header required. A wrong value is refused either way.
    optional_db_name: bool = False
    #: Seconds (emulated) before a file job starts; the segment shows 0 users until it finishes.
    file_processing_delay: float = 0.0
    time_scale: float = 1.0
