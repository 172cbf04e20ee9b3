"""The Linear sandbox and pack: every pack query is valid against Linear's published SDL, every
sandbox answer has the shape the SDL gives the query, faults fail the right checks, and the
sandbox speaks Linear's GraphQL dialect (bare API keys, HTTP 400 auth errors, Relay cursors)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import graphql
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from graphql.execution.values import get_variable_values

from monitor.config.models import Pack, RequestSpec
from monitor.sandbox.server import build_app
from tests.conftest import ROOT
from tests.sandbox.support import by_check, run_pack, sandbox_config

TEAM = "5a7c1e2d-0000-4000-8000-000000000003"
BLOCK = f"""
pack: linear
auth: {{kind: bearer, scheme: "", token: "lin_api_test_key"}}
vars: {{team_id: {TEAM}}}
"""
KEY = {"Authorization": "sandbox-linear-token"}


@pytest.fixture(scope="module")
def sdl(provider_specs: Path) -> graphql.GraphQLSchema:
    """Linear's published schema, built once; the test skips where the specs are absent."""
    return graphql.build_schema((provider_specs / "linear/schema.graphql").read_text(encoding="utf-8"))


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_app(providers=["linear"]), host="127.0.0.1")) as c:
        yield c


def _pack_requests() -> Iterator[tuple[str, RequestSpec]]:
    pack = Pack.model_validate(yaml.safe_load((ROOT / "checks/linear.yaml").read_text(encoding="utf-8")))
    for name, check in pack.checks.items():
        if check.http is not None:
            yield name, check.http
        for step in check.steps or []:
            yield f"{name}/{step.name}", step.request


async def _ask(client: TestClient, query: str, variables: Any = None, headers: Any = None) -> Any:
    payload = {"query": query, "variables": variables or {}}
    resp = await client.post("/linear/graphql", json=payload, headers=KEY if headers is None else headers)
    return resp.status, await resp.json(), resp.headers


def test_every_pack_query_is_valid_against_linears_sdl(sdl: graphql.GraphQLSchema) -> None:
    """Each GraphQL document in checks/linear.yaml parses, validates, and its variables coerce."""
    requests = list(_pack_requests())
    assert requests and all(r.graphql is not None and r.path == "/graphql" for _, r in requests)
    for where, request in requests:
        assert request.graphql is not None
        document = graphql.parse(request.graphql.query)
        errors = graphql.validate(sdl, document)
        assert not errors, f"{where}: {[e.message for e in errors]}"
        operation = graphql.get_operation_ast(document)
        assert operation is not None, where
        coerced = get_variable_values(sdl, operation.variable_definitions or (), request.graphql.variables)
        assert not isinstance(coerced, list), f"{where}: {[e.message for e in coerced]}"


async def test_every_answer_has_the_shape_the_sdl_gives_its_query(
    tmp_path: Path, sdl: graphql.GraphQLSchema
) -> None:
    """Executing each query against the SDL over the sandbox's `data` reproduces it without errors."""
    results, exchanges = await run_pack(sandbox_config(tmp_path, "linear", BLOCK))
    assert all(r.outcome.value == "pass" for r in results)
    answered = [ex for ex in exchanges if isinstance(ex.body, dict) and ex.body.get("data")]
    assert len(answered) >= 6
    for ex in answered:
        document = graphql.parse(ex.request_json["query"])
        result = graphql.execute(sdl, document, ex.body["data"], variable_values=ex.request_json["variables"])
        assert isinstance(result, graphql.ExecutionResult)
        assert not result.errors, (ex.request_json["query"], result.errors)
        assert result.data == ex.body["data"]


async def test_expired_token_fails_auth_valid(tmp_path: Path) -> None:
    """An expired key fails auth_valid (HTTP 400 AUTHENTICATION_ERROR) while auth_invalid still passes."""
    config = sandbox_config(tmp_path, "linear", BLOCK, faults="linear: [{kind: expired_token}]")
    got = by_check((await run_pack(config))[0])
    assert got["auth_valid"].outcome.value == "fail" and got["auth_valid"].http_status == 400
    assert got["auth_invalid"].outcome.value == "pass"
    assert all(r.outcome.value != "pass" for n, r in got.items() if n != "auth_invalid")


async def test_bare_key_and_bearer_token_are_both_accepted(client: TestClient) -> None:
    """A personal key goes in Authorization bare, an OAuth token as Bearer; a wrong one is HTTP 400."""
    for header in ("sandbox-linear-token", "Bearer sandbox-linear-token"):
        status, body, _ = await _ask(client, "{ viewer { id } }", headers={"Authorization": header})
        assert status == 200 and body["data"]["viewer"]["id"]
    status, body, _ = await _ask(client, "{ viewer { id } }", headers={"Authorization": "lin_api_wrong"})
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "AUTHENTICATION_ERROR"
    assert "data" not in body


async def test_relay_cursor_walks_every_issue_and_headers_count_quota(client: TestClient) -> None:
    """`after: endCursor` pages through issues until hasNextPage is false; reset headers are epoch ms."""
    query = (
        "query($after: String) "
        "{ issues(first: 1, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }"
    )
    seen: list[str] = []
    after = None
    while True:
        status, body, headers = await _ask(client, query, {"after": after})
        assert status == 200
        page = body["data"]["issues"]
        seen += [n["id"] for n in page["nodes"]]
        assert int(headers["X-RateLimit-Requests-Reset"]) > time.time() * 1000
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 3


async def test_query_errors_speak_linears_codes(client: TestClient) -> None:
    """Syntax errors and unknown fields are HTTP 400; a missing entity is HTTP 200 with null data."""
    status, body, _ = await _ask(client, "{ viewer { id ")
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    status, body, _ = await _ask(client, "{ viewer { shoeSize } }")
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    status, body, _ = await _ask(client, '{ issue(id: "SBX-999") { id } }')
    assert status == 200 and body["data"] is None
    assert body["errors"][0]["message"] == "Entity not found: Issue" and body["errors"][0]["path"] == [
        "issue"
    ]
