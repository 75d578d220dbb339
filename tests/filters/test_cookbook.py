"""Every cookbook entry of docs/filters.md runs, produces exactly the JSON shown, matches the vendor's
schema and is accepted by the emulator.

Regenerate the JSON blocks after changing an entry's Python with ``MOENGAGE_UPDATE_COOKBOOK=1 pytest
tests/filters/test_cookbook.py`` (then review the diff).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

import moengage_segments.filters as filters_module
from moengage_segments import AsyncClient
from moengage_segments.filters import FilterGroup, all_of, attr, coerce_group
from moengage_segments.testing import Emulator, Fault
from tests.filters._support import REPO, assert_schema_valid, spec_available

DOC = REPO / "docs" / "filters.md"
ENTRY = re.compile(r"^### (?P<title>.+?)\n(?P<body>.*?)(?=^### |\Z)", re.S | re.M)
BLOCK = re.compile(r"```(python|json)\n(.*?)```", re.S)
REFERENCED_ID = "5c93982f573bb92004975a36"


def _entries(doc: Path) -> list[tuple[str, str, str]]:
    text = doc.read_text(encoding="utf-8")
    cookbook = text.split("## Cookbook", 1)[1]
    found = []
    for m in ENTRY.finditer(cookbook):
        blocks = BLOCK.findall(m.group("body"))
        kinds = [k for k, _ in blocks]
        assert kinds == ["python", "json"], f"{m.group('title')}: expected a python then a json block"
        found.append((m.group("title"), blocks[0][1], blocks[1][1]))
    return found


ENTRIES = _entries(DOC)


def run_entry(code: str) -> dict[str, Any]:
    """Execute one cookbook block and return the request body part it defines."""
    namespace: dict[str, Any] = {name: getattr(filters_module, name) for name in filters_module.__all__}
    exec(compile(code, "<cookbook>", "exec"), namespace)
    body = {"included_filters": coerce_group(namespace["included"], "included").to_payload()}
    if "excluded" in namespace:
        body["excluded_filters"] = coerce_group(namespace["excluded"], "excluded").to_payload()
    return body


def test_cookbook_has_at_least_12_entries() -> None:
    assert len(ENTRIES) >= 12


@pytest.mark.parametrize(("title", "code", "shown"), ENTRIES, ids=[t for t, _, _ in ENTRIES])
def test_cookbook_entry_produces_the_payload_shown(title: str, code: str, shown: str) -> None:
    body = run_entry(code)
    if os.environ.get("MOENGAGE_UPDATE_COOKBOOK"):
        _rewrite(title, body)
        return
    assert shown.strip() != "TODO", f"{title}: run with MOENGAGE_UPDATE_COOKBOOK=1 to fill in the payload"
    assert json.loads(shown) == body, f"{title}: docs show a different payload; regenerate and review"
    if spec_available():
        for group in body.values():
            assert_schema_valid(group)


def _rewrite(title: str, body: dict[str, Any]) -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"### {title}\n")
    json_start = text.index("```json\n", start) + len("```json\n")
    json_end = text.index("```", json_start)
    text = text[:json_start] + json.dumps(body, indent=2) + "\n" + text[json_end:]
    DOC.write_text(text, encoding="utf-8")


async def test_cookbook_entries_are_accepted_by_the_emulator(
    moengage_emulator: Emulator, moengage_client: AsyncClient
) -> None:
    client = moengage_client
    vip = await client.filter_segments.create("VIP Customers", included=all_of(attr("tier").equals("vip")))
    for i, (title, code, _) in enumerate(ENTRIES):
        body = json.loads(json.dumps(run_entry(code)).replace(REFERENCED_ID, vip.id))
        # Every create is applied but answered 500: the SDK finds its segment by name and recognises the
        # definition in the service's echo (which drops event attributes' filter_type).
        moengage_emulator.faults.script(Fault.server_error(500, after=True), target="create_filter_segment")
        created = await client.filter_segments.create(
            f"cookbook-{i}", included=body["included_filters"], excluded=body.get("excluded_filters")
        )
        assert created.name == f"cookbook-{i}", title
        got = await client.segments.get(created.id)
        # What the service echoes back reads as typed filters and passes the strict rules again.
        assert isinstance(got.included_filters, FilterGroup), title
        coerce_group(got.included_filters, "included")
        if "excluded_filters" in body:
            assert isinstance(got.excluded_filters, FilterGroup), title
