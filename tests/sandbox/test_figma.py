"""The Figma pack against the simulated Figma: healthy, faulted, and Figma's own habits (the
X-Figma-Token header, 403 for a bad token, two error shapes, rate-limit headers on 429)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from monitor.model import Outcome
from monitor.sandbox.server import build_app
from monitor.specs import load_spec
from tests.sandbox.support import by_check, conformance_problems, run_pack, sandbox_config

# Every category a pack covers, and the contract checks of the provider's contract.
CATEGORIES = ("auth", "retrieval", "crud", "error", "latency", "contract")

SPEC = "figma/openapi.yaml"
FILE_KEY = "kR2nQ8sAnDbOxF1lE0001a"
BLOCK = f"""
pack: figma
auth: {{kind: header, name: X-Figma-Token, value: sandbox-figma-token}}
vars: {{file_key: {FILE_KEY}, webhook_endpoint: "https://example.com/atom-monitor/figma-webhook"}}
"""
TOKEN = {"X-Figma-Token": "sandbox-figma-token"}


@pytest.fixture
async def client() -> Any:
    async with TestClient(TestServer(build_app(providers=["figma"]), host="127.0.0.1")) as c:
        yield c


async def test_healthy_run_passes_and_conforms(tmp_path: Path, provider_specs: Path) -> None:
    """Every check passes, all five categories and contract are covered, and every exchange fits the spec."""
    results, exchanges = await run_pack(sandbox_config(tmp_path, "figma", BLOCK))
    assert all(r.outcome is Outcome.PASS for r in results), [(r.check, r.reason) for r in results]
    assert {r.category.value for r in results} == set(CATEGORIES)
    assert conformance_problems(load_spec(provider_specs / SPEC), SPEC, exchanges) == []


async def test_expired_token_fails_auth_valid(tmp_path: Path) -> None:
    """With every token rejected, auth_valid fails on Figma's 403 and the refusal check passes."""
    results, _ = await run_pack(sandbox_config(tmp_path, "figma", BLOCK, "figma: [{kind: expired_token}]"))
    got = by_check(results)
    assert got["auth_valid"].outcome is Outcome.FAIL and got["auth_valid"].http_status == 403
    assert got["auth_invalid"].outcome is Outcome.PASS


async def test_token_goes_in_x_figma_token_or_bearer(
    client: TestClient[web.Request, web.Application],
) -> None:
    """X-Figma-Token and Bearer both work; no token or a wrong one is 403 `Invalid token`."""
    assert (await client.get("/figma/v1/me", headers=TOKEN)).status == 200
    bearer = {"Authorization": "Bearer sandbox-figma-token"}
    assert (await client.get("/figma/v1/me", headers=bearer)).status == 200
    for headers in ({}, {"X-Figma-Token": "figd_wrong"}):
        resp = await client.get("/figma/v1/me", headers=headers)
        assert resp.status == 403 and await resp.json() == {"status": 403, "err": "Invalid token"}


async def test_webhook_errors_use_the_error_boolean_shape(
    client: TestClient[web.Request, web.Application],
) -> None:
    """Webhook 4xx answers are `{error: true, status, message}`, unlike the files' `{status, err}`."""
    missing = await client.get("/figma/v2/webhooks/999999", headers=TOKEN)
    assert missing.status == 404 and (await missing.json())["error"] is True
    bad = {
        "event_type": "FILE_COMMENT",
        "context": "file",
        "context_id": "nope",
        "endpoint": "x",
        "passcode": "p",
    }
    resp = await client.post("/figma/v2/webhooks", json=bad, headers=TOKEN)
    body = await resp.json()
    assert resp.status == 400 and body["error"] is True and "nope" in body["message"]
    file_missing = await client.get("/figma/v1/files/nope/meta", headers=TOKEN)
    assert file_missing.status == 404 and await file_missing.json() == {"status": 404, "err": "Not found"}


async def test_webhook_passcode_is_blank_on_read(client: TestClient[web.Request, web.Application]) -> None:
    """A webhook's passcode comes back on create but is an empty string on GET."""
    hook = {"event_type": "PING", "context": "file", "context_id": FILE_KEY, "endpoint": "https://e.x"}
    created = await (
        await client.post("/figma/v2/webhooks", json={**hook, "passcode": "s3"}, headers=TOKEN)
    ).json()
    assert created["passcode"] == "s3" and created["context"] == "FILE" and created["status"] == "ACTIVE"
    read = await (await client.get(f"/figma/v2/webhooks/{created['id']}", headers=TOKEN)).json()
    assert read["passcode"] == ""


async def test_rate_limit_names_plan_tier_and_limit_type(
    client: TestClient[web.Request, web.Application],
) -> None:
    """Figma's 429 carries Retry-After plus its plan-tier, limit-type and upgrade-link headers."""
    await client.post("/_sandbox/faults/figma", json={"kind": "rate_limit", "retry_after": 9})
    resp = await client.get("/figma/v1/me", headers=TOKEN)
    assert resp.status == 429 and resp.headers["Retry-After"] == "9"
    assert {"X-Figma-Plan-Tier", "X-Figma-Rate-Limit-Type", "X-Figma-Upgrade-Link"} <= set(resp.headers)
    assert await resp.json() == {"status": 429, "err": "Rate limit exceeded"}
