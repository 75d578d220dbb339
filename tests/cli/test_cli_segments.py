"""segments list|find|get|archive|unarchive and filter create|update, driven in-process through ``main()``."""

from __future__ import annotations

import json
from pathlib import Path

from moengage_segments.testing import Emulator

from .conftest import InProcess

NEW_YORK = {
    "filter_operator": "and",
    "filters": [
        {
            "filter_type": "user_attributes",
            "name": "city",
            "data_type": "string",
            "operator": "in",
            "negate": False,
            "case_sensitive": False,
            "value": ["New York"],
        }
    ],
}
LONDON = {
    "filter_operator": "and",
    "filters": [
        {
            "filter_type": "user_attributes",
            "name": "city",
            "data_type": "string",
            "operator": "in",
            "negate": False,
            "case_sensitive": False,
            "value": ["London"],
        }
    ],
}


def _definition(tmp_path: Path, doc: object, name: str = "def.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def _create(run_main: InProcess, tmp_path: Path, name: str = "ny-users") -> dict[str, object]:
    proc = run_main(
        "filter", "create", name, "--definition", _definition(tmp_path, {"included_filters": NEW_YORK}), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    created: dict[str, object] = json.loads(proc.stdout)
    return created


def test_filter_create_then_get_find_list(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    created = _create(run_main, tmp_path)
    seg_id = str(created["id"])
    assert created["name"] == "ny-users" and created["included_filters"] == NEW_YORK
    assert emu.segment(seg_id).kind == "filter"

    got = json.loads(run_main("segments", "get", seg_id, "--json").stdout)
    assert (got["id"], got["name"], got["included_filters"]) == (seg_id, "ny-users", NEW_YORK)

    found = run_main("segments", "find", "ny-users", "--json")
    assert found.returncode == 0 and json.loads(found.stdout)["id"] == seg_id

    listed = json.loads(run_main("segments", "list", "--json").stdout)
    assert [(s["id"], s["name"]) for s in listed] == [(seg_id, "ny-users")]

    human = run_main("segments", "list")
    assert human.returncode == 0 and seg_id in human.stdout and "ny-users" in human.stdout


def test_find_missing_exits_1_with_null(run_main: InProcess) -> None:
    proc = run_main("segments", "find", "nobody-has-this-name", "--json")
    assert proc.returncode == 1 and json.loads(proc.stdout) is None
    human = run_main("segments", "find", "nobody-has-this-name")
    assert human.returncode == 1 and "no segment named" in human.stdout


def test_archive_and_unarchive_by_name_and_id(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    seg_id = str(_create(run_main, tmp_path)["id"])
    proc = run_main("segments", "archive", "ny-users", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] in (200, 202)
    assert emu.segment(seg_id).status == "archived"
    proc = run_main("segments", "unarchive", "--id", seg_id)
    assert proc.returncode == 0, proc.stderr
    assert emu.segment(seg_id).status == "active"


def test_archive_needs_a_name_or_id(run_main: InProcess) -> None:
    proc = run_main("segments", "archive")
    assert proc.returncode == 2 and "NAME or --id" in proc.stderr


def test_filter_update_replaces_definition_and_renames(run_main: InProcess, emu: Emulator, tmp_path: Path) -> None:
    seg_id = str(_create(run_main, tmp_path)["id"])
    # A bare group is accepted as the included definition.
    proc = run_main(
        "filter",
        "update",
        seg_id,
        "--definition",
        _definition(tmp_path, LONDON, "london.json"),
        "--name",
        "london-users",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    updated = json.loads(proc.stdout)
    assert updated["name"] == "london-users" and updated["included_filters"] == LONDON
    info = emu.segment(seg_id)
    assert info.name == "london-users" and info.included_filters == LONDON


def test_filter_definition_from_stdin(run_main: InProcess, emu: Emulator) -> None:
    proc = run_main("filter", "create", "from-stdin", "--definition", "-", stdin=json.dumps(NEW_YORK))
    assert proc.returncode == 0, proc.stderr
    assert emu.find_segment("from-stdin") is not None


def test_invalid_definition_is_a_usage_error_naming_the_field(
    run_main: InProcess, emu: Emulator, tmp_path: Path
) -> None:
    bad = {"included_filters": {"filter_operator": "and", "filters": [{**NEW_YORK["filters"][0], "operator": "??"}]}}
    proc = run_main("filter", "create", "bad", "--definition", _definition(tmp_path, bad), "--json")
    assert proc.returncode == 2
    error = json.loads(proc.stdout)["error"]
    assert error["type"] == "ValidationError" and error["field"].startswith("included_filters.filters[0]")
    assert len(proc.stderr.strip().splitlines()) == 1  # one clear line
    assert emu.segments() == []  # nothing was sent


def test_unreadable_definitions_are_usage_errors(run_main: InProcess, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    assert run_main("filter", "create", "x", "--definition", str(path)).returncode == 2
    assert run_main("filter", "create", "x", "--definition", str(tmp_path / "missing.json")).returncode == 2
    other = _definition(tmp_path, {"something": 1})
    proc = run_main("filter", "create", "x", "--definition", other)
    assert proc.returncode == 2 and "included_filters" in proc.stderr


def test_duplicate_filter_segment_is_an_api_error(run_main: InProcess, tmp_path: Path) -> None:
    _create(run_main, tmp_path)
    proc = run_main(
        "filter", "create", "ny-users", "--definition", _definition(tmp_path, {"included_filters": NEW_YORK}), "--json"
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["status"] == 409
    assert "409" in proc.stderr


def test_list_with_no_segments_says_so(run_main: InProcess) -> None:
    proc = run_main("segments", "list")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "no segments\n"
    assert json.loads(run_main("segments", "list", "--json").stdout) == []
    assert run_main("segments", "list", "--name", "ghost").stdout == "no segment named 'ghost'\n"


def test_archive_by_id_shows_the_id_it_was_given(run_main: InProcess, tmp_path: Path) -> None:
    created = _create(run_main, tmp_path)
    proc = run_main("segments", "archive", "--id", str(created["id"]))
    assert proc.returncode == 0, proc.stderr
    id_line = next(line for line in proc.stdout.splitlines() if line.strip().startswith("segment id"))
    assert id_line.split() == ["segment", "id", str(created["id"])]
    doc = json.loads(run_main("segments", "unarchive", "--id", str(created["id"]), "--json").stdout)
    assert doc["segment_id"] == created["id"]


def test_definition_errors_name_the_flag_and_file(run_main: InProcess, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    proc = run_main("filter", "create", "x", "--definition", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: --definition {bad}: not valid JSON") and len(proc.stderr.splitlines()) == 1
    proc = run_main("filter", "create", "x", "--definition", "-", stdin="[1,")
    assert proc.returncode == 2 and "standard input (--definition -): not valid JSON" in proc.stderr
    missing = tmp_path / "none.json"
    proc = run_main("filter", "update", "0123456789abcdef01234567", "--definition", str(missing))
    assert proc.returncode == 2 and f"--definition {missing}: No such file or directory" in proc.stderr
