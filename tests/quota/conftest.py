"""The core tests' fixtures (virtual clock, mocked HTTP, client factory) serve the quota tests too."""

from __future__ import annotations

from tests.core.conftest import clock, make_client, mocked

__all__ = ["clock", "make_client", "mocked"]
