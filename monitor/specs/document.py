"""A provider's published description: load it, find a pack request's operation, validate a body.

OpenAPI 3.0, OpenAPI 3.1 and Swagger 2.0, JSON or YAML. A `Spec` holds the whole document (GitHub's
is 13 MB) and the caller keeps it; nothing is cached at module level.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import yaml
from jsonschema import Draft4Validator
from openapi_schema_validator import OAS30ReadValidator, OAS31Validator
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT4, DRAFT202012

from monitor.specs.messages import describe
from monitor.specs.paths import PathIndex

# Where the document sits in the validation registry, so `#/components/...` and `#/definitions/...`
# resolve against the whole document. Never fetched: the registry already holds it.
_DOC_URI = "https://atom-monitor.invalid/provider-spec.json"
_MAX_REF_HOPS = 64
_SUFFIXES = (".json", ".yaml", ".yml")
# Response bodies: OAS30ReadValidator is OAS30Validator in the read direction (readOnly properties
# stay required, writeOnly ones must be absent); nullable is honoured by both.
_VALIDATORS: dict[str, Any] = {"2.0": Draft4Validator, "3.0": OAS30ReadValidator, "3.1": OAS31Validator}


class SpecError(ValueError):
    """The description cannot be read or used."""


class UnsupportedSpec(SpecError):
    """The file is not OpenAPI 3.0/3.1 or Swagger 2.0 (GraphQL SDL, Stone, Google Discovery...)."""


class _Loader(yaml.CSafeLoader):
    """YAML reads `200:` as an int key; JSON, JSON Pointers and the validators only know strings."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        return {_text_key(k): v for k, v in mapping.items()}


def _text_key(key: Any) -> Any:
    return str(key) if isinstance(key, int) and not isinstance(key, bool) else key


def load_spec(path: Path) -> Spec:
    """Read an OpenAPI 3.0/3.1 or Swagger 2.0 file (.json, .yaml or .yml)."""
    if path.suffix not in _SUFFIXES:
        raise UnsupportedSpec(f"{path}: only {', '.join(_SUFFIXES)} descriptions are supported")
    raw = path.read_bytes()
    try:
        document = json.loads(raw) if path.suffix == ".json" else yaml.load(raw, Loader=_Loader)
    except (ValueError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from exc
    return Spec(document, source=str(path))


def _tokens(pointer: str) -> list[str]:
    return [unquote(t).replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _uri(tokens: Sequence[str]) -> str:
    escaped = (quote(t.replace("~", "~0").replace("/", "~1"), safe="") for t in tokens)
    return _DOC_URI + "#" + "".join("/" + t for t in escaped)


def _version(document: Mapping[str, Any], source: str) -> str:
    swagger, openapi = str(document.get("swagger", "")), str(document.get("openapi", ""))
    if swagger.startswith("2."):
        return "2.0"
    if openapi[:4] in ("3.0.", "3.1.") or openapi in ("3.0", "3.1"):
        return openapi[:3]
    found = f"openapi={openapi!r}, swagger={swagger!r}"
    raise UnsupportedSpec(f"{source}: not OpenAPI 3.0/3.1 or Swagger 2.0 ({found})")


def _base_paths(document: Mapping[str, Any], version: str) -> tuple[str, ...]:
    """Path parts of the API's base URLs (Trello `/1`, Slack `/api`), which a pack path may include."""
    if version == "2.0":
        urls = [str(document.get("basePath") or "")]
    else:
        urls = []
        for server in document.get("servers") or []:
            url = str(server.get("url", "")) if isinstance(server, Mapping) else ""
            for name, var in ((server.get("variables") or {}) if isinstance(server, Mapping) else {}).items():
                url = url.replace("{" + name + "}", str(var.get("default", "")))
            urls.append(urlsplit(url).path)
    return tuple(dict.fromkeys(u.rstrip("/") for u in urls if u.rstrip("/")))


def _pick_media(content: Mapping[str, Any]) -> str:
    """`application/json`, else a `+json` type (`application/scim+json`), else the first one."""
    medias = {key: str(key).split(";")[0].strip().lower() for key in content}
    exact = [key for key, media in medias.items() if media == "application/json"]
    json_like = [key for key, media in medias.items() if media.endswith("+json")]
    return str((exact or json_like or list(content))[0])


@dataclass(frozen=True)
class Operation:
    """One method on one spec path, e.g. GET /users/{user_gid}."""

    method: str
    path: str
    operation_id: str | None
    _spec: Spec = field(repr=False, compare=False)
    _at: tuple[str, ...] = field(repr=False, compare=False)  # JSON Pointer tokens of the operation

    def _status_key(self, status: int) -> str | None:
        responses = self._spec._walk([*self._at, "responses"])[1]
        if not isinstance(responses, Mapping):
            return None
        code = str(status)
        for key in responses:
            if str(key) == code:
                return str(key)
        for key in responses:
            if str(key).upper() == code[0] + "XX":
                return str(key)
        return "default" if "default" in responses else None

    def declares_status(self, status: int) -> bool:
        """Whether the spec describes this status: itself, its range (`4XX`) or `default`."""
        return self._status_key(status) is not None

    @property
    def has_default(self) -> bool:
        """Whether the operation documents a `default` response (Slack files its errors there)."""
        responses = self._spec._walk([*self._at, "responses"])[1]
        return isinstance(responses, Mapping) and "default" in responses

    def _schema_at(self, status: int) -> tuple[list[str], dict[str, Any]] | None:
        key = self._status_key(status)
        return None if key is None else self._schema_for(key)

    def _schema_for(self, key: str) -> tuple[list[str], dict[str, Any]] | None:
        where, response = self._spec._walk([*self._at, "responses", key])
        if not isinstance(response, Mapping):
            return None
        if self._spec.version == "2.0":
            where, schema = [*where, "schema"], response.get("schema")
        else:
            content = response.get("content")
            if not isinstance(content, Mapping) or not content:
                return None
            media = _pick_media(content)
            body = content[media]
            schema = body.get("schema") if isinstance(body, Mapping) else None
            where = [*where, "content", media, "schema"]
        return (where, schema) if isinstance(schema, dict) else None

    def response_schema(self, status: int) -> dict[str, Any] | None:
        """The body schema for `status` (or its range, or `default`), unresolved `$ref`s included."""
        located = self._schema_at(status)
        return located[1] if located else None


class Spec:
    """One provider description. Build it once and keep it: indexing and the registry cost time."""

    def __init__(self, document: Mapping[str, Any], source: str = "<memory>") -> None:
        if not isinstance(document, Mapping):
            raise UnsupportedSpec(f"{source}: the top level is not a mapping")
        self.document = document
        self.source = source
        self.version = _version(document, source)
        self.base_paths = _base_paths(document, self.version)
        paths = document.get("paths")
        templates = [str(p) for p in (paths if isinstance(paths, Mapping) else {})]
        self._index = PathIndex(p for p in templates if p.startswith("/"))

    def find_operation(self, method: str, path: str) -> Operation | None:
        """The operation a pack request calls, or None.

        `path` may hold `{{var}}` placeholders, literal values (`/users/me`), a query string and the
        base path (`/1/members/me` for Trello). Literal spec segments beat parameters; HEAD falls back
        to GET (servers answer HEAD with GET's handler); letter case is ignored only as a last resort
        (Xero's spec spells `/Connections`, its docs `/connections`).
        """
        path = path.split("#", 1)[0].split("?", 1)[0]
        methods = [method.lower(), *(["get"] if method.lower() == "head" else [])]
        candidates = [path[len(b) :] for b in self.base_paths if path == b or path.startswith(b + "/")]
        for ignore_case in (False, True):
            for candidate in [*candidates, path]:
                for template in self._index.match(candidate, ignore_case=ignore_case):
                    for name in methods:
                        at, operation = self._walk(["paths", template, name])
                        if isinstance(operation, Mapping):
                            op_id = operation.get("operationId")
                            op_id = op_id if isinstance(op_id, str) else None
                            return Operation(name.upper(), template, op_id, self, tuple(at))
        return None

    def validate_response(self, op: Operation, status: int, body: Any) -> list[str]:
        """One line per violation of the declared body schema; [] when none is declared."""
        return self._validate(op, op._schema_at(status), status, body)

    def validate_default(self, op: Operation, body: Any) -> list[str]:
        """Violations of the `default` response's schema, whatever the status."""
        return self._validate(op, op._schema_for("default"), "default", body)

    def _validate(
        self, op: Operation, located: tuple[list[str], dict[str, Any]] | None, status: int | str, body: Any
    ) -> list[str]:
        if located is None:
            return []
        validator = _VALIDATORS[self.version]({"$ref": _uri(located[0])}, registry=self._registry)
        try:
            return describe(validator.iter_errors(body))
        except Unresolvable as exc:
            where = f"{self.source}: {op.method} {op.path} {status}"
            raise SpecError(f"{where}: unresolvable $ref: {exc}") from exc

    @cached_property
    def _registry(self) -> Registry[Any]:
        specification = DRAFT202012 if self.version == "3.1" else DRAFT4
        registry: Registry[Any] = Registry().with_resource(
            _DOC_URI, specification.create_resource(self.document)
        )
        return registry

    def _walk(self, tokens: Sequence[str], *, follow_last: bool = True) -> tuple[list[str], Any]:
        """The node at `tokens` and where it really is, following local `$ref`s on the way."""
        where: list[str] = []
        node: Any = self.document
        for i, token in enumerate(tokens):
            where, node = self._follow(where, node)
            if not isinstance(node, Mapping) or token not in node:
                return [*where, *tokens[i:]], None
            where, node = [*where, token], node[token]
        return self._follow(where, node) if follow_last else (where, node)

    def _follow(self, where: list[str], node: Any) -> tuple[list[str], Any]:
        for _ in range(_MAX_REF_HOPS):
            ref = node.get("$ref") if isinstance(node, Mapping) else None
            if not isinstance(ref, str) or not ref.startswith("#/"):
                return where, node
            where, node = self._walk(_tokens(ref[1:]), follow_last=False)
        raise SpecError(f"{self.source}: $ref chain longer than {_MAX_REF_HOPS} at /{'/'.join(where)}")
