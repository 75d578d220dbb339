"""The library's logger, ``moengage_segments`` (parent of ``moengage_segments.callbacks`` and ``.runtime``).

It carries a ``NullHandler``, the convention for libraries: the SDK never configures logging, and its
records reach no stream (not even Python's last-resort stderr handler, which prints warnings of loggers
without handlers) until the application configures logging. The levels used are listed in
``docs/configuration.md`` (Logging).
"""

from __future__ import annotations

import logging

__all__ = ["logger"]

logger = logging.getLogger("moengage_segments")
logger.addHandler(logging.NullHandler())
