"""The Asana sandbox and pack: a healthy run passes and conforms to Asana's OpenAPI, faults fail
the right checks, and the sandbox answers Asana's own paging, wrapping and error words."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.sandbox.server import build_app
from monitor.specs import load_spec
from tests.sandbox.support import by_check, conformance_problems, run_pack, sandbox_config

BLOCK = """
pack: asana
auth: {kind: bearer, token: "asana-test-token"}
vars: {workspace_gid: "1200000000000100", project_gid: "1200000000000200"}
"""
AUTH = {"Authorization": "Bearer sandbox-asana-token"}
BASE = "/asana/api/1.0"


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_app(providers=["asana"]), host="127.0.0.1")) as c:
        yield c


async def test_every_exchange_conforms_to_asanas_openapi(tmp_path: Path, provider_specs: Path) -> None:
    """Each request of a healthy run is an Asana operation, and each answer its declared status and schema."""
    spec = load_spec(provider_specs / "asana/asana_oas.yaml")
    results, exchanges = await run_pack(sandbox_config(tmp_path, "asana", BLOCK))
    assert all(r.outcome.value == "pass" for r in results)
    assert len(exchanges) >= len(results)
    problems = conformance_problems(spec, "asana/asana_oas.yaml", exchanges)
    assert not problems, "\n".join(problems)


async def test_expired_token_fails_auth_valid(tmp_path: Path) -> None:
    """An expired token fails auth_valid (401 Not Authorized) while auth_invalid still passes."""
    config = sandbox_config(tmp_path, "asana", BLOCK, faults="asana: [{kind: expired_token}]")
    results, _ = await run_pack(config)
    got = by_check(results)
    assert got["auth_valid"].outcome.value == "fail" and got["auth_valid"].http_status == 401
    assert got["auth_invalid"].outcome.value == "pass"
    assert all(r.outcome.value != "pass" for n, r in got.items() if n != "auth_invalid")


async def test_offset_pagination_walks_every_task(client: TestClient) -> None:
    """`limit` pages the list and `next_page.offset` leads to the next page, null on the last."""
    seen: list[str] = []
    query: dict[str, Any] = {"project": "1200000000000200", "limit": 2}
    while True:
        resp = await client.get(f"{BASE}/tasks", params=query, headers=AUTH)
        body = await resp.json()
        assert resp.status == 200 and len(body["data"]) <= 2
        seen += [t["gid"] for t in body["data"]]
        if body["next_page"] is None:
            break
        assert body["next_page"]["uri"].startswith("https://app.asana.com/api/1.0/tasks?")
        query["offset"] = body["next_page"]["offset"]
    assert len(seen) == len(set(seen)) == 3


async def test_asanas_own_refusals(client: TestClient) -> None:
    """Bad offsets, unfiltered task lists, malformed gids and unknown routes get Asana's words."""
    cases = [
        ("/tasks?project=1200000000000200&limit=2&offset=garbage", 400, "offset: Your pagination token"),
        ("/tasks", 400, "Must specify exactly one of project, tag, section"),
        ("/tasks/not-a-gid", 400, "task: Not a recognized ID: not-a-gid"),
        ("/tasks/42", 404, "task: Unknown object: 42"),
        ("/no/such/route", 404, "No matching route for request"),
    ]
    for path, status, words in cases:
        resp = await client.get(f"{BASE}{path}", headers=AUTH)
        body = await resp.json()
        assert resp.status == status and words in body["errors"][0]["message"], path
        assert "developers.asana.com" in body["errors"][0]["help"]


async def test_writes_must_be_wrapped_in_data(client: TestClient) -> None:
    """A task body outside `data` is refused naming the stray field; a wrapped one is created (201)."""
    resp = await client.post(f"{BASE}/tasks", json={"name": "x"}, headers=AUTH)
    assert resp.status == 400
    assert "Unrecognized request field name" in (await resp.json())["errors"][0]["message"]
    body = {"data": {"name": "x", "projects": ["1200000000000200"]}}
    resp = await client.post(f"{BASE}/tasks", json=body, headers=AUTH)
    created = (await resp.json())["data"]
    assert resp.status == 201 and resp.headers["Location"].endswith(f"/tasks/{created['gid']}")
    assert (await client.delete(f"{BASE}/tasks/{created['gid']}", headers=AUTH)).status == 200
