"""tools/gen_sync.py: the committed sync client is current, --check catches staleness, a missing ruff is an
error, every kind of parameter is forwarded, docstrings lose their async words, and what a blocking caller
could not use is refused with the source line."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_sync", REPO / "tools" / "gen_sync.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_sync"] = module
    spec.loader.exec_module(module)
    return module


gen_sync = _load_tool()


def test_committed_sync_client_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert gen_sync.main(["--check"]) == 0, capsys.readouterr().out
    assert capsys.readouterr().out == ""


def test_check_fails_with_a_diff_when_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for sub in ("moengage_segments/_async", "moengage_segments/_sync"):
        shutil.copytree(REPO / sub, tmp_path / sub, ignore=shutil.ignore_patterns("__pycache__"))
    client = tmp_path / "moengage_segments/_async/client.py"
    client.write_text(client.read_text().replace("List segments, or only", "List all segments, or only"))
    assert gen_sync.main(["--check"], root=tmp_path) == 1
    out = capsys.readouterr()
    assert "--- moengage_segments/_sync/client.py (committed)" in out.out
    assert '+        """List all segments, or only' in out.out
    assert "stale" in out.err
    # without --check it rewrites the file, after which --check passes
    assert gen_sync.main([], root=tmp_path) == 0
    assert gen_sync.main(["--check"], root=tmp_path) == 0
    # a hand edit of the generated file, even a blank line, is stale too
    generated = tmp_path / "moengage_segments/_sync/client.py"
    generated.write_text(generated.read_text() + "\n")
    assert gen_sync.main(["--check"], root=tmp_path) == 1


def test_a_missing_formatter_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A Python without site-packages cannot import ruff: the generator stops rather than write unformatted code.
    python = tmp_path / "python-without-ruff"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "$@"\n')
    python.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(python))
    with pytest.raises(gen_sync.GenError, match="ruff failed"):
        gen_sync.format_source("x = 1\n", "moengage_segments/_sync/client.py")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with pytest.raises(gen_sync.GenError, match="cannot run ruff"):
        gen_sync.format_source("x = 1\n", "moengage_segments/_sync/client.py")


# -- small async sources: every kind of parameter, and what is refused ------------------------------

_SOURCE = '''
from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Literal

LIMIT = 3


class AsyncThings:
    """Things of an ``AsyncClient``.

    Example::

        async with AsyncClient() as client:
            async for x in xs:
                print(await client.things.get("a"))
    """

    def __init__(self) -> None:
        self._n = 0

{member}

class AsyncClient:
    """The asynchronous client."""

    things: AsyncThings

    def __init__(self, name: str, *, limit: int = LIMIT) -> None:
        self.things = AsyncThings()

    async def aclose(self) -> None:
        """Close; see ``aclose``."""
'''

_SHAPES = '''
    async def get(self, key: str, /, *, mode: Literal["a", "b"] = "a", limit: int = LIMIT) -> str:
        """Get."""
        return f"{key} {mode} {limit}"

    async def total(self, items: Iterable[str] | AsyncIterable[str], *extra: str, **weights: int) -> int:
        """Total."""
        assert isinstance(items, Iterable)
        return len(list(items)) + len(extra) + sum(weights.values())

    async def run(self, path: str | os.PathLike[str], hook: Callable[[], Awaitable[None]] | None = None) -> None:
        """Run; ``hook`` may be a coroutine function."""

    @property
    def label(self) -> str:
        """The label."""
        return "things"

    async def _private(self) -> AsyncIterator[int]:
        yield 1
'''


def _generate(tmp_path: Path, member: str) -> str:
    source = tmp_path / gen_sync.SOURCE
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(_SOURCE.replace("{member}", member))
    return gen_sync.format_source(gen_sync.Generator(tmp_path).build(), gen_sync.OUTPUT + "/client.py")


def test_every_kind_of_parameter_is_forwarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _generate(tmp_path, _SHAPES)
    assert 'def get(self, key: str, /, *, mode: Literal["a", "b"] = "a", limit: int = LIMIT) -> str:' in text
    assert "return self._portal.call(self._async.get, key, mode=mode, limit=limit)" in text
    # the async alternative is dropped; *args and **kwargs are forwarded as such
    assert "def total(self, items: Iterable[str], *extra: str, **weights: int) -> int:" in text
    assert "return self._portal.call(self._async.total, items, *extra, **weights)" in text
    # an awaitable callback runs on the client's loop: its type is forwarded unchanged
    assert "hook: Callable[[], Awaitable[None]] | None = None" in text
    assert '    def label(self) -> str:\n        """The label."""\n        return self._async.label' in text
    assert "_private" not in text
    assert "def __init__(self, name: str, *, limit: int = LIMIT) -> None:" in text
    assert "self.things: Things = Things(self._async.things, self._portal)" in text
    assert "from collections.abc import Awaitable, Callable, Iterable\n" in text
    assert "from moengage_segments._async.client import LIMIT, AsyncClient, AsyncThings\n" in text

    # And it runs: the generated module against this async source.
    spec = importlib.util.spec_from_file_location("fake_async_client", tmp_path / gen_sync.SOURCE)
    assert spec and spec.loader
    source = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(source)
    monkeypatch.setitem(sys.modules, gen_sync.SOURCE_MODULE, source)
    generated: dict[str, Any] = {}
    exec(compile(text, "generated_client.py", "exec"), generated)
    client = generated["Client"]("n")
    try:
        assert client.things.get("k", mode="b") == "k b 3"
        assert client.things.total(iter("ab"), "c", x=10, y=100) == 113
        assert client.things.label == "things"
    finally:
        client.close()


def test_docstrings_lose_their_async_words(tmp_path: Path) -> None:
    text = _generate(tmp_path, _SHAPES)
    assert "Things of a ``Client``." not in text  # the article is left alone, the name is not
    assert "Things of an ``Client``." in text
    assert "        with Client() as client:\n            for x in xs:\n" in text
    assert 'print(client.things.get("a"))' in text
    assert '"""The blocking client.' in text and "Close; see ``close``." in text
    text = text.replace(gen_sync.CLIENT_NOTE, "")  # the client's note on how it runs names the async one
    docstrings = "".join(re.findall(r'"""(.*?)"""', text[text.index("class Client") :], re.S))
    assert not re.search(r"\bawait\b|\basync\b", docstrings)


def test_sync_docstring_table() -> None:
    doc = "Example::\n\n    async with AsyncClient() as c:\n        await c.aclose()\n        async for x in y: ..."
    assert gen_sync.sync_docstring(doc, ["AsyncClient"]) == (
        "Example::\n\n    with Client() as c:\n        c.close()\n        for x in y: ..."
    )
    assert gen_sync.sync_docstring("Processing is asynchronous.", []) == "Processing is asynchronous."
    with pytest.raises(gen_sync.GenError, match="'async' left in a docstring"):
        gen_sync.sync_docstring("uids may be an async iterable", [])


_BAD: dict[str, tuple[str, str]] = {
    "async-only parameter": (
        '''
    async def push(self, items: AsyncIterable[str]) -> None:
        """Push."""''',
        r"client.py:\d+: parameter type AsyncIterable\[str\] has no blocking alternative",
    ),
    "async result": (
        '''
    async def stream(self) -> AsyncIterator[int]:
        """Stream."""''',
        r"client.py:\d+: a blocking caller cannot use type AsyncIterator\[int\]",
    ),
    "namespace object": (
        '''
    async def parent(self) -> AsyncClient:
        """The client."""''',
        "a blocking caller cannot use type AsyncClient",
    ),
    "plain def": (
        '''
    def helper(self) -> int:
        """Help."""''',
        "only async methods, properties and the async protocol",
    ),
    "static method": (
        '''
    @staticmethod
    async def helper() -> int:
        """Help."""''',
        "only async methods",
    ),
    "async word left in a docstring": (
        '''
    async def push(self, items: Iterable[str]) -> None:
        """Push; ``items`` may be an async iterable too."""''',
        "AsyncThings.push: 'async' left in a docstring",
    ),
    "missing docstring": (
        """
    async def get(self) -> int:
        return 1""",
        "needs a docstring and a return annotation",
    ),
    "missing return annotation": (
        '''
    async def get(self):
        """Get."""''',
        "needs a docstring and a return annotation",
    ),
    "missing parameter annotation": (
        '''
    async def get(self, x) -> int:
        """Get."""''',
        "parameter x of get has no annotation",
    ),
    "unknown name": (
        '''
    async def get(self) -> Missing:
        """Get."""''',
        "cannot resolve name 'Missing'",
    ),
    "public class attribute": (
        """
    limit = 3""",
        "public class attribute in AsyncThings",
    ),
    "public attribute that is not a namespace": (
        """
    limit: int""",
        "public attribute of type int is not an Async\\* namespace",
    ),
}


@pytest.mark.parametrize("case", sorted(_BAD))
def test_what_cannot_be_mirrored_is_refused(case: str, tmp_path: Path) -> None:
    member, message = _BAD[case]
    with pytest.raises(gen_sync.GenError, match=message):
        _generate(tmp_path, member)
