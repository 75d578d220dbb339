"""Every ```python block of docs/**/*.md runs, in page order, against a local emulator.

Each page gets a fresh emulator (on a background thread) and a fresh namespace shared by its blocks, like
doctest. The environment is set so that ``AsyncClient()`` and ``Client()`` with no arguments talk to that
emulator (``MOENGAGE_BASE_URL``, ``MOENGAGE_WORKSPACE_ID``, ``MOENGAGE_API_KEY``, ``MOENGAGE_DB_NAME``),
and the working directory is a temporary one. The namespace starts with:

* ``client``: an open ``AsyncClient()`` (closed after the page);
* ``emu``: the page's ``Emulator`` (1,000 seeded users ``user-0000000``… with e-mails, plus ``u1``…``u5``;
  cohort sync accepts any uid);
* ``cohort``: ``Cohort(id="churn-risk", name="Churn risk", partner="warehouse")``;
* ``uids``: the 1,000 seeded uids; the same uids are in ``uids.txt`` in the working directory;
* ``__name__ == "__main__"``, so ``if __name__ == "__main__": asyncio.run(main())`` runs.

The emulator enforces the documented limits (a page may do at most 10 file-segment operations, the
hourly quota), and a block taking longer than 60 s fails.

Blocks run on the test's event loop, as cells of a notebook or ``python -m asyncio`` do: top-level
``await``/``async with``/``async for`` and ``asyncio.create_task`` work, and so does the blocking ``Client``
(it has its own loop thread). A block that calls ``asyncio.run(...)`` is a script: it runs in a worker
thread.
Skip a block with ``<!-- docs-test: skip -->`` on the line before its fence (see ``_blocks.py``).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moengage_segments import AsyncClient, Cohort
from moengage_segments.testing import Emulator
from tests.docs._blocks import Block, python_blocks

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if python_blocks(p))
BLOCK_TIMEOUT = 60.0
ENV = ("MOENGAGE_BASE_URL", "MOENGAGE_WORKSPACE_ID", "MOENGAGE_API_KEY", "MOENGAGE_DB_NAME", "MOENGAGE_DATA_CENTER")


@pytest.fixture
def page_emulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Emulator, list[str]]]:
    """A fresh emulator, the MOENGAGE_* variables pointing at it, a temporary working directory."""
    root, sdk = logging.getLogger(), logging.getLogger("moengage_segments")
    saved = (root.level, list(root.handlers), sdk.level)
    with Emulator.in_thread(accept_any_uid=True) as emu:
        for name in ENV:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("MOENGAGE_BASE_URL", emu.base_url)
        monkeypatch.setenv("MOENGAGE_WORKSPACE_ID", emu.workspace_id)
        monkeypatch.setenv("MOENGAGE_API_KEY", emu.api_key)
        monkeypatch.setenv("MOENGAGE_DB_NAME", emu.db_name)
        monkeypatch.chdir(tmp_path)
        emu.add_users(["u1", "u2", "u3", "u4", "u5"])
        uids = emu.generate_users(1000, with_email=True)
        (tmp_path / "uids.txt").write_text("\n".join(uids) + "\n", encoding="utf-8")
        try:
            yield emu, uids
        finally:
            root.setLevel(saved[0])
            root.handlers[:] = saved[1]
            sdk.setLevel(saved[2])


def compile_block(block: Block) -> Any:
    """Compile with top-level await allowed; line numbers are the page's."""
    source = "\n" * block.line + block.code
    name = block.path.relative_to(REPO) if block.path.is_relative_to(REPO) else block.path
    return compile(source, str(name), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def calls_asyncio_run(block: Block) -> bool:
    """True when the block calls ``asyncio.run``: it must not run inside a running event loop."""
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "run"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "asyncio"
        for node in ast.walk(ast.parse(block.code))
    )


async def run_block(block: Block, namespace: dict[str, Any]) -> None:
    code = compile_block(block)
    if calls_asyncio_run(block):
        await asyncio.wait_for(asyncio.to_thread(exec, code, namespace), BLOCK_TIMEOUT)
    elif code.co_flags & inspect.CO_COROUTINE:
        await asyncio.wait_for(eval(code, namespace), BLOCK_TIMEOUT)
    else:
        exec(code, namespace)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
async def test_page_examples_run(page: Path, page_emulator: tuple[Emulator, list[str]]) -> None:
    emu, uids = page_emulator
    async with AsyncClient() as client:
        namespace: dict[str, Any] = {
            "__name__": "__main__",
            "client": client,
            "emu": emu,
            "cohort": Cohort(id="churn-risk", name="Churn risk", partner="warehouse"),
            "uids": uids,
        }
        for block in python_blocks(page):
            if block.skip:
                continue
            failure = None
            try:
                await run_block(block, namespace)
            except Exception as exc:
                failure = f"{block.where}: {type(exc).__name__}: {exc}\n--- block ---\n{block.code}"
            if failure is not None:
                pytest.fail(failure, pytrace=False)
