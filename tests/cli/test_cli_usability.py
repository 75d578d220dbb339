"""What a new user trips over on the command line: clear messages naming their own words, and hints."""

from __future__ import annotations

import json
from pathlib import Path

from moengage_segments.cli.failures import hint_for
from moengage_segments.models import Segment, SegmentSummary, structure
from moengage_segments.testing import Emulator

from .conftest import InProcess

COHORT = ("--cohort-id", "churn", "--partner", "warehouse")


def test_a_wrong_key_during_cohort_add_shows_the_whole_error_and_the_credentials_hint(
    run_main: InProcess, tmp_path: Path
) -> None:
    path = tmp_path / "uids.txt"
    path.write_text("".join(f"user-{i:07d}\n" for i in range(100)))
    code, out, err = run_main("cohort", "add", str(path), *COHORT, "--plain", env={"MOENGAGE_API_KEY": "wrong-key-123"})
    assert code == 1, err
    stopped = next(line for line in out.splitlines() if line.startswith("stopped early: "))
    assert "AuthenticationError" in stopped and "HTTP 401" in stopped and "..." not in stopped
    assert stopped.endswith("(check --workspace-id/--api-key or MOENGAGE_WORKSPACE_ID/MOENGAGE_API_KEY)")
    assert "wrong-key-123" not in out + err


def test_hint_for_follows_the_class_hierarchy() -> None:
    assert hint_for("AuthenticationError").startswith(" (check --workspace-id")
    assert hint_for("APITimeoutError") == " (check --data-center/--base-url and the network)"
    assert hint_for("BadRequestError") == hint_for("NoSuchError") == hint_for("ValueError") == ""


def test_a_misspelt_option_gets_a_did_you_mean(run_main: InProcess) -> None:
    code, _, err = run_main("cohort", "add", "uids.txt", "--cohort-id", "c", "--partnr", "p")
    assert code == 2
    assert err.startswith("error: unknown option --partnr; did you mean --partner?"), err
    assert "required" not in err
    code, _, err = run_main("cohort", "add", "uids.txt", *COHORT, "--dryrun")
    assert code == 2 and "unknown option --dryrun; did you mean --dry-run?" in err
    code, _, err = run_main("--jsn", "segments", "list")
    assert code == 2 and "did you mean --json?" in err
    # An unambiguous abbreviation is still accepted, as argparse does.
    listed = run_main("segments", "list", "--nam", "nothing-here")
    assert listed.returncode == 0 and listed.stdout == "no segment named 'nothing-here'\n"


def test_messages_name_the_users_words(run_main: InProcess, tmp_path: Path) -> None:
    code, _, err = run_main("cohort", "add", str(tmp_path / "missing.txt"), *COHORT)
    assert code == 2 and err.startswith("error: input file: no such file"), err
    code, _, err = run_main("filter", "create", "x", "--definition", "-", stdin="[1]")
    assert code == 2 and err.startswith("error: standard input (--definition -): the definition must be a JSON object")
    code, _, err = run_main("file", "create", "x", "--file-url", "ftp://host/x.csv", "--expiry-days", "3")
    assert code == 2 and err.startswith("error: --file-url: must be an absolute http(s) URL"), err
    code, _, err = run_main("segments", "get", "not-an-id")
    assert code == 2 and err.startswith("error: segment id: must be 24 hexadecimal"), err


def test_a_rejected_checkpoint_prints_no_progress_line_first(run_main: InProcess, tmp_path: Path) -> None:
    path = tmp_path / "uids.txt"
    path.write_text("".join(f"user-{i:07d}\n" for i in range(1_002)))
    journal = str(tmp_path / "push.journal")
    assert run_main("cohort", "add", str(path), *COHORT, "--checkpoint", journal, "--plain").returncode == 0
    code, out, err = run_main(
        "cohort", "add", str(path), "--cohort-id", "other", "--partner", "p", "--checkpoint", journal, "--plain"
    )
    assert code == 2 and err.startswith("error: checkpoint journal") and "belongs to another run" in err, err
    assert "uids (" not in err + out  # no "0/1,002 uids (0%)" line before the error


def test_demo_and_emulator_do_not_offer_connection_flags_they_ignore(run_main: InProcess) -> None:
    demo_help = run_main("demo", "--help", connect=False).stdout
    assert "--base-url" not in demo_help and "--api-key" not in demo_help and "--timeout" not in demo_help
    emulator_help = run_main("emulator", "--help", connect=False).stdout
    assert "--api-key" in emulator_help and "--workspace-id" in emulator_help and "--db-name" in emulator_help
    assert "--base-url" not in emulator_help and "--data-center" not in emulator_help
    for args in (("demo", "--base-url", "http://127.0.0.1:1"), ("--base-url", "http://127.0.0.1:1", "demo")):
        code, _, err = run_main(*args, connect=False)
        assert code == 2 and "demo does not use --base-url: it runs its own emulator" in err, err
    code, _, err = run_main("emulator", "--data-center", "01", connect=False)
    assert code == 2 and "emulator does not use --data-center" in err


def _filter_segment(run_main: InProcess, tmp_path: Path, name: str) -> str:
    definition = tmp_path / "def.json"
    definition.write_text(
        '{"filter_operator": "and", "filters": [{"filter_type": "user_attributes", "name": "city", '
        '"data_type": "string", "operator": "in", "negate": false, "case_sensitive": false, "value": ["Oslo"]}]}'
    )
    proc = run_main("filter", "create", name, "--definition", str(definition), "--json")
    assert proc.returncode == 0, proc.stderr
    return str(json.loads(proc.stdout)["id"])


def test_archive_by_name_shows_the_id_the_state_and_already_archived(
    run_main: InProcess, emu: Emulator, tmp_path: Path
) -> None:
    seg_id = _filter_segment(run_main, tmp_path, "oslo-users")
    code, out, err = run_main("segments", "archive", "oslo-users", "--plain")
    assert code == 0, err
    assert out.splitlines()[0] == "archived 'oslo-users'"
    assert f"segment id  {seg_id}" in out and "state       archived" in out, out
    code, out, _ = run_main("segments", "archive", "oslo-users", "--plain")
    assert code == 0 and out.splitlines()[0] == "'oslo-users' was already archived (nothing changed)", out
    doc = json.loads(run_main("segments", "unarchive", "--id", seg_id, "--json").stdout)
    assert doc["state"] == "active" and doc["already"] is False and doc["segment_id"] == seg_id
    doc = json.loads(run_main("segments", "unarchive", "oslo-users", "--json").stdout)
    assert doc["already"] is True and emu.segment(seg_id).status == "active"


def test_list_and_get_say_when_the_api_reports_no_state(run_main: InProcess, tmp_path: Path) -> None:
    seg_id = _filter_segment(run_main, tmp_path, "oslo-users")
    listed = run_main("segments", "list", "--plain").stdout
    assert "state" not in listed.splitlines()[1]  # the emulator, like the documented API, reports none
    got = run_main("segments", "get", seg_id, "--plain").stdout
    assert "state        not reported by the API" in got, got


def test_a_state_the_service_reports_is_read_and_listed() -> None:
    summaries = [
        structure({"id": "a" * 24, "name": "old", "status": "ARCHIVED"}, SegmentSummary),
        structure({"id": "b" * 24, "name": "new", "is_archived": False}, SegmentSummary),
        structure({"id": "c" * 24, "name": "plain"}, SegmentSummary),
    ]
    assert [s.state for s in summaries] == ["archived", "active", None]
    assert structure({"id": "d" * 24, "name": "seg", "archived": True}, Segment).state == "archived"
