"""The Xero sandbox and pack: the real paths, the tenant header, quota headers, and faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from monitor.config.models import Pack
from monitor.sandbox.server import build_app
from monitor.sandbox.xero import TENANT_ID
from monitor.specs import load_spec
from tests.conftest import ROOT
from tests.sandbox.support import by_check, conformance_problems, run_pack_and_count, sandbox_config

# Every category a pack covers, and the contract checks of the provider's contract.
CATEGORIES = ("auth", "retrieval", "crud", "error", "latency", "contract")

CONTACT = "b7e3c1a2-5d4f-4e6a-8c9b-0a1b2c3d4e01"
BLOCK = f"""
pack: xero
auth:
  kind: oauth2_refresh
  token_url: /connect/token
  client_id: sandbox-xero-client
  client_secret: sandbox-xero-secret
  refresh_token: sandbox-xero-refresh
headers: {{xero-tenant-id: {TENANT_ID}}}
vars: {{contact_id: {CONTACT}}}
"""
TOKEN = {"Authorization": "Bearer sandbox-xero-token"}
JSON = {**TOKEN, "Accept": "application/json", "xero-tenant-id": TENANT_ID}


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The Xero sandbox alone, in-process: direct requests need no other provider."""
    async with TestClient(TestServer(build_app(providers=("xero",)), host="127.0.0.1")) as c:
        yield c


async def test_exchanges_conform_except_statuses_the_spec_leaves_out(
    tmp_path: Path, provider_specs: Path
) -> None:
    """Every exchange is an accounting operation with a conforming body; only the 401 and 404 that
    Xero sends but its spec never declares are undeclared."""
    spec = load_spec(provider_specs / "xero/xero_accounting.yaml")
    _, exchanges, _ = await run_pack_and_count(sandbox_config(tmp_path, "xero", BLOCK))
    problems = conformance_problems(spec, "xero/xero_accounting.yaml", exchanges)
    assert sorted(problems) == [
        "GET /Contacts/{ContactID}: status 404 is not declared",
        "GET /Organisation: status 401 is not declared",
    ]
    # ...and exactly those are the gaps the pack states, so the generic conformance test passes.
    pack = Pack.model_validate(yaml.safe_load((ROOT / "checks" / "xero.yaml").read_text()))
    assert conformance_problems(spec, "xero/xero_accounting.yaml", exchanges, pack.spec_gaps) == []


async def test_connections_conform_to_the_identity_spec(
    client: TestClient[web.Request, web.Application], provider_specs: Path
) -> None:
    """GET /connections (spelled /Connections in xero-identity.yaml) lists the tenant, needs no tenant
    header, and its body matches the identity spec."""
    spec = load_spec(provider_specs / "xero/xero-identity.yaml")
    async with client.get("/xero/connections", headers=TOKEN) as resp:
        assert resp.status == 200
        body = await resp.json()
    op = spec.find_operation("GET", "/connections")
    assert op is not None and op.path == "/Connections"
    assert spec.validate_response(op, 200, body) == []
    assert [t["tenantId"] for t in body] == [TENANT_ID]


async def test_expired_token_fails_auth_valid(tmp_path: Path) -> None:
    """With every credential expired the refresh fails, so auth_valid fails and nothing needing the
    token passes."""
    config = sandbox_config(tmp_path, "xero", BLOCK, faults="xero: [{kind: expired_token}]")
    results = by_check((await run_pack_and_count(config))[0])
    assert results["auth_valid"].outcome.value == "fail"
    assert all(r.outcome.value != "pass" for name, r in results.items() if name != "auth_invalid")


async def test_accounting_calls_need_the_tenant_header(
    client: TestClient[web.Request, web.Application],
) -> None:
    """Without (or with an unknown) xero-tenant-id the accounting API answers 403
    AuthenticationUnsuccessful."""
    for headers in ({**TOKEN}, {**TOKEN, "xero-tenant-id": "00000000-0000-0000-0000-000000000000"}):
        async with client.get("/xero/api.xro/2.0/Organisation", headers=headers) as resp:
            assert resp.status == 403
            body = await resp.json()
        assert body["Title"] == "Forbidden" and body["Detail"] == "AuthenticationUnsuccessful"
        assert body["Type"] is None and body["Status"] == 403


async def test_bad_token_is_401_problem_details(client: TestClient[web.Request, web.Application]) -> None:
    """A token Xero did not issue is 401 with Title Unauthorized and a TokenInvalid detail."""
    headers = {**JSON, "Authorization": "Bearer not-a-xero-token"}
    async with client.get("/xero/api.xro/2.0/Organisation", headers=headers) as resp:
        assert resp.status == 401
        body = await resp.json()
    assert body["Title"] == "Unauthorized" and body["Detail"].startswith("TokenInvalid")


async def test_contacts_page_with_a_pagination_block(
    client: TestClient[web.Request, web.Application],
) -> None:
    """`page`/`pageSize` slice the contacts and the pagination block says how many pages there are."""
    url = "/xero/api.xro/2.0/Contacts"
    async with client.get(url, headers=JSON, params={"page": "2", "pageSize": "2"}) as resp:
        body = await resp.json()
    assert body["pagination"] == {"page": 2, "pageSize": 2, "pageCount": 2, "itemCount": 3}
    assert len(body["Contacts"]) == 1
    async with client.get(url, headers=JSON) as resp:
        assert "pagination" not in await resp.json()


async def test_missing_contact_is_a_plain_text_404(client: TestClient[web.Request, web.Application]) -> None:
    """Xero answers a missing resource with 404 and a sentence, not JSON."""
    url = "/xero/api.xro/2.0/Contacts/00000000-0000-0000-0000-000000000000"
    async with client.get(url, headers=JSON) as resp:
        assert resp.status == 404 and resp.content_type == "text/plain"
        assert "cannot be found" in await resp.text()


async def test_without_accept_json_the_answer_is_xml(
    client: TestClient[web.Request, web.Application],
) -> None:
    """The accounting API's default format is XML; JSON only when asked for."""
    headers = {**TOKEN, "xero-tenant-id": TENANT_ID}
    async with client.get("/xero/api.xro/2.0/Currencies", headers=headers) as resp:
        assert resp.status == 200 and resp.content_type == "text/xml"
        text = await resp.text()
    assert text.startswith("<Response>") and "<Currency><Code>USD</Code>" in text


async def test_sixty_first_call_in_a_minute_is_429(client: TestClient[web.Request, web.Application]) -> None:
    """Quota headers count down from 60 a minute; past that Xero answers 429 naming the minute limit."""
    url = "/xero/api.xro/2.0/Currencies"
    seen = []
    for _ in range(60):
        async with client.get(url, headers=JSON) as resp:
            assert resp.status == 200
            seen.append(int(resp.headers["X-MinLimit-Remaining"]))
            assert int(resp.headers["X-DayLimit-Remaining"]) < 5000
    assert seen[0] == 59 and seen[-1] == 0
    async with client.get(url, headers=JSON) as resp:
        assert resp.status == 429
        assert resp.headers["X-Rate-Limit-Problem"] == "minute"
        assert 0 < int(resp.headers["Retry-After"]) <= 60
