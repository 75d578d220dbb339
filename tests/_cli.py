"""Running the CLI's ``main()`` inside the test process, the way a subprocess would see it.

An in-process run skips the ~0.5 s of imports a ``python -m moengage_segments`` costs; the CLI tests (and
the secrets tests) use it for everything but what only a real process shows: exit codes through the entry
point, signals, what reaches the file descriptors.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import pytest


class CLIResult(NamedTuple):
    """What a CLI run left behind; unpacks as ``code, out, err`` and reads like a ``CompletedProcess``."""

    returncode: int
    stdout: str
    stderr: str


def invoke_main(
    args: tuple[str, ...] | list[str],
    *,
    env: Mapping[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stdin: str | None = None,
    stdin_dir: Path | None = None,
) -> CLIResult:
    """``main(args)`` with exactly the ``MOENGAGE_*`` variables of ``env`` set (the rest removed).

    ``stdin`` is served from a real file in ``stdin_dir`` (the cohort reader reads the descriptor).
    """
    from moengage_segments.cli import main

    with monkeypatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("MOENGAGE_"):
                patch.delenv(key)
        for key, value in env.items():
            if key.startswith("MOENGAGE_"):
                patch.setenv(key, value)
        if stdin is None:
            capsys.readouterr()  # only this call's output
            code = main(list(args))
        else:
            if stdin_dir is None:
                raise ValueError("stdin needs a stdin_dir to put its file in")
            path = stdin_dir / f"stdin-{uuid.uuid4().hex}.txt"
            path.write_bytes(stdin.encode())  # byte for byte: line ends are part of some tests
            with path.open() as stream:
                patch.setattr(sys, "stdin", stream)
                capsys.readouterr()
                code = main(list(args))
    captured = capsys.readouterr()
    return CLIResult(code, captured.out, captured.err)
