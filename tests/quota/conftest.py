"""Fixtures of the quota tests; the core tests' virtual clock, mocked HTTP and client factory serve here too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from moengage_segments.testing import Emulator
from tests.core.conftest import clock, make_client, mocked
from tests.quota._support import MP_LIMIT, MP_SCALE

__all__ = ["clock", "make_client", "mocked", "mp_emulator"]


@pytest.fixture
def mp_emulator() -> Iterator[Emulator]:
    """The emulator of the multi-process tests: its own thread, time scaled, a cohort window of MP_LIMIT."""
    with Emulator.in_thread(time_scale=MP_SCALE, accept_any_uid=True, rate_limits={"cohort": [(MP_LIMIT, 60)]}) as emu:
        yield emu
