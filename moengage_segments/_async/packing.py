"""Exact-byte encoding of cohort-sync request bodies.

A body is ``prefix + member (',' member)* + suffix`` where prefix and suffix come from the envelope
(action, partner, cohort name/id/description) serialised once. Each member is ``{"uid":"..."}``; plain
printable-ASCII uids without quotes or backslashes take a fast path, everything else goes through
``json.dumps`` so escaping is exact for any Unicode.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import accumulate
from typing import Any

from moengage_segments._async.transport import dump_json
from moengage_segments.models.cohorts import Cohort, CohortAction
from moengage_segments.validation import uid_problem

__all__ = ["CohortEnvelope", "PackedBatch", "Packer", "encode_member", "uid_from_wire", "wire_form"]

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


# --------------------------------------------------------------------------------------------------
# Greedy exact-byte packer
# --------------------------------------------------------------------------------------------------

#: ``{"uid":""}`` is 10 bytes, plus the comma that separates it from the next member.
_MEMBER_COST = 11
_WIRE_OPEN = b'{"uid":"'
_WIRE_SEP = '"},{"uid":"'
_WIRE_CLOSE = b'"}'
_TOO_LARGE = "uid too large to fit in one request"
#: Bytes that make a uid need JSON escaping (controls, quote, backslash, DEL) or may make it blank (space).
_NOT_PLAIN = bytes(range(0x21)) + b'"\\\x7f'


def wire_form(uid: str) -> str:
    """The JSON-escaped text of ``uid`` as it appears between the quotes of ``{"uid":"..."}``.

    Plain ids are returned unchanged; anything else is escaped exactly as ``json.dumps`` does.

    Example::

        assert wire_form("u1") == "u1"
        assert wire_form('a"b') == 'a\\\\"b'
    """
    if uid.isascii() and uid.isprintable() and '"' not in uid and "\\" not in uid:
        return uid
    return json.dumps(uid, ensure_ascii=False)[1:-1]


def uid_from_wire(wire: str) -> str:
    """Undo :func:`wire_form` (only escaped ids contain a backslash).

    Example::

        assert uid_from_wire(wire_form('a"b')) == 'a"b'
    """
    return json.loads('"' + wire + '"') if "\\" in wire else wire


class PackedBatch:
    """One request body built by :class:`Packer`.

    ``index`` numbers the batches of a run from 0; ``position`` is how many input items had been read
    when the batch was cut (the same on every run over the same input); ``wires`` are the members in
    wire form (see :func:`wire_form`), kept so a 413 can split the batch and failures can be listed.
    """

    __slots__ = ("body", "index", "position", "wires")

    def __init__(self, index: int, position: int, wires: list[str], body: bytes) -> None:
        self.index = index
        self.position = position
        self.wires = wires
        self.body = body

    def __repr__(self) -> str:
        return f"<PackedBatch #{self.index} {len(self.wires)} members, {len(self.body)} bytes>"


class Packer:
    """Validates uids and packs them greedily into request bodies of at most ``max_request_bytes``.

    Feed input in chunks with :meth:`feed`, which returns the batches that are full; :meth:`finish`
    returns the last, partial one. Every body is exactly ``prefix + members + suffix`` and no larger than
    the budget; every batch but the last is filled until the next member would not fit.

    Duplicates are dropped within the window being packed (the current chunk plus the unsent tail of the
    previous one), which covers every request; ``dedupe=True`` drops them across the whole run instead,
    at the cost of a set holding every distinct uid (roughly 75 bytes + the uid's length each).

    Invalid uids (non-strings, empty or blank, NUL, lone surrogates, too large to fit in a request
    alone) are counted in ``invalid`` / ``invalid_reasons`` and never packed.

    Example::

        packer = Packer(CohortEnvelope(cohort, "add_members"), 128_000)
        batches = packer.feed(["u1", "u2", "u1"]) + packer.finish()
        assert packer.duplicates == 1 and len(batches) == 1
    """

    def __init__(self, envelope: CohortEnvelope, max_request_bytes: int, *, dedupe: bool = False) -> None:
        # sum(len(wire) + 11) over the members must not exceed this: the body is
        # overhead + sum(len + 10) + (n - 1) commas.
        self.room = max_request_bytes - envelope.overhead + 1
        if self.room < _MEMBER_COST + 1:
            raise ValueError(
                f"max_request_bytes={max_request_bytes} leaves no room for members "
                f"(the envelope alone is {envelope.overhead} bytes)"
            )
        self.envelope = envelope
        self.max_request_bytes = max_request_bytes
        self.read = 0
        self.invalid = 0
        self.duplicates = 0
        self.invalid_reasons: dict[str, int] = {}
        self._next_index = 0
        self._carry: list[str] = []
        self._carry_lens: list[int] = []
        self._seen: set[str] | None = set() if dedupe else None
        self._head = envelope.prefix + _WIRE_OPEN
        self._tail = _WIRE_CLOSE + envelope.suffix

    @property
    def pending(self) -> int:
        """Members validated and held for the next batch (not yet in any batch)."""
        return len(self._carry)

    def body(self, wires: list[str]) -> bytes:
        """The request body for these members (wire form)."""
        return b"".join((self._head, _WIRE_SEP.join(wires).encode("utf-8"), self._tail))

    def feed(self, chunk: list[Any]) -> list[PackedBatch]:
        """Validate and pack one chunk of input; return the batches that are now full."""
        self.read += len(chunk)
        fast = self._valid_fast(chunk)
        if fast is not None:
            return self._pack(chunk, fast, final=False)
        valid = self._valid_slow(chunk)
        return self._pack(valid, list(map(len, map(str.encode, valid))), final=False)

    def finish(self) -> list[PackedBatch]:
        """Return the last (partial) batch, if any member is left."""
        return self._pack([], [], final=True)

    def _valid_fast(self, chunk: list[Any]) -> list[int] | None:
        # A few C-level passes over the whole chunk instead of several method calls per uid: a chunk of
        # printable-ASCII ids without quote, backslash or space (hence no blank id) needs no escaping,
        # and its byte lengths are its character lengths. Returns those lengths, or None.
        try:
            text = "".join(chunk)
        except TypeError:  # a non-string somewhere
            return None
        if not text.isascii():
            return None
        raw = text.encode("ascii")
        if len(raw.translate(None, _NOT_PLAIN)) != len(raw):
            return None
        lens = list(map(len, chunk))
        if lens and (min(lens) == 0 or max(lens) + _MEMBER_COST > self.room):
            return None
        return lens

    def _invalid(self, reason: str) -> None:
        self.invalid += 1
        self.invalid_reasons[reason] = self.invalid_reasons.get(reason, 0) + 1

    def _valid_slow(self, chunk: list[Any]) -> list[str]:
        valid: list[str] = []
        room = self.room
        for uid in chunk:
            problem = uid_problem(uid)
            if problem is not None:
                self._invalid(problem)
                continue
            wire = wire_form(uid)
            if len(wire.encode("utf-8")) + _MEMBER_COST > room:
                self._invalid(_TOO_LARGE)
                continue
            valid.append(wire)
        return valid

    def _dedupe(self, valid: list[str], lens: list[int]) -> tuple[list[str], list[int]]:
        """Drop members already pending (or, with ``dedupe``, already seen in the run)."""
        seen = self._seen
        if seen is None:
            distinct = set(valid)
            if len(distinct) == len(valid) and distinct.isdisjoint(self._carry):
                return valid, lens  # the common case: nothing to drop, order and lengths kept
            carry = set(self._carry)
            keep = {w: n for w, n in zip(valid, lens, strict=False) if w not in carry}
        else:
            keep = {w: n for w, n in zip(valid, lens, strict=False) if w not in seen}
            seen.update(keep)
        self.duplicates += len(valid) - len(keep)
        return list(keep), list(keep.values())

    def _pack(self, valid: list[str], lens: list[int], *, final: bool) -> list[PackedBatch]:
        valid, lens = self._dedupe(valid, lens)
        if self._carry:
            valid = self._carry + valid
            lens = self._carry_lens + lens
        n = len(valid)
        # cum[k] = bytes of the first k+1 members without their 11-byte frame; members start..end-1
        # fit when cum[end-1] - cum[start-1] + 11 * (end - start) <= room.
        cum = list(accumulate(lens))
        batches: list[PackedBatch] = []
        start = 0
        base = 0
        room = self.room
        while start < n:
            end = _last_fit(cum, start, base, room)
            if end >= n and not final:
                break  # not full yet: wait for more input
            wires = valid[start:end]
            batches.append(PackedBatch(self._next_index, self.read, wires, self.body(wires)))
            self._next_index += 1
            base = cum[end - 1]
            start = end
        self._carry = valid[start:]
        self._carry_lens = lens[start:]
        return batches


def _last_fit(cum: list[int], start: int, base: int, room: int) -> int:
    """The largest ``end`` such that members ``start..end-1`` fit in ``room`` (binary search)."""
    lo, hi = start + 1, len(cum)  # the member at ``start`` always fits (checked at validation)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cum[mid - 1] - base + _MEMBER_COST * (mid - start) <= room:
            lo = mid
        else:
            hi = mid - 1
    return lo
