"""Test helpers: the vendor OpenAPI file (found by ``tests._services.openapi_dir``) and a JSON-schema
validator for its ``FilterGroupV3`` component."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from tests._services import openapi_dir, require_openapi

REPO = Path(__file__).resolve().parents[2]
SPEC_FILE = "custom-segments.json"


@functools.cache
def _parse(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_spec() -> dict[str, Any]:
    """The parsed custom-segments spec, or skip naming where it was looked for."""
    return _parse(require_openapi() / SPEC_FILE)


def spec_available() -> bool:
    return openapi_dir() is not None


@functools.cache
def _validator(component: str) -> Any:
    spec = load_spec()
    # OpenAPI 3.0 schemas are (close to) draft 4; the ``discriminator`` keyword is ignored, which is fine
    # because every FilterV3 branch pins ``filter_type`` with an enum.
    schema = {"$ref": f"#/components/schemas/{component}", "components": spec["components"]}
    return jsonschema.Draft4Validator(schema)


def assert_schema_valid(payload: Any, component: str = "FilterGroupV3") -> None:
    """Fail with every schema error when ``payload`` does not match the spec's component schema."""
    errors = sorted(_validator(component).iter_errors(payload), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
