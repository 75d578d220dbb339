"""moengage-segments: an async-first SDK for the MoEngage Segments API."""

from moengage_segments.errors import *  # noqa: F403  (replaced by explicit exports with the core)
