"""monitor.specs on small inline descriptions: operation matching and response validation messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitor.specs import Spec, UnsupportedSpec, load_spec


def _json(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"description": "", "content": {media: {"schema": schema}}}


SPEC30: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "servers": [{"url": "https://api.example.com/v{major}", "variables": {"major": {"default": "2"}}}],
    "paths": {
        "/user": {
            "get": {
                "operationId": "get-user",
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/user"}, "application/json; charset=utf-8"),
                    "4XX": {"$ref": "#/components/responses/error"},
                },
            }
        },
        "/user/repos": {"get": {"operationId": "list-repos", "responses": {"200": _json({"type": "array"})}}},
        "/user/{username}": {"get": {"operationId": "get-by-name", "responses": {}}},
        "/repos/{owner}/{repo}/issues": {
            "get": {"operationId": "list-issues", "responses": {}},
            "post": {"operationId": "create-issue", "responses": {}},
        },
        "/repos/{owner}/{repo}/issues/{issue_number}": {"get": {"operationId": "get-issue", "responses": {}}},
        "/files/{key}.json": {"get": {"operationId": "get-file", "responses": {}}},
        "/items/{id}": {
            "delete": {
                "operationId": "delete-item",
                "responses": {
                    "204": {"description": "gone"},
                    "default": _json({"type": "object"}),
                },
            }
        },
        "/scim/users": {
            "get": {
                "operationId": "scim-users",
                "responses": {
                    "200": {
                        "description": "",
                        "content": {
                            "text/html": {"schema": {"type": "string"}},
                            "application/scim+json": {"schema": {"type": "object"}},
                        },
                    }
                },
            }
        },
    },
    "components": {
        "schemas": {
            "user": {
                "type": "object",
                "required": ["login", "id", "owner"],
                "properties": {
                    "login": {"type": "string"},
                    "id": {"type": "integer"},
                    "email": {"type": "string", "nullable": True},
                    "owner": {"$ref": "#/components/schemas/owner"},
                },
            },
            "owner": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        },
        "responses": {
            "error": _json(
                {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}
            )
        },
    },
}

SPEC31: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/v1/me": {
            "get": {"operationId": "getMe", "responses": {"200": _json({"$ref": "#/components/schemas/me"})}}
        }
    },
    "components": {
        "schemas": {
            "me": {
                "type": "object",
                "required": ["id", "handle"],
                "properties": {
                    "id": {"type": "string"},
                    "handle": {"type": ["string", "null"]},
                    "plan": {
                        "anyOf": [
                            {"type": "string"},
                            {
                                "type": "object",
                                "required": ["name"],
                                "properties": {"name": {"type": "string"}},
                            },
                        ]
                    },
                },
            }
        }
    },
}

SPEC20: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "t", "version": "1"},
    "basePath": "/api",
    "paths": {
        "/auth.test": {
            "get": {
                "operationId": "auth_test",
                "responses": {
                    "200": {"description": "", "schema": {"$ref": "#/definitions/auth_ok"}},
                    "default": {"description": "", "schema": {"$ref": "#/definitions/error"}},
                },
            }
        }
    },
    "definitions": {
        "auth_ok": {
            "type": "object",
            "additionalProperties": False,
            "required": ["ok", "user_id"],
            "properties": {"ok": {"enum": [True]}, "user_id": {"$ref": "#/definitions/user_id"}},
        },
        "user_id": {"type": "string", "pattern": "^[UW][A-Z0-9]{2,}$"},
        "error": {"type": "object", "required": ["ok", "error"], "properties": {"error": {"type": "string"}}},
    },
}

VALID_USER = {"login": "octocat", "id": 1, "email": "o@example.com", "owner": {"name": "acme"}}


@pytest.fixture(scope="module")
def spec30() -> Spec:
    return Spec(SPEC30)


def _operation_id(spec: Spec, method: str, path: str) -> str | None:
    op = spec.find_operation(method, path)
    return op.operation_id if op else None


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("method", "path", "operation_id"),
    [
        ("GET", "/user", "get-user"),
        ("GET", "/repos/{{owner}}/{{repo}}/issues", "list-issues"),
        ("POST", "/repos/{{owner}}/{{repo}}/issues", "create-issue"),
        ("GET", "/repos/acme/sandbox/issues/12", "get-issue"),
        ("GET", "/repos/{{owner}}/sandbox/issues/{{n}}", "get-issue"),
        ("GET", "/files/{{key}}.json", "get-file"),
        ("DELETE", "/items/{{item_id}}", "delete-item"),
        ("get", "/user/", "get-user"),
    ],
)
def test_template_and_literal_paths_match(spec30: Spec, method: str, path: str, operation_id: str) -> None:
    """A pack path with `{{var}}` placeholders or literal values finds the spec operation it calls."""
    assert _operation_id(spec30, method, path) == operation_id


def test_literal_segment_beats_parameter(spec30: Spec) -> None:
    """`/user/repos` is the literal spec path, not `/user/{username}` with username=repos."""
    assert _operation_id(spec30, "GET", "/user/repos") == "list-repos"
    assert _operation_id(spec30, "GET", "/user/octocat") == "get-by-name"


def test_placeholder_only_fills_parameters(spec30: Spec) -> None:
    """A `{{var}}` segment matches a spec parameter, never a literal word the variable may not hold."""
    assert _operation_id(spec30, "GET", "/user/{{name}}") == "get-by-name"


def test_query_string_is_ignored(spec30: Spec) -> None:
    """The query string is not part of the path that names the operation."""
    assert _operation_id(spec30, "GET", "/user?per_page=5&page={{p}}") == "get-user"


def test_server_base_path_may_prefix_the_path(spec30: Spec) -> None:
    """A path that includes the server URL's path (`/v2` from a server variable default) still matches."""
    assert _operation_id(spec30, "GET", "/v2/user") == "get-user"
    assert spec30.base_paths == ("/v2",)


def test_swagger_base_path_is_optional() -> None:
    """Swagger 2.0 `basePath` /api may or may not lead the pack path (Slack's base_url ends in /api)."""
    spec = Spec(SPEC20)
    assert _operation_id(spec, "GET", "/auth.test") == "auth_test"
    assert _operation_id(spec, "GET", "/api/auth.test") == "auth_test"


def test_head_falls_back_to_get(spec30: Spec) -> None:
    """HEAD matches the GET operation, as HTTP servers answer HEAD with GET's handler."""
    op = spec30.find_operation("HEAD", "/user")
    assert op is not None and op.method == "GET"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nothing"),
        ("POST", "/user"),
        ("GET", "/items/3"),
        ("GET", "/repos/a/b"),
        ("GET", "/user/a/b"),
    ],
)
def test_missing_operation_is_none(spec30: Spec, method: str, path: str) -> None:
    """An unknown path, or a known path without that method, is no operation."""
    assert spec30.find_operation(method, path) is None


def test_operation_fields(spec30: Spec) -> None:
    """An operation names its upper-case method, spec path template and operationId."""
    op = spec30.find_operation("post", "/repos/acme/x/issues")
    assert op is not None
    assert (op.method, op.path, op.operation_id) == ("POST", "/repos/{owner}/{repo}/issues", "create-issue")


# --------------------------------------------------------------------------- declared statuses and schemas


def test_declared_statuses_count_ranges_and_default(spec30: Spec) -> None:
    """A status is declared by itself, by its range (`4XX`) or by `default`."""
    user = spec30.find_operation("GET", "/user")
    item = spec30.find_operation("DELETE", "/items/1")
    assert user is not None and item is not None
    assert user.declares_status(200) and user.declares_status(404)
    assert not user.declares_status(500) and not user.declares_status(201)
    assert item.declares_status(204) and item.declares_status(503)


def test_response_schema_picks_json_media_type(spec30: Spec) -> None:
    """The schema comes from `application/json` (parameters allowed), else a `+json` type."""
    user = spec30.find_operation("GET", "/user")
    scim = spec30.find_operation("GET", "/scim/users")
    assert user is not None and scim is not None
    assert user.response_schema(200) == {"$ref": "#/components/schemas/user"}
    assert scim.response_schema(200) == {"type": "object"}


def test_no_schema_means_nothing_to_validate(spec30: Spec) -> None:
    """A status declared without a body (204) or not declared at all validates to no violations."""
    item = spec30.find_operation("DELETE", "/items/1")
    user = spec30.find_operation("GET", "/user")
    assert item is not None and user is not None
    assert item.response_schema(204) is None
    assert spec30.validate_response(item, 204, {"anything": 1}) == []
    assert spec30.validate_response(user, 500, "oops") == []


# --------------------------------------------------------------------------- validation messages


def test_valid_body_has_no_violations(spec30: Spec) -> None:
    """A body that follows the schema, refs included, yields no lines."""
    op = spec30.find_operation("GET", "/user")
    assert op is not None
    assert spec30.validate_response(op, 200, VALID_USER) == []


def test_missing_required_field_names_its_pointer(spec30: Spec) -> None:
    """A missing required field, found through a `$ref`, is reported at its own JSON pointer."""
    op = spec30.find_operation("GET", "/user")
    assert op is not None
    body = {**VALID_USER, "owner": {}}
    assert spec30.validate_response(op, 200, body) == [
        "/owner/name: expected required property, found it missing"
    ]


def test_wrong_type_says_expected_and_found(spec30: Spec) -> None:
    """A wrong type names the pointer, the expected type and the value found."""
    op = spec30.find_operation("GET", "/user")
    assert op is not None
    body = {**VALID_USER, "id": "7"}
    assert spec30.validate_response(op, 200, body) == ['/id: expected type integer, found string "7"']


def test_nullable_accepts_null_in_30(spec30: Spec) -> None:
    """In OpenAPI 3.0 `nullable: true` admits null; a field without it does not."""
    op = spec30.find_operation("GET", "/user")
    assert op is not None
    assert spec30.validate_response(op, 200, {**VALID_USER, "email": None}) == []
    assert spec30.validate_response(op, 200, {**VALID_USER, "login": None}) == [
        "/login: expected type string, found null"
    ]


def test_range_response_through_ref(spec30: Spec) -> None:
    """A 404 is checked against the `4XX` response, itself a `$ref` to components/responses."""
    op = spec30.find_operation("GET", "/user")
    assert op is not None
    assert spec30.validate_response(op, 404, {}) == ["/message: expected required property, found it missing"]
    assert spec30.validate_response(op, 404, {"message": "Not Found"}) == []


def test_root_violation_is_labelled_root(spec30: Spec) -> None:
    """A violation of the body itself is reported at `(root)`."""
    op = spec30.find_operation("GET", "/user/repos")
    assert op is not None
    assert spec30.validate_response(op, 200, {"a": 1}) == [
        '(root): expected type array, found object {"a": 1}'
    ]


def test_31_type_lists_and_closest_alternative() -> None:
    """OpenAPI 3.1 accepts `type: [string, null]`, and an anyOf miss explains its closest alternative."""
    spec = Spec(SPEC31)
    op = spec.find_operation("GET", "/v1/me")
    assert op is not None
    assert spec.validate_response(op, 200, {"id": "u1", "handle": None, "plan": "pro"}) == []
    lines = spec.validate_response(op, 200, {"id": "u1", "handle": None, "plan": {"nam": "pro"}})
    assert lines == [
        '/plan: expected at least one of 2 alternative schemas, found object {"nam": "pro"}'
        " (closest anyOf alternative: #2)",
        "/plan/name: expected required property, found it missing (closest anyOf alternative: #2)",
    ]


def test_20_definitions_extra_property_pattern_and_enum() -> None:
    """Swagger 2.0 schemas resolve `#/definitions/...` and report undeclared keys, patterns and enums."""
    spec = Spec(SPEC20)
    op = spec.find_operation("GET", "/auth.test")
    assert op is not None
    assert spec.validate_response(op, 200, {"ok": True, "user_id": "U123"}) == []
    assert spec.validate_response(op, 200, {"ok": False, "user_id": "x", "extra": 1}) == [
        "/extra: expected no such property (additionalProperties: false), found integer 1",
        "/ok: expected one of [true], found boolean false",
        '/user_id: expected a string matching "^[UW][A-Z0-9]{2,}$", found string "x"',
    ]
    assert spec.validate_response(op, 500, {"ok": False}) == [
        "/error: expected required property, found it missing"
    ]


# --------------------------------------------------------------------------- loading


def test_load_yaml_with_integer_status_keys(tmp_path: Path) -> None:
    """YAML `200:` keys (read as integers) still address the response, for lookup and for validation."""
    path = tmp_path / "api.yaml"
    path.write_text(
        "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /ping:\n    get:\n      responses:\n"
        "        200:\n          description: ok\n          content:\n            application/json:\n"
        "              schema: {type: object, required: [pong]}\n",
        encoding="utf-8",
    )
    spec = load_spec(path)
    op = spec.find_operation("GET", "/ping")
    assert op is not None and op.declares_status(200)
    assert spec.validate_response(op, 200, {}) == ["/pong: expected required property, found it missing"]


def test_load_json(tmp_path: Path) -> None:
    """A JSON description loads with its version recognised."""
    path = tmp_path / "api.json"
    path.write_text(json.dumps(SPEC31), encoding="utf-8")
    spec = load_spec(path)
    assert spec.version == "3.1" and spec.find_operation("GET", "/v1/me") is not None


def test_other_formats_are_unsupported(tmp_path: Path) -> None:
    """GraphQL SDL, or JSON that is neither OpenAPI nor Swagger (Google Discovery), is UnsupportedSpec."""
    sdl = tmp_path / "schema.graphql"
    sdl.write_text("type Query { viewer: String }", encoding="utf-8")
    discovery = tmp_path / "calendar.v3.json"
    discovery.write_text(json.dumps({"discoveryVersion": "v1", "resources": {}}), encoding="utf-8")
    for path in (sdl, discovery):
        with pytest.raises(UnsupportedSpec):
            load_spec(path)
