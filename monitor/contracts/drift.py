"""Comparing one response with a contract operation: every difference is a `Drift` with a JSON
pointer into the body and the contract's (recorded) value type beside the live one.

Kinds: a removed field, a changed type, a new status code, a changed content type, and any other
broken rule of the contract's schema (Slack's HTTP 200 with `"ok": false` breaks `const: true`).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from monitor.contracts.model import ContractOperation
from monitor.jsontypes import json_type


class DriftKind(enum.StrEnum):
    REMOVED = "removed"
    RETYPED = "retyped"
    STATUS = "status"
    CONTENT_TYPE = "content_type"
    NOT_JSON = "not_json"
    VIOLATION = "violation"


@dataclass(frozen=True, slots=True)
class Drift:
    kind: DriftKind
    pointer: str  # JSON Pointer into the response body; "" for status and content type
    expected: str
    found: str

    def describe(self) -> str:
        where = self.pointer or "(response)"
        return f"{where}: expected {self.expected}, found {self.found}"


def schema_types(schema: Mapping[str, Any]) -> set[str] | None:
    """The JSON types a (contract) schema allows, or None when it does not say."""
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {str(x) for x in t}
    if "const" in schema:
        return {json_type(schema["const"])}
    if "enum" in schema:
        return {json_type(v) for v in schema["enum"]}
    return None


def pointer(parts: Sequence[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def compare(
    op: ContractOperation,
    *,
    status: int,
    content_type: str | None,
    body: Any,
    body_is_json: bool,
) -> list[Drift]:
    """Every way this response departs from `op`; [] when it conforms."""
    out: list[Drift] = []
    if status != op.status:
        out.append(Drift(DriftKind.STATUS, "", f"status {op.status}", f"status {status}"))
        return out  # a different answer altogether: its body is not the one the contract describes
    if op.content_type is not None and media_type(content_type) != media_type(op.content_type):
        found = media_type(content_type) or "no content type"
        out.append(Drift(DriftKind.CONTENT_TYPE, "", f"content type {op.content_type}", f"{found}"))
    if op.response is None:
        return out
    if not body_is_json:
        out.append(Drift(DriftKind.NOT_JSON, "", "a JSON document", _short(body) or "an empty body"))
        return out
    return out + schema_drift(op.response, body)


def schema_drift(schema: Mapping[str, Any], body: Any) -> list[Drift]:
    out: list[Drift] = []
    errors = Draft202012Validator(schema).iter_errors(body)
    # A broken `const` (Slack's `ok: false`) explains the rest of the answer: report it first.
    for err in sorted(errors, key=lambda e: (e.validator != "const", [str(p) for p in e.absolute_path])):
        path = list(err.absolute_path)
        if err.validator == "required":
            for name in err.validator_value:
                if isinstance(err.instance, dict) and name not in err.instance:
                    want = _declared_type(err.schema, name)
                    out.append(Drift(DriftKind.REMOVED, pointer([*path, name]), want, "missing"))
        elif err.validator == "type":
            want = err.validator_value
            want = " or ".join(want) if isinstance(want, list) else str(want)
            out.append(
                Drift(DriftKind.RETYPED, pointer(path), f"type {want}", f"type {json_type(err.instance)}")
            )
        else:
            out.append(
                Drift(
                    DriftKind.VIOLATION,
                    pointer(path),
                    f"{err.validator} {_short(err.validator_value)}",
                    _found(err.instance, path, body),
                )
            )
    return out


def _declared_type(schema: Any, name: str) -> str:
    prop = schema.get("properties", {}).get(name) if isinstance(schema, Mapping) else None
    if isinstance(prop, Mapping):
        if "type" in prop:
            t = prop["type"]
            return "type " + (" or ".join(t) if isinstance(t, list) else str(t))
        if "const" in prop:
            return f"type {json_type(prop['const'])}"
    return "present"


def _found(instance: Any, path: list[Any], body: Any) -> str:
    text = f"{json_type(instance)} {_short(instance)}"
    # The HTTP 200 that lies says why next to `ok`: show it.
    if path == ["ok"] and isinstance(body, dict) and "error" in body:
        text += f" (error {_short(body['error'])})"
    return text


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
