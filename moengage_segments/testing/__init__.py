"""Testing helpers for moengage-segments: a local emulator of the Segments API, a pytest plugin, and
``MockTransport`` for unit tests that answer requests with a function.

The emulator enforces the documented rules (auth, validation, limits, the three error envelopes), keeps
state, processes file segments asynchronously and injects faults. See ``docs/testing.md``.

Example::

    from moengage_segments.testing import Emulator, Fault

    async with Emulator() as emu:
        emu.add_users(["u1", "u2"])
        emu.faults.script(Fault.server_error(503), target="cohort")
        ...
"""

from moengage_segments.testing._config import EmulatorConfig
from moengage_segments.testing._emulator import (
    DEFAULT_API_KEY,
    DEFAULT_DB_NAME,
    DEFAULT_WORKSPACE_ID,
    Emulator,
)
from moengage_segments.testing._faults import Fault, FaultInjector
from moengage_segments.testing._inspect import CallbackRecord, Counters, RequestRecord
from moengage_segments.testing._limits import EMULATOR_WINDOWS, FAMILY_BUCKETS, Window
from moengage_segments.testing._mock import MockTransport
from moengage_segments.testing._state import SegmentInfo

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_DB_NAME",
    "DEFAULT_WORKSPACE_ID",
    "EMULATOR_WINDOWS",
    "FAMILY_BUCKETS",
    "CallbackRecord",
    "Counters",
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "FaultInjector",
    "MockTransport",
    "RequestRecord",
    "SegmentInfo",
    "Window",
]
