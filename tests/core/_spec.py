"""The vendor's OpenAPI files as test data: example bodies per (operation, status) and request schemas.

The folder comes from ``tests._services.openapi_dir``: tests that need it skip with a clear reason when it
is absent (and fail under ``MOENGAGE_REQUIRE_SPEC=1``).
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests._services import openapi_dir, require_openapi, spec_missing_reason

SEGMENTS = "custom-segments.json"
COHORT = "cohort-audience.json"


def _load(name: str) -> dict[str, Any] | None:
    folder = openapi_dir()
    return None if folder is None else _parse(folder / name)


@functools.cache
def _parse(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load(name: str) -> dict[str, Any]:
    """The parsed spec, or skip the calling test naming the folder that was looked in."""
    return _parse(require_openapi() / name)


def spec_for(path: str) -> dict[str, Any]:
    return load(COHORT if path.startswith("/v1/") else SEGMENTS)


def _deref(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _pointer(spec, node["$ref"])
    return node


def _pointer(spec: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def operation(path: str, method: str) -> dict[str, Any]:
    spec = spec_for(path)
    op: dict[str, Any] = spec["paths"][path][method.lower()]
    return op


def documented_statuses(path: str, method: str) -> list[int]:
    return sorted(int(s) for s in operation(path, method)["responses"])


def _media_examples(media: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    if "example" in media:
        yield "example", media["example"]
    for name, example in (media.get("examples") or {}).items():
        yield name, example["value"]


def response_examples(path: str, method: str, status: int) -> list[tuple[str, Any]]:
    """Every example body the vendor documents for this operation and status."""
    spec = spec_for(path)
    response = _deref(spec, operation(path, method)["responses"][str(status)])
    media = (response.get("content") or {}).get("application/json") or {}
    return list(_media_examples(media))


def request_examples(path: str, method: str) -> list[tuple[str, Any]]:
    media = operation(path, method)["requestBody"]["content"]["application/json"]
    return list(_media_examples(media))


# --- request schemas -------------------------------------------------------------------------------


def _openapi_to_jsonschema(node: Any) -> Any:
    """Adapt OpenAPI 3.0 schema objects to JSON Schema draft 4 (``nullable``; drop doc-only keywords)."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: _openapi_to_jsonschema(v)
        for k, v in node.items()
        if k not in ("discriminator", "example", "examples", "xml", "externalDocs", "deprecated")
    }
    if out.pop("nullable", False) is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc)


@functools.cache
def _registry(name: str) -> tuple[Registry, str]:
    spec = load(name)
    uri = f"urn:moengage:{name}"
    contents = _openapi_to_jsonschema(copy.deepcopy(spec))
    resource = Resource.from_contents(contents, default_specification=DRAFT4)
    return Registry().with_resource(uri, resource), uri


def request_schema_ref(path: str, method: str) -> str:
    ref: str = operation(path, method)["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return ref


def request_validator(path: str, method: str) -> jsonschema.Draft4Validator:
    name = COHORT if path.startswith("/v1/") else SEGMENTS
    registry, uri = _registry(name)
    schema = {"$ref": uri + request_schema_ref(path, method)}
    return jsonschema.Draft4Validator(schema, registry=registry, format_checker=_FORMATS)


def documented_properties(path: str, method: str) -> set[str]:
    """Top-level property names of the request schema (following ``allOf``)."""
    spec = spec_for(path)
    names: set[str] = set()

    def walk(node: Any) -> None:
        node = _deref(spec, node)
        names.update((node.get("properties") or {}).keys())
        for part in node.get("allOf") or ():
            walk(part)

    walk({"$ref": request_schema_ref(path, method)})
    return names


def assert_conforms(path: str, method: str, body: Any) -> None:
    errors = sorted(request_validator(path, method).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{method} {path} body does not match the vendor schema:\n" + "\n".join(
        f"  at {list(e.path)}: {e.message}" for e in errors[:10]
    )
    undocumented = set(body) - documented_properties(path, method)
    assert not undocumented, f"{method} {path} sends undocumented keys {sorted(undocumented)}"


def request_example_params(path: str, method: str) -> list[Any]:
    """``pytest.param`` per vendor request example, or one skipped param when the spec is absent."""
    name = COHORT if path.startswith("/v1/") else SEGMENTS
    if _load(name) is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=spec_missing_reason()))]
    return [pytest.param(value, id=example) for example, value in request_examples(path, method)]
