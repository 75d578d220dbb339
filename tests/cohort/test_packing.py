"""Invariants of the exact-byte packer: bodies never over budget, exact JSON, greedy fill, accounting."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moengage_segments import Cohort
from moengage_segments._async.packing import CohortEnvelope, PackedBatch, Packer, uid_from_wire, wire_form
from moengage_segments._async.transport import dump_json
from moengage_segments.validation import uid_problem

COHORT = Cohort(id="c-1", name="Cohört ✓", partner="warehouse", description='with "quotes" \\ and ünïcode')
ENV = CohortEnvelope(COHORT, "add_members")

uid_text = st.text(min_size=0, max_size=40)  # any code point, including controls and lone surrogates
any_uid = st.one_of(uid_text, uid_text, st.sampled_from(["", " ", "\x00", "u1", "u1", "a\ud800", None, 7, b"x"]))


def pack_all(items: list[Any], budget: int, chunk: int = 50, dedupe: bool = False) -> tuple[Packer, list[PackedBatch]]:
    packer = Packer(ENV, budget, dedupe=dedupe)
    batches: list[PackedBatch] = []
    for i in range(0, len(items), chunk):
        batches += packer.feed(items[i : i + chunk])
    batches += packer.finish()
    return packer, batches


def expected_body(members: list[str]) -> bytes:
    payload = {
        "action": "add_members",
        "partner": COHORT.partner,
        "parameters": {
            "cohort_name": COHORT.name,
            "cohort_id": COHORT.id,
            "cohort_description": COHORT.description,
            "members": [{"uid": m} for m in members],
        },
    }
    return dump_json(payload)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(any_uid, max_size=120),
    budget=st.integers(min_value=300, max_value=2_000),
    chunk=st.integers(min_value=1, max_value=64),
)
def test_bodies_fit_round_trip_and_account_for_every_item(items: list[Any], budget: int, chunk: int) -> None:
    packer, batches = pack_all(items, budget, chunk)
    sent: list[str] = []
    for n, batch in enumerate(batches):
        assert batch.index == n
        assert len(batch.body) <= budget
        decoded = json.loads(batch.body)
        uids = [m["uid"] for m in decoded["parameters"]["members"]]
        assert uids == [uid_from_wire(w) for w in batch.wires]
        assert batch.members == len(uids)  # the count the engine's accounting relies on
        assert batch.body == expected_body(uids)  # byte-exact: the same as json.dumps of the whole payload
        assert len(set(uids)) == len(uids)  # no duplicate inside one request
        sent += uids
    # Every input item is in exactly one place: sent, invalid or duplicate.
    assert len(sent) + packer.invalid + packer.duplicates == len(items)
    valid = [u for u in items if uid_problem(u) is None and len(expected_body([u])) <= budget]
    assert set(sent) == set(valid)
    assert packer.invalid == len(items) - len(valid)
    assert sum(packer.invalid_reasons.values()) == packer.invalid


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=30), max_size=200),
    budget=st.integers(min_value=300, max_value=3_000),
)
def test_greedy_every_batch_but_the_last_is_full(items: list[str], budget: int) -> None:
    _, batches = pack_all(items, budget, chunk=37)
    for batch, following in itertools.pairwise(batches):
        # The next batch's first member would not have fitted: the batch was filled greedily.
        grown = Packer(ENV, 10**9).body([*batch.wires, following.wires[0]])
        assert len(grown) > budget


def test_typical_ids_fill_requests_to_99_percent() -> None:
    uids = [f"{i:024d}" for i in range(200_000)]
    _, batches = pack_all(uids, 128_000, chunk=8192)
    assert len(batches) > 10
    assert all(len(b.body) >= 0.99 * 128_000 for b in batches[:-1])
    assert all(len(b.body) <= 128_000 for b in batches)
    assert sum(len(b.wires) for b in batches) == len(uids)


def test_fast_and_exact_paths_agree() -> None:
    plain = [f"user-{i}" for i in range(100)]
    # In one chunk, "ü" sends all 101 ids down the exact (per-uid) path; in two chunks the first 100 take
    # the fast path. The bodies must be byte-identical either way.
    _, slow = pack_all([*plain, "ü"], 700, chunk=101)
    _, fast = pack_all([*plain, "ü"], 700, chunk=100)
    assert len(slow) > 3
    assert [b.body for b in slow] == [b.body for b in fast]


def test_member_counts_across_plain_and_escaped_chunks() -> None:
    # Plain chunks count members by '{'; a carry from an escaped chunk (which may hold '{') must not.
    chunks = [["a{b", "c}d", "e"], ["p1", "p2", "p3"], ["{", "{{"], ["x" * 30, "y"], ["é{", "z"]]
    packer = Packer(ENV, len(expected_body(["a{b", "c}d", "e", "p1"])))
    batches = [b for chunk in chunks for b in packer.feed(chunk)] + packer.finish()
    for batch in batches:
        assert batch.members == len(json.loads(batch.body)["parameters"]["members"])
    assert sum(b.members for b in batches) == sum(len(c) for c in chunks)


@pytest.mark.parametrize("uid", ['a"b', "a\\b", "tab\there", "new\nline", "é", "日本", "😀", "\x7f", "a/b"])
def test_wire_form_matches_json(uid: str) -> None:
    assert '"' + wire_form(uid) + '"' == json.dumps(uid, ensure_ascii=False)
    assert uid_from_wire(wire_form(uid)) == uid


def test_invalid_reasons_and_too_large() -> None:
    packer, batches = pack_all(["ok", "", "   ", "a\x00b", "\udc80x", 5, None, "x" * 5000], 1_000)
    assert [b.wires for b in batches] == [["ok"]]
    assert packer.invalid == 7
    assert packer.invalid_reasons["uid too large to fit in one request"] == 1
    assert packer.invalid_reasons["empty uid"] == 2


def test_uid_that_exactly_fits_alone_is_sent() -> None:
    budget = len(expected_body(["x" * 100]))
    packer, batches = pack_all(["x" * 100, "y" * 101], budget)
    assert [len(b.body) for b in batches] == [budget]
    assert packer.invalid == 1


def test_duplicates_dropped_within_request_and_optionally_run_wide() -> None:
    items = ["a", "b", "a", "c", "b", "a"]
    packer, batches = pack_all(items, 10_000, chunk=2)
    assert [w for b in batches for w in b.wires] == ["a", "b", "c"]
    assert packer.duplicates == 3
    # Small requests: "a" lands in two different requests unless run-wide dedupe is on.
    small = len(expected_body(["a", "b"]))
    packer, batches = pack_all(["a", "b", "c", "d", "a"], small, chunk=1)
    assert sum(b.wires.count("a") for b in batches) == 2 and packer.duplicates == 0
    packer, batches = pack_all(["a", "b", "c", "d", "a"], small, chunk=1, dedupe=True)
    assert sum(b.wires.count("a") for b in batches) == 1 and packer.duplicates == 1


def test_budget_smaller_than_envelope_is_rejected() -> None:
    with pytest.raises(ValueError, match="no room"):
        Packer(ENV, ENV.overhead + 5)


def test_batches_are_deterministic_for_the_same_input() -> None:
    items = [f"u{i % 700}" for i in range(5_000)]
    one = [(b.index, b.position, b.body) for b in pack_all(items, 1_500, chunk=300)[1]]
    two = [(b.index, b.position, b.body) for b in pack_all(items, 1_500, chunk=300)[1]]
    assert one == two
