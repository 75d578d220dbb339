"""The block extractor behind the docs tests, and the hygiene of the skip markers in docs/."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.docs._blocks import SKIP_MARKER, blocks, python_blocks
from tests.docs.test_examples import DOCS, compile_block, run_block

PAGE = """# Page

```python
x = 1
```

<!-- docs-test: skip -->

```python
raise SystemExit("needs credentials")
```

```json
{"not": "python"}
```

1. A list item:

    ```py
    y = x + 1
    ```

````markdown
```python
inside = "a longer fence: not a block of its own"
```
````

```text
output
```
"""


@pytest.fixture
def page(tmp_path: Path) -> Path:
    path = tmp_path / "page.md"
    path.write_text(PAGE, encoding="utf-8")
    return path


def test_finds_python_blocks_in_order_with_lines_and_skip_flag(page: Path) -> None:
    found = python_blocks(page)
    assert [(b.line, b.skip, b.code) for b in found] == [
        (3, False, "x = 1\n"),
        (9, True, 'raise SystemExit("needs credentials")\n'),
        (19, False, "y = x + 1\n"),
    ]


def test_other_languages_and_nested_fences_are_not_python(page: Path) -> None:
    infos = [b.info for b in blocks(page)]
    assert infos == ["python", "python", "json", "py", "markdown", "text"]


async def test_blocks_share_one_namespace_in_order(page: Path) -> None:
    namespace: dict[str, object] = {}
    for block in python_blocks(page):
        if not block.skip:
            await run_block(block, namespace)
    assert namespace["y"] == 2


async def test_blocks_run_on_the_loop_and_asyncio_run_scripts_in_a_thread(tmp_path: Path) -> None:
    path = tmp_path / "p.md"
    path.write_text(
        "```python\nimport asyncio, threading\nawait asyncio.sleep(0)\nawait_thread = threading.get_ident()\n```\n"
        "```python\ntask = asyncio.create_task(asyncio.sleep(0, result=7))\nplain_thread = threading.get_ident()\n```\n"
        "```python\nasync def main():\n    return threading.get_ident()\nscript_thread = asyncio.run(main())\n```\n",
        encoding="utf-8",
    )
    namespace: dict[str, Any] = {}
    for block in python_blocks(path):
        await run_block(block, namespace)
    assert await namespace["task"] == 7
    assert namespace["await_thread"] == namespace["plain_thread"] == threading.get_ident()
    assert namespace["script_thread"] != threading.get_ident()


def test_tracebacks_point_at_the_page_line(page: Path) -> None:
    block = python_blocks(page)[1]
    code = compile_block(block)
    assert code.co_filename.endswith("page.md")
    with pytest.raises(SystemExit) as info:
        exec(code, {})
    assert info.traceback[-1].lineno + 1 == block.line + 1  # pytest's lineno is 0-based


@pytest.mark.parametrize("path", sorted(DOCS.rglob("*.md")), ids=lambda p: str(p.relative_to(DOCS)))
def test_every_skip_marker_in_docs_precedes_a_python_block(path: Path) -> None:
    markers = path.read_text(encoding="utf-8").count(SKIP_MARKER)
    assert markers == sum(b.skip for b in python_blocks(path)), f"{path.name}: a skip marker before no python block"
