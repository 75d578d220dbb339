"""What a new user trips over on the command line: clear messages naming their own words, and hints."""

from __future__ import annotations

from pathlib import Path

from moengage_segments.cli.failures import hint_for

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
