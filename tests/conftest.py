"""Shared test setup."""

from __future__ import annotations

import os
import sys

from tests._aioresponses_compat import install

install()

# The suite starts many interpreters (xdist workers, CLI and multi-process proofs). With bytecode caching
# off (PYTHONDONTWRITEBYTECODE, set in some sandboxes) each one recompiles the package and re-rewrites the
# test modules: about a fifth of the suite's CPU. The caches live in __pycache__, which git ignores.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
