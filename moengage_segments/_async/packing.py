"""Exact-byte encoding of cohort-sync request bodies.

A body is ``prefix + member (',' member)* + suffix`` where prefix and suffix come from the envelope
(action, partner, cohort name/id/description) serialised once. Each member is ``{"uid":"..."}``; plain
printable-ASCII uids without quotes or backslashes take a fast path, everything else goes through
``json.dumps`` so escaping is exact for any Unicode.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from moengage_segments._async.transport import dump_json
from moengage_segments.models.cohorts import Cohort, CohortAction
from moengage_segments.validation import uid_problem

__all__ = ["CohortEnvelope", "PackedBatch", "Packer", "uid_from_wire", "uids_from_wires", "wire_form"]

_WIRE_OPEN = b'{"uid":"'
_WIRE_SEP = '"},{"uid":"'
_WIRE_CLOSE = b'"}'


class CohortEnvelope:
    """The fixed part of a cohort-sync body for one cohort and action.

    ``head`` and ``tail`` frame the members' text: a body is ``head + '"},{"uid":"'.join(wires) + tail``.

    Example::

        env = CohortEnvelope(Cohort(id="c", name="C", partner="p"), "add_members")
        assert env.body([wire_form("u1")]).endswith(b'"members":[{"uid":"u1"}]}}')
    """

    __slots__ = ("head", "overhead", "prefix", "suffix", "tail")

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
        self.head = self.prefix + _WIRE_OPEN
        self.tail = _WIRE_CLOSE + self.suffix

    def body(self, wires: Sequence[str]) -> bytes:
        """The complete request body for members in wire form (see :func:`wire_form`)."""
        if not wires:
            return self.prefix + self.suffix
        return b"".join((self.head, _WIRE_SEP.join(wires).encode("utf-8"), self.tail))


# --------------------------------------------------------------------------------------------------
# Greedy exact-byte packer
# --------------------------------------------------------------------------------------------------

_TOO_LARGE = "uid too large to fit in one request"
#: Bytes that make a uid need JSON escaping (controls, quote, backslash, DEL) or may make it blank (space);
#: and '{', so that in plain text each member after the first starts with the only '{' (fast counting).
_NOT_PLAIN = bytes(range(0x21)) + b'"\\\x7f{'
_SEP_BYTES = _WIRE_SEP.encode()


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


def uids_from_wires(wires: list[str]) -> list[str]:
    """Undo :func:`wire_form` for a list (the list itself when nothing is escaped, the common case).

    Example::

        assert uids_from_wires(["u1", wire_form('a"b')]) == ["u1", 'a"b']
    """
    if "\\" in "".join(wires):  # one C scan: only an escaped member holds a backslash
        return [uid_from_wire(wire) for wire in wires]
    return wires


class PackedBatch:
    """One request body built by :class:`Packer`.

    ``index`` numbers the batches of a run from 0; ``position`` is how many input items had been read
    when the batch was cut (the same on every run over the same input); ``members`` is the member count.
    ``wires`` (the members in wire form, see :func:`wire_form`) is decoded from the body on demand, for a
    413 split or to list failed uids, so a batch costs little more than its body.
    """

    __slots__ = ("body", "index", "members", "position", "start", "stop")

    def __init__(self, index: int, position: int, members: int, body: bytes, start: int, stop: int) -> None:
        self.index = index
        self.position = position
        self.members = members
        self.body = body
        self.start = start  # the members' text is body[start:stop]
        self.stop = stop

    @property
    def wires(self) -> list[str]:
        """The members in wire form, in body order."""
        return self.body[self.start : self.stop].decode("utf-8").split(_WIRE_SEP)

    def __repr__(self) -> str:
        return f"<PackedBatch #{self.index} {self.members} members, {len(self.body)} bytes>"


class Packer:
    """Validates uids and packs them greedily into request bodies of at most ``max_request_bytes``.

    Feed input in chunks with :meth:`feed`, which returns the batches that are full; :meth:`finish`
    returns the last, partial one. Every body is exactly ``prefix + members + suffix`` and no larger than
    the budget; every batch but the last is filled until the next member would not fit.

    How it stays fast: a chunk's members are joined into their final JSON text in one C call, validated
    by a few whole-text scans (plain printable ASCII needs no escaping), and cut at the last member
    separator that fits (``bytes.rfind``), so no Python code runs per uid on that path. Chunks holding
    anything else take the exact path: per-uid checks and ``json.dumps`` escaping.

    Duplicates are dropped within the window being packed (the current chunk plus the unsent tail of the
    previous one), which covers every request; ``dedupe=True`` drops them across the whole run instead,
    at the cost of a set holding every distinct uid (about 82 bytes + the uid's length each).

    Invalid uids (non-strings, empty or blank, NUL, lone surrogates, too large to fit in a request
    alone) are counted in ``invalid`` / ``invalid_reasons`` and never packed.

    Example::

        packer = Packer(CohortEnvelope(cohort, "add_members"), 128_000)
        batches = packer.feed(["u1", "u2", "u1"]) + packer.finish()
        assert packer.duplicates == 1 and len(batches) == 1
    """

    def __init__(self, envelope: CohortEnvelope, max_request_bytes: int, *, dedupe: bool = False) -> None:
        # The members' text (members joined by '"},{"uid":"', without the outer '{"uid":"' and '"}')
        # may take this many bytes: the body is prefix + '{"uid":"' + text + '"}' + suffix.
        self.limit = max_request_bytes - envelope.overhead - len(_WIRE_OPEN) - len(_WIRE_CLOSE)
        if self.limit < 1:
            raise ValueError(
                f"max_request_bytes={max_request_bytes} leaves no room for members "
                f"(the envelope alone is {envelope.overhead} bytes)"
            )
        self.envelope = envelope
        self.read = 0
        self.invalid = 0
        self.duplicates = 0
        self.invalid_reasons: dict[str, int] = {}
        self._next_index = 0
        self._carry: list[str] = []  # members (wire form) not yet in a batch, in order
        self._carry_text = b""  # their joined text
        self._carry_plain = True  # whether that text came from plain chunks only
        self._seen: set[str] | None = set() if dedupe else None

    @property
    def pending(self) -> int:
        """Members validated and held for the next batch (not yet in any batch)."""
        return len(self._carry)

    def pending_wires(self) -> list[str]:
        """Those members, in wire form (a stopped run reports them as not sent)."""
        return list(self._carry)

    def body(self, wires: list[str]) -> bytes:
        """The request body for these members (wire form)."""
        return self.envelope.body(wires)

    def feed(self, chunk: list[Any]) -> list[PackedBatch]:
        """Validate and pack one chunk of input; return the batches that are now full."""
        self.read += len(chunk)
        if self._plain(chunk):
            members = self._dedupe(chunk)
            batches = self._cut(members, final=False, plain=True)
            if batches is not None:
                self._commit(chunk, members)
                return batches
            # A member too large to fit alone: redo the chunk on the exact path, which drops it.
        valid = self._valid_slow(chunk)
        members = self._dedupe(valid)
        batches = self._cut(members, final=False, checked=True) or []
        self._commit(valid, members)
        return batches

    def finish(self) -> list[PackedBatch]:
        """Return the last (partial) batch, if any member is left."""
        return self._cut([], final=True, checked=True) or []

    @staticmethod
    def _plain(chunk: list[Any]) -> bool:
        # Whole-chunk scans instead of per-uid method calls: printable ASCII without quote, backslash or
        # space (hence no blank id) needs no escaping. Too-large ids are caught by the cut.
        try:
            text = "".join(chunk)
        except TypeError:  # a non-string somewhere
            return False
        if not text.isascii():
            return False
        raw = text.encode("ascii")
        if len(raw.translate(None, _NOT_PLAIN)) != len(raw):
            return False
        return "" not in chunk

    def _invalid(self, reason: str) -> None:
        self.invalid += 1
        self.invalid_reasons[reason] = self.invalid_reasons.get(reason, 0) + 1

    def _valid_slow(self, chunk: list[Any], *, wires: bool = True) -> list[str]:
        valid: list[str] = []
        limit = self.limit
        for uid in chunk:
            problem = uid_problem(uid)
            if problem is not None:
                self._invalid(problem)
                continue
            wire = wire_form(uid)
            if len(wire.encode("utf-8")) > limit:
                self._invalid(_TOO_LARGE)
                continue
            valid.append(wire if wires else uid)
        return valid

    def screen(self, chunk: list[Any]) -> list[str]:
        """Validate a chunk exactly as :meth:`feed` does, without packing: return its valid uids as given.

        Invalid ones are counted in ``invalid``/``invalid_reasons`` (and ``read`` grows); duplicates are
        left for the caller.

        Example::

            packer = Packer(CohortEnvelope(cohort, "add_members"), 128_000)
            assert packer.screen(["u1", "", 7]) == ["u1"] and packer.invalid == 2
        """
        self.read += len(chunk)
        # Plain ASCII: one byte a character, so the longest uid's length is its wire size.
        if self._plain(chunk) and (not chunk or max(map(len, chunk)) <= self.limit):
            return chunk
        return self._valid_slow(chunk, wires=False)

    def _dedupe(self, valid: list[str]) -> list[str]:
        """``valid`` without members already pending (or, with ``dedupe``, already seen in the run).

        Changes nothing: :meth:`_commit` records the outcome once the chunk is packed.
        """
        seen = self._seen
        if seen is None:
            distinct = set(valid)
            if len(distinct) == len(valid) and distinct.isdisjoint(self._carry):
                return valid  # the common case: nothing to drop
            carry = set(self._carry)
            return [w for w in dict.fromkeys(valid) if w not in carry]
        return [w for w in dict.fromkeys(valid) if w not in seen]

    def _commit(self, valid: list[str], members: list[str]) -> None:
        self.duplicates += len(valid) - len(members)
        if self._seen is not None:
            self._seen.update(members)

    def _cut(
        self, members: list[str], *, final: bool, checked: bool = False, plain: bool = False
    ) -> list[PackedBatch] | None:
        """Cut the pending members plus ``members`` into full batches; keep the rest as the carry.

        Returns None, changing nothing, when an unchecked member is too large to fit in a body alone.
        """
        # Plain text holds no '{' but the one opening each member: counting it is a fast byte count.
        plain = plain and self._carry_plain
        counter = b"{" if plain else _SEP_BYTES
        parts = [self._carry_text] if self._carry else []
        if members:
            parts.append(_WIRE_SEP.join(members).encode("utf-8"))
        text = _SEP_BYTES.join(parts)
        pending = self._carry + members if self._carry else members
        limit = self.limit
        sep = _SEP_BYTES
        step = len(sep)
        head, tail = self.envelope.head, self.envelope.tail
        cuts: list[tuple[int, int, int]] = []  # (start, stop, members) in `text`
        start = 0
        end = len(text)
        taken = 0
        while pending and end - start > limit:
            stop = text.rfind(sep, start, start + limit + step)
            if stop < 0:  # the member at `start` cannot fit even alone
                if checked:
                    raise AssertionError("a member that passed the size check does not fit")
                return None
            count = text.count(counter, start, stop) + 1
            cuts.append((start, stop, count))
            taken += count
            start = stop + step
        if final and pending and start < end:
            cuts.append((start, end, len(pending) - taken))
            taken = len(pending)
            start = end
        batches = []
        offset = len(head)
        for begin, stop, count in cuts:
            body = b"".join((head, text[begin:stop], tail))
            batches.append(PackedBatch(self._next_index, self.read, count, body, offset, offset + stop - begin))
            self._next_index += 1
        self._carry = pending[taken:]
        self._carry_text = text[start:] if self._carry else b""
        self._carry_plain = plain or not self._carry
        return batches
