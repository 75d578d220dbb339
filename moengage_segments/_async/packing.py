"""Exact-byte encoding of cohort-sync request bodies.

A body is ``prefix + member (',' member)* + suffix`` where prefix and suffix come from the envelope
(action, partner, cohort name/id/description) serialised once. Each member is ``{"uid":"..."}``; plain
printable-ASCII uids without quotes or backslashes take a fast path, everything else goes through
``json.dumps`` so escaping is exact for any Unicode.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from moengage_segments._async.transport import dump_json
from moengage_segments.models.cohorts import Cohort, CohortAction

__all__ = ["CohortEnvelope", "encode_member"]

_MEMBER_OPEN = b'{"uid":"'
_MEMBER_CLOSE = b'"}'


def encode_member(uid: str) -> bytes:
    """The JSON bytes of one member object, ``{"uid":"<uid>"}``, exactly as sent.

    Example::

        assert encode_member("u1") == b'{"uid":"u1"}'
    """
    if uid.isascii() and uid.isprintable() and '"' not in uid and "\\" not in uid:
        return _MEMBER_OPEN + uid.encode("ascii") + _MEMBER_CLOSE
    return b'{"uid":' + json.dumps(uid, ensure_ascii=False).encode("utf-8") + b"}"


class CohortEnvelope:
    """The fixed part of a cohort-sync body for one cohort and action.

    Example::

        env = CohortEnvelope(Cohort(id="c", name="C", partner="p"), "add_members")
        body = env.body([encode_member("u1")])
        assert len(body) == env.size_of([len(encode_member("u1"))])
    """

    __slots__ = ("overhead", "prefix", "suffix")

    def __init__(self, cohort: Cohort, action: CohortAction) -> None:
        parameters: dict[str, object] = {"cohort_name": cohort.name, "cohort_id": cohort.id}
        if cohort.description is not None:
            parameters["cohort_description"] = cohort.description
        parameters["members"] = []
        template = dump_json({"action": action, "partner": cohort.partner, "parameters": parameters})
        marker = b'"members":[]'
        cut = template.rindex(marker) + len(marker) - 1
        self.prefix = template[:cut]
        self.suffix = template[cut:]
        self.overhead = len(self.prefix) + len(self.suffix)

    def size_of(self, member_sizes: Iterable[int]) -> int:
        """Body size for members of the given encoded sizes (commas included)."""
        total = 0
        count = 0
        for size in member_sizes:
            total += size
            count += 1
        return self.overhead + total + max(count - 1, 0)

    def body(self, members: Iterable[bytes]) -> bytes:
        """The complete request body for already encoded members."""
        return self.prefix + b",".join(members) + self.suffix
