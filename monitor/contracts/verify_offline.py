"""`verify --offline`: prove every contract without a network.

1. Each operation exists in the provider's published spec, with its status, and every field the
   contract relies on is declared there with a compatible type. OpenAPI 3.0/3.1 and Swagger 2.0
   are read as they are, a Google discovery document through `monitor.specs.discovery`, and a
   GraphQL SDL with graphql-core (`monitor.contracts.graphql_sdl`).
2. Each operation's pack check calls that same spec operation (the contract describes real calls);
   with no spec (`spec: null`, the provider publishes none we may keep), that its request path
   fits the operation's path template.
3. Every recorded cassette interaction of a contracted operation satisfies the contract.

Each problem is one `Violation`: a JSON pointer (into the contract or the cassette), what was
expected and what was found.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from graphql import GraphQLError
from pydantic import ValidationError

from monitor.config.models import Pack
from monitor.config.yamlsrc import load_yaml
from monitor.contracts.drift import DriftKind, compare, pointer, schema_types
from monitor.contracts.graphql_sdl import load_sdl, request_root_fields, verify_sdl
from monitor.contracts.load import all_contracts, cassette_files, load_cassette, read_contract
from monitor.contracts.model import Contract, ContractOperation
from monitor.jsontypes import json_type
from monitor.specs import Spec, SpecError, load_spec
from monitor.specs.discovery import is_discovery, load_discovery

_MAX_REF_HOPS = 64


@dataclass(frozen=True, slots=True)
class Violation:
    where: str  # file#/json/pointer
    expected: str
    found: str

    def __str__(self) -> str:
        return f"{self.where}: expected {self.expected}, found {self.found}"


@dataclass
class Report:
    violations: list[Violation]
    notes: list[str]
    checked: int = 0


def verify_all(contract_dirs: Iterable[Path], specs_dir: Path | None, packs_dirs: Iterable[Path]) -> Report:
    report = Report([], [])
    packs_dirs = list(packs_dirs)
    for provider, path in sorted(all_contracts(contract_dirs).items()):
        contract, issues = read_contract(path)
        if contract is None:
            report.violations += [
                Violation(str(i).split(": ", 1)[0], "a well-formed contract", str(i)) for i in issues
            ]
            continue
        report.checked += 1
        pack = _pack(provider, packs_dirs)
        if contract.spec is None:
            report.notes.append(
                f"{provider}: no published spec (its spec_note says why): spec checks skipped, "
                "pack paths and cassettes checked"
            )
            if pack is not None:
                report.violations += verify_pack_paths(contract, path, pack)
        elif specs_dir is not None and (specs_dir / contract.spec).is_file():
            unproven: list[str] = []
            report.violations += _verify_against(contract, path, specs_dir / contract.spec, pack, unproven)
            report.notes += unproven
        else:
            report.notes.append(
                f"{provider}: spec {contract.spec} not found under {specs_dir}: spec checks skipped"
            )
        for cassette in cassette_files(path):
            report.violations += verify_cassette(contract, cassette)
    return report


def _verify_against(
    contract: Contract, path: Path, spec_file: Path, pack: Pack | None, unproven: list[str]
) -> list[Violation]:
    """The contract against its spec, whichever of the supported kinds it is."""
    try:
        if spec_file.suffix == ".graphql":
            problems = verify_sdl(contract, path, load_sdl(spec_file), pack)
            return [Violation(*p) for p in problems]
        spec = load_discovery(spec_file) if _is_discovery_file(spec_file) else load_spec(spec_file)
    except (SpecError, GraphQLError, TypeError) as exc:
        return [Violation(f"{path}#/spec", "a readable spec", str(exc).splitlines()[0])]
    return verify_spec(contract, path, spec, pack, unproven)


def _is_discovery_file(spec_file: Path) -> bool:
    if spec_file.suffix != ".json":
        return False
    with spec_file.open("rb") as f:
        head = f.read(4096)
    if b'"discoveryVersion"' not in head:
        return False
    try:
        return is_discovery(json.loads(spec_file.read_bytes()))
    except ValueError:
        return False


def _pack(provider: str, dirs: list[Path]) -> Pack | None:
    for d in dirs:
        f = d / f"{provider}.yaml"
        if f.is_file():
            try:
                raw, _ = load_yaml(f)
                return Pack.model_validate(raw or {})
            except (yaml.YAMLError, ValidationError):
                return None
    return None


# --------------------------------------------------------------------------- against the spec


def verify_spec(
    contract: Contract, path: Path, spec: Spec, pack: Pack | None = None, unproven: list[str] | None = None
) -> list[Violation]:
    """Violations of the spec; where the spec leaves a body undescribed, a line in `unproven`."""
    out: list[Violation] = []
    for name, op in contract.operations.items():
        at = f"{path}#/operations/{name}"
        found = spec.find_operation(op.method.value, op.path)
        if found is None:
            out.append(Violation(at, f"{op.method.value} {op.path} in {contract.spec}", "no such operation"))
            continue
        if not found.declares_status(op.status):
            out.append(
                Violation(f"{at}/status", f"status {op.status} declared for {found.path}", "not declared")
            )
            continue
        if pack is not None:
            out += _pack_call(op, at, spec, found.path, pack)
        if op.response is None:
            continue
        schema = found.response_schema(op.status)
        if schema is None:
            # Declared status, undescribed body (Trello's GET /lists/{id}): nothing to prove against.
            if unproven is not None:
                unproven.append(f"{at}/response: the spec describes no {op.status} body (fields unproven)")
            continue
        _compare(op.response, schema, spec.document, f"{at}/response", out, unproven)
    return out


def _pack_call(op: ContractOperation, at: str, spec: Spec, template: str, pack: Pack) -> list[Violation]:
    """Each pack request the operation names (`check`/`step`, and `also`) calls it in the spec."""
    for check_name, step in op.users():
        check = pack.checks.get(check_name)
        if check is None:
            return [Violation(f"{at}/check", f"a check {check_name!r} in pack {pack.provider!r}", "none")]
        request = check.http
        if step is not None:
            request = next((s.request for s in check.steps or [] if s.name == step), None)
        if request is None:
            return [Violation(f"{at}/step", f"step {step!r} in check {check_name!r}", "none")]
        called = spec.find_operation(request.method.value, request.path)
        if called is None or called.path != template or called.method != op.method.value:
            seen = (
                f"{called.method} {called.path}"
                if called
                else f"{request.method.value} {request.path} (not in spec)"
            )
            return [Violation(f"{at}/check", f"{check_name} to call {op.method.value} {template}", seen)]
    return []


def _request_of(check_name: str, step: str | None, pack: Pack) -> Any:
    check = pack.checks.get(check_name)
    if check is None:
        return None
    if step is None:
        return check.http
    return next((s.request for s in check.steps or [] if s.name == step), None)


def verify_pack_paths(contract: Contract, path: Path, pack: Pack) -> list[Violation]:
    """With no spec: each pack request an operation names has its method and fits its path template."""
    out: list[Violation] = []
    for name, op in contract.operations.items():
        at = f"{path}#/operations/{name}"
        for check_name, step in op.users():
            request = _request_of(check_name, step, pack)
            if request is None:
                where = "check" if check_name not in pack.checks else "step"
                out.append(
                    Violation(f"{at}/{where}", f"{check_name} {step or ''} in the pack".strip(), "none")
                )
                continue
            called = re.sub(r"\{\{[^{}]*\}\}", "x", request.path.split("?", 1)[0])
            if request.method != op.method or not _template_regex(op.path, anchored=True).match(called):
                out.append(
                    Violation(
                        f"{at}/check",
                        f"{check_name} to call {op.method.value} {op.path}",
                        f"{request.method.value} {request.path}",
                    )
                )
    return out


def _resolve(node: Any, doc: Mapping[str, Any]) -> Any:
    for _ in range(_MAX_REF_HOPS):
        ref = node.get("$ref") if isinstance(node, Mapping) else None
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return node
        node = doc
        for token in ref[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            node = node.get(token) if isinstance(node, Mapping) else None
    return node


def _branches(schema: Any, doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The schema and everything it combines (allOf, anyOf, oneOf), $refs resolved."""
    out: list[Mapping[str, Any]] = []
    todo = [schema]
    while todo and len(out) < 256:
        node = _resolve(todo.pop(), doc)
        if not isinstance(node, Mapping):
            continue
        out.append(node)
        for key in ("allOf", "anyOf", "oneOf"):
            todo += list(node.get(key) or [])
        # Slack's spec lists an object's alternatives as a type-less `items` array
        # (`objs_conversation`): read them as alternatives, as Slack's own SDKs do.
        if isinstance(node.get("items"), list) and "type" not in node:
            todo += list(node["items"])
    return out


def _spec_types(branches: list[Mapping[str, Any]]) -> set[str] | None:
    """The JSON types the spec allows, or None when it does not constrain the type."""
    types: set[str] = set()
    for b in branches:
        t = b.get("type")
        if isinstance(t, str):
            types.add(t)
        elif isinstance(t, list):
            types.update(str(x) for x in t)
        if b.get("nullable") is True or b.get("x-nullable") is True:
            types.add("null")
        if "enum" in b and "type" not in b:
            types.update(_value_type(v) for v in b["enum"])
    return types or None


def _value_type(v: Any) -> str:
    return json_type(v)


_contract_types = schema_types  # the same reading of a contract schema as drift uses


def _compatible(want: set[str], have: set[str]) -> bool:
    widened = set(have) | ({"integer"} if "number" in have else set())
    return bool(want & widened)


def _open(branches: list[Mapping[str, Any]], keys: tuple[str, ...]) -> bool:
    """The spec says nothing about what is inside (Notion's `{type: object}` bodies)."""
    return not any(k in b for b in branches for k in keys)


_OBJECT_KEYS = ("properties", "additionalProperties", "patternProperties")


def _compare(
    contract: Mapping[str, Any],
    spec_schema: Any,
    doc: Mapping[str, Any],
    at: str,
    out: list[Violation],
    unproven: list[str] | None = None,
) -> None:
    branches = _branches(spec_schema, doc)
    want, have = _contract_types(contract), _spec_types(branches)
    if want and have and not _compatible(want, have):
        out.append(
            Violation(
                at, f"type {' or '.join(sorted(want))}", f"type {' or '.join(sorted(have))} in the spec"
            )
        )
        return
    props = contract.get("properties") or {}
    names = [*props, *(n for n in contract.get("required") or [] if n not in props)]
    if names and _open(branches, _OBJECT_KEYS):
        # Nothing to prove the fields against, and nothing they contradict: say so, not a violation.
        if unproven is not None:
            unproven.append(f"{at}: the spec leaves this object undescribed ({', '.join(names)} unproven)")
        names = []
    for name in names:
        declared = [
            b["properties"][name]
            for b in branches
            if isinstance(b.get("properties"), Mapping) and name in b["properties"]
        ]
        where = f"{at}/properties/{pointer([name])[1:]}"
        if not declared:
            out.append(Violation(where, f"field {name!r} declared in the spec", "not declared"))
            continue
        sub = props.get(name)
        if isinstance(sub, Mapping):
            declared_schema = {"anyOf": declared} if len(declared) > 1 else declared[0]
            _compare(sub, declared_schema, doc, where, out, unproven)
    items = contract.get("items")
    if isinstance(items, Mapping):
        spec_items = [b["items"] for b in branches if isinstance(b.get("items"), Mapping)]
        if not spec_items and _open(branches, ("items", "prefixItems")):
            if unproven is not None:
                unproven.append(f"{at}: the spec leaves these array items undescribed (unproven)")
        elif not spec_items:
            out.append(Violation(f"{at}/items", "array items declared in the spec", "not declared"))
        else:
            spec_item = {"anyOf": spec_items} if len(spec_items) > 1 else spec_items[0]
            _compare(items, spec_item, doc, f"{at}/items", out, unproven)


# --------------------------------------------------------------------------- against cassettes


def _template_regex(template: str, anchored: bool = False) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    body = "".join("[^/]+" if p.startswith("{") and p.endswith("}") else re.escape(p) for p in parts)
    return re.compile(("^" if anchored else "") + body + "$")


def match_operation(
    contract: Contract,
    method: str,
    path: str,
    status: int | None = None,
    graphql: tuple[str, frozenset[str]] | None = None,
) -> tuple[str, ContractOperation] | None:
    """The operation a recorded request made (the longest literal template wins; status breaks ties).

    GraphQL operations share one path: `graphql` (the request's operation type and root fields)
    picks the one whose root field was asked for; without it none of them matches."""
    hits = [
        (name, op)
        for name, op in contract.operations.items()
        if op.method.value == method.upper()
        and _template_regex(op.path).search(path)
        and (
            op.graphql is None
            or (graphql is not None and graphql[0] == op.graphql.operation and op.graphql.field in graphql[1])
        )
    ]
    if status is not None and any(op.status == status for _, op in hits):
        hits = [(n, op) for n, op in hits if op.status == status]
    hits.sort(key=lambda h: -len(re.sub(r"\{[^}]*\}", "", h[1].path)))
    return hits[0] if hits else None


def verify_cassette(contract: Contract, cassette: Path) -> list[Violation]:
    try:
        data = load_cassette(cassette)
    except (ValueError, yaml.YAMLError) as exc:
        return [Violation(f"{cassette}#", "a readable vcrpy cassette", str(exc).splitlines()[0])]
    out: list[Violation] = []
    base_path = str((data.get("metadata") or {}).get("provenance", {}).get("base_path") or "")
    for i, interaction in enumerate(data["interactions"]):
        request, response = interaction.get("request") or {}, interaction.get("response") or {}
        path = urlsplit(str(request.get("uri", ""))).path
        if base_path and path.startswith(base_path):
            path = path[len(base_path) :] or "/"
        status = int((response.get("status") or {}).get("code", 0))
        gql = request_root_fields(request.get("body")) if _is_graphql(contract) else None
        hit = match_operation(contract, str(request.get("method", "")), path, status, gql)
        if hit is None:
            continue
        _, op = hit
        headers = {str(k).lower(): v for k, v in (response.get("headers") or {}).items()}
        raw_ctype = headers.get("content-type")
        ctype = str(raw_ctype[0] if isinstance(raw_ctype, list) and raw_ctype else raw_ctype or "") or None
        text = (response.get("body") or {}).get("string") or ""
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        body, is_json = _json(text)
        at = f"{cassette}#/interactions/{i}/response"
        for d in compare(op, status=status, content_type=ctype, body=body, body_is_json=is_json):
            where = f"{at}/body{d.pointer}" if d.pointer else f"{at}/{_FIELD.get(d.kind, 'body')}"
            out.append(Violation(where, d.expected, d.found))
    return out


def _is_graphql(contract: Contract) -> bool:
    return any(op.graphql is not None for op in contract.operations.values())


_FIELD = {DriftKind.STATUS: "status/code", DriftKind.CONTENT_TYPE: "headers/Content-Type"}


def _json(text: str) -> tuple[Any, bool]:
    try:
        return json.loads(text), True
    except ValueError:
        return text, False
