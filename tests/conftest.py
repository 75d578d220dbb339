"""Shared test setup."""

from __future__ import annotations

from tests._aioresponses_compat import install

install()
