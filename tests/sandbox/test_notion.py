"""The Notion sandbox and pack: a healthy run passes and conforms to Notion's (partial) OpenAPI,
faults fail the right checks, and the sandbox demands Notion-Version and pages by cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.sandbox.server import build_app
from monitor.specs import load_spec
from tests.sandbox.support import by_check, conformance_problems, run_pack, sandbox_config

PARENT = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
BLOCK = f"""
pack: notion
auth: {{kind: bearer, token: "notion-test-token"}}
vars: {{parent_page_id: {PARENT}}}
"""
HEADERS = {"Authorization": "Bearer sandbox-notion-token", "Notion-Version": "2025-09-03"}
# Notion's spec declares only 200 and 400 for /v1/users/me, yet its status-code reference
# documents 401 `unauthorized` for a bad token: the one undeclared status a healthy run meets.
SPEC_GAPS = {"GET /v1/users/me: status 401 is not declared"}


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_app(providers=["notion"]), host="127.0.0.1")) as c:
        yield c


async def test_every_exchange_conforms_to_notions_openapi(tmp_path: Path, provider_specs: Path) -> None:
    """Each request is a Notion operation and each answer its declared schema, but for the documented 401."""
    spec = load_spec(provider_specs / "notion/notion-openapi.json")
    results, exchanges = await run_pack(sandbox_config(tmp_path, "notion", BLOCK))
    assert all(r.outcome.value == "pass" for r in results)
    problems = set(conformance_problems(spec, "notion/notion-openapi.json", exchanges))
    assert problems <= SPEC_GAPS, "\n".join(sorted(problems - SPEC_GAPS))
    # The 401 body still has the shape of the error object the spec declares for 400.
    op = spec.find_operation("GET", "/v1/users/me")
    assert op is not None
    for ex in exchanges:
        if ex.status == 401:
            assert spec.validate_response(op, 400, ex.body) == []


async def test_expired_token_fails_auth_valid(tmp_path: Path) -> None:
    """An expired token fails auth_valid (401 unauthorized) while auth_invalid still passes."""
    config = sandbox_config(tmp_path, "notion", BLOCK, faults="notion: [{kind: expired_token}]")
    got = by_check((await run_pack(config))[0])
    assert got["auth_valid"].outcome.value == "fail" and got["auth_valid"].http_status == 401
    assert got["auth_invalid"].outcome.value == "pass"
    assert all(r.outcome.value != "pass" for n, r in got.items() if n != "auth_invalid")


async def test_notion_version_is_required(client: TestClient) -> None:
    """Without Notion-Version the answer is 400 missing_version; an unknown version lists the valid ones."""
    auth = {"Authorization": HEADERS["Authorization"]}
    resp = await client.get("/notion/v1/users/me", headers=auth)
    body = await resp.json()
    assert resp.status == 400 and body["code"] == "missing_version" and body["object"] == "error"
    resp = await client.get("/notion/v1/users/me", headers={**auth, "Notion-Version": "2099-01-01"})
    assert resp.status == 400 and '"2022-06-28"' in (await resp.json())["message"]
    resp = await client.get(f"/notion/v1/pages/{PARENT}/markdown", headers=HEADERS)
    assert resp.status == 400 and "2026-03-11 or later" in (await resp.json())["message"]


async def test_cursor_pagination_of_users(client: TestClient) -> None:
    """`page_size` pages the list; `next_cursor` fetches the next page until `has_more` is false."""
    seen: list[str] = []
    query: dict[str, Any] = {"page_size": 1}
    while True:
        resp = await client.get("/notion/v1/users", params=query, headers=HEADERS)
        body = await resp.json()
        assert resp.status == 200 and body["object"] == "list" and len(body["results"]) == 1
        seen.append(body["results"][0]["id"])
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        query["start_cursor"] = body["next_cursor"]
    assert len(seen) == len(set(seen)) == 2


async def test_trashed_page_stays_readable_and_is_locked(client: TestClient) -> None:
    """A page moved to the trash still reads (in_trash true), refuses edits, and leaves search."""
    title = {"title": {"title": [{"text": {"content": "trash me"}}]}}
    body = {"parent": {"page_id": PARENT}, "properties": title}
    page = await (await client.post("/notion/v1/pages", json=body, headers=HEADERS)).json()
    await client.patch(f"/notion/v1/pages/{page['id']}", json={"in_trash": True}, headers=HEADERS)
    got = await (await client.get(f"/notion/v1/pages/{page['id']}", headers=HEADERS)).json()
    assert got["in_trash"] is True and got["archived"] is True
    resp = await client.patch(f"/notion/v1/pages/{page['id']}", json={"properties": title}, headers=HEADERS)
    assert resp.status == 400 and "archived" in (await resp.json())["message"]
    found = await (await client.post("/notion/v1/search", json={"query": "trash"}, headers=HEADERS)).json()
    assert found["results"] == [] and found["type"] == "page_or_data_source"


async def test_unknown_url_is_invalid_request_url(client: TestClient) -> None:
    """A path Notion does not serve is 400 invalid_request_url, in Notion's error object."""
    resp = await client.get("/notion/v1/nothing-here", headers=HEADERS)
    body = await resp.json()
    assert resp.status == 400 and body["code"] == "invalid_request_url" and "request_id" in body
