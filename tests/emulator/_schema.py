"""Validation of emulator responses against the vendor's OpenAPI response schemas.

Schemas are "closed" first (``allOf`` merged, ``additionalProperties: false`` on every object that lists
its properties), so a response with an invented key fails too — the vendor files declare no required
keys, and without closing almost any object would pass.
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

from tests._services import SPEC_FILES, openapi_dir

_ROUTES = [
    ("POST", re.compile(r"^/v2/custom-segments/file-segment$"), "/v2/custom-segments/file-segment"),
    ("PUT", re.compile(r"^/v2/custom-segments/file-segment/add-users$"), "/v2/custom-segments/file-segment/add-users"),
    (
        "PUT",
        re.compile(r"^/v2/custom-segments/file-segment/remove-users$"),
        "/v2/custom-segments/file-segment/remove-users",
    ),
    ("PUT", re.compile(r"^/v2/custom-segments/file-segment/replace$"), "/v2/custom-segments/file-segment/replace"),
    ("PATCH", re.compile(r"^/v2/custom-segments/archive$"), "/v2/custom-segments/archive"),
    ("PATCH", re.compile(r"^/v2/custom-segments/unarchive$"), "/v2/custom-segments/unarchive"),
    ("GET", re.compile(r"^/v3/custom-segments/?$"), "/v3/custom-segments"),
    ("POST", re.compile(r"^/v3/custom-segments/?$"), "/v3/custom-segments"),
    ("GET", re.compile(r"^/v3/custom-segments/[^/]+$"), "/v3/custom-segments/{id}"),
    ("PATCH", re.compile(r"^/v3/custom-segments/[^/]+$"), "/v3/custom-segments/{id}"),
    ("POST", re.compile(r"^/v1/integrations/cohortsync$"), "/v1/integrations/cohortsync"),
]
# Statuses an operation may return that its spec does not list (documented elsewhere or assumed).
_FAMILY_ERROR = {
    "/v2": ("custom-segments.json", "#/components/schemas/ApiErrorV2"),
    "/v3": ("custom-segments.json", "#/components/schemas/ErrorResponseV3"),
    "/v1": ("cohort-audience.json", "#/components/schemas/ErrorResponse"),
}


def _close(node: Any, components: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_close(x, components) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _close(v, components) for k, v in node.items() if k not in ("example", "examples")}
    if "allOf" in node and all(isinstance(p, dict) for p in node["allOf"]):
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in node["allOf"]:
            if "$ref" in part:
                part = _close(components[part["$ref"].rsplit("/", 1)[-1]], components)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        node = {k: v for k, v in node.items() if k != "allOf"} | merged
    if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


@lru_cache(maxsize=1)
def _specs() -> dict[str, dict[str, Any]]:
    folder = openapi_dir()
    assert folder is not None
    out = {}
    for name in SPEC_FILES:
        spec = json.loads((folder / name).read_text())
        closed = copy.deepcopy(spec)
        closed["components"]["schemas"] = {
            k: _close(v, spec["components"]["schemas"]) for k, v in spec["components"]["schemas"].items()
        }
        out[name] = closed
    return out


def _registry() -> referencing.Registry[Any]:
    resources = [
        (f"urn:{name}", referencing.Resource.from_contents(spec, referencing.jsonschema.DRAFT7))
        for name, spec in _specs().items()
    ]
    return referencing.Registry().with_resources(resources)


def response_schema(method: str, path: str, status: int) -> tuple[dict[str, Any], bool]:
    """``(schema, documented)`` for a response; undocumented statuses get the family's error schema."""
    matches = [t for verb, pattern, t in _ROUTES if verb == method and pattern.match(path)]
    if not matches:
        raise AssertionError(f"no operation for {method} {path}")
    template = matches[0]
    file = "cohort-audience.json" if template.startswith("/v1") else "custom-segments.json"
    spec = _specs()[file]
    responses = spec["paths"][template][method.lower()]["responses"]
    response = responses.get(str(status)) or (responses.get("5XX") if status >= 500 else None)
    if response is not None:
        if "$ref" in response:
            response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
        schema = response["content"]["application/json"]["schema"]
        return {"$ref": f"urn:{file}#{_pointer(schema)}"} if "$ref" in schema else _anchor(schema, file), True
    family_file, pointer = _FAMILY_ERROR[template[:3]]
    return {"$ref": f"urn:{family_file}{pointer}"}, False


def _pointer(schema: dict[str, Any]) -> str:
    return str(schema["$ref"]).lstrip("#")


def _anchor(schema: Any, file: str) -> Any:
    # Inline schemas (oneOf of refs) point into the same document.
    if isinstance(schema, dict):
        return {k: (f"urn:{file}{v}" if k == "$ref" else _anchor(v, file)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_anchor(x, file) for x in schema]
    return schema


def validate_response(method: str, path: str, status: int, body: Any) -> bool:
    """Raise ``jsonschema.ValidationError`` if ``body`` breaks the schema; return whether it was documented."""
    schema, documented = response_schema(method, path, status)
    validator = jsonschema.Draft7Validator(schema, registry=_registry())
    validator.validate(body)
    return documented
