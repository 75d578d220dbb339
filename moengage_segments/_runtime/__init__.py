"""Runtime support for the generated sync client: the :class:`Portal` event-loop thread.

Example::

    from moengage_segments._runtime import Portal

    with Portal() as portal:
        portal.call(asyncio.sleep, 0)
"""

from moengage_segments._runtime.portal import Portal

__all__ = ["Portal"]
