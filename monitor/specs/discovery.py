"""Google's API discovery documents (`calendar.v3.json`) read as an OpenAPI 3.0 `Spec`.

Google publishes discovery documents, not OpenAPI. Each discovery method (`httpMethod`, `flatPath`
relative to `servicePath`, a `response` schema by name) becomes an OpenAPI operation, and the
document's `schemas` become `components.schemas` with `$ref: Event` rewritten to a JSON Pointer,
so `Spec.find_operation` and the contract verifier read it like any other description.

A discovery document names no status codes. Google answers a method that declares a `response`
with 200 and one that declares none (the deletes) with 204 and no body; those are the statuses
written here, and nothing else is invented.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from monitor.specs.document import Spec, SpecError, UnsupportedSpec

_SCHEMA_KEYS = ("type", "enum", "format", "description", "default", "additionalProperties", "items")


def is_discovery(document: Any) -> bool:
    return isinstance(document, Mapping) and "discoveryVersion" in document and "resources" in document


def load_discovery(path: Path) -> Spec:
    """Read a discovery document (.json) as a Spec."""
    try:
        document = json.loads(path.read_bytes())
    except ValueError as exc:
        raise SpecError(f"{path}: not valid JSON: {exc}") from exc
    if not is_discovery(document):
        raise UnsupportedSpec(f"{path}: not a Google discovery document (no discoveryVersion)")
    return Spec(discovery_to_openapi(document), source=str(path))


def _methods(resources: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for resource in resources.values():
        yield from (resource.get("methods") or {}).values()
        yield from _methods(resource.get("resources") or {})


def _ref(name: str) -> str:
    return f"#/components/schemas/{name}"


def _schema(node: Any) -> Any:
    """A discovery schema in OpenAPI's terms: `$ref` by name to a pointer; type `any` unconstrained."""
    if not isinstance(node, Mapping):
        return node
    if "$ref" in node:
        return {"$ref": _ref(str(node["$ref"]))}
    out: dict[str, Any] = {}
    for key in _SCHEMA_KEYS:
        if key not in node or (key == "type" and node[key] == "any"):
            continue
        value = node[key]
        out[key] = _schema(value) if key in ("items", "additionalProperties") else value
    if isinstance(node.get("properties"), Mapping):
        out["properties"] = {k: _schema(v) for k, v in node["properties"].items()}
    return out


def discovery_to_openapi(document: Mapping[str, Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method in _methods(document.get("resources") or {}):
        template = "/" + str(method.get("flatPath") or method["path"]).lstrip("/")
        response = method.get("response")
        if isinstance(response, Mapping) and "$ref" in response:
            schema = {"$ref": _ref(str(response["$ref"]))}
            responses: dict[str, Any] = {
                "200": {"description": "OK", "content": {"application/json": {"schema": schema}}}
            }
        else:
            responses = {"204": {"description": "No Content"}}
        operation = {"operationId": method.get("id"), "responses": responses}
        paths.setdefault(template, {})[str(method["httpMethod"]).lower()] = operation
    base = str(document.get("rootUrl", "")) + str(document.get("servicePath", ""))
    return {
        "openapi": "3.0.3",
        "info": {"title": document.get("title", ""), "version": document.get("version", "")},
        "servers": [{"url": base}] if base else [],
        "paths": paths,
        "components": {"schemas": {k: _schema(v) for k, v in (document.get("schemas") or {}).items()}},
    }
