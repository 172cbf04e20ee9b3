"""The HubSpot pack against the simulated HubSpot: healthy, faulted, and HubSpot's own habits
(error categories, `after` cursor paging, X-HubSpot-RateLimit-* headers). HubSpot's spec is not
kept (proprietary), so responses are judged against the documented shapes here instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from monitor.model import Outcome
from monitor.sandbox.server import build_app
from tests.sandbox.support import by_check, run_pack, sandbox_config

# Every category a pack covers, and the contract checks of the provider's contract.
CATEGORIES = ("auth", "retrieval", "crud", "error", "latency", "contract")

BLOCK = """
pack: hubspot
auth: {kind: bearer, token: sandbox-hubspot-token}
vars: {contact_id: "101"}
"""
AUTH = {"Authorization": "Bearer sandbox-hubspot-token"}
CONTACTS = "/hubspot/crm/v3/objects/contacts"


@pytest.fixture
async def client() -> Any:
    async with TestClient(TestServer(build_app(providers=["hubspot"]), host="127.0.0.1")) as c:
        yield c


async def test_expired_token_fails_auth_valid(tmp_path: Path) -> None:
    """An expired token fails auth_valid with EXPIRED_AUTHENTICATION; a wrong one stays INVALID."""
    results, _ = await run_pack(
        sandbox_config(tmp_path, "hubspot", BLOCK, "hubspot: [{kind: expired_token}]")
    )
    got = by_check(results)
    auth = got["auth_valid"]
    assert auth.outcome is Outcome.FAIL and auth.http_status == 401
    assert auth.evidence is not None and "EXPIRED_AUTHENTICATION" in auth.evidence.body_excerpt
    assert got["auth_invalid"].outcome is Outcome.PASS


async def test_after_cursor_pages_through_contacts(client: TestClient[web.Request, web.Application]) -> None:
    """`paging.next.after` leads to the next page; the last page has no `paging`."""
    first = await (await client.get(CONTACTS, params={"limit": "2"}, headers=AUTH)).json()
    assert [c["id"] for c in first["results"]] == ["101", "102"]
    after = first["paging"]["next"]["after"]
    assert first["paging"]["next"]["link"].endswith(f"after={after}")
    second = await (await client.get(CONTACTS, params={"limit": "2", "after": after}, headers=AUTH)).json()
    assert [c["id"] for c in second["results"]] == ["103"] and "paging" not in second
    bad = await client.get(CONTACTS, params={"limit": "500"}, headers=AUTH)
    assert bad.status == 400 and (await bad.json())["category"] == "VALIDATION_ERROR"


async def test_duplicate_email_is_a_409_conflict(client: TestClient[web.Request, web.Application]) -> None:
    """Creating a contact with an email that exists is 409 CONFLICT naming the existing id."""
    body = {"properties": {"email": "ada@example.com", "firstname": "Ada"}}
    resp = await client.post(CONTACTS, json=body, headers=AUTH)
    assert resp.status == 409
    error = await resp.json()
    assert error["category"] == "CONFLICT" and error["message"].endswith("Existing ID: 101")


async def test_ratelimit_headers_daily_pair_only_for_private_apps(
    client: TestClient[web.Request, web.Application],
) -> None:
    """Private-app calls carry the Daily pair; calls with an OAuth access token do not."""
    private = await client.get("/hubspot/account-info/v3/details", headers=AUTH)
    assert private.headers["X-HubSpot-RateLimit-Max"] == "190"
    assert "X-HubSpot-RateLimit-Daily-Remaining" in private.headers
    grant = {"grant_type": "refresh_token", "refresh_token": "sandbox-hubspot-refresh"}
    token = (await (await client.post("/hubspot/oauth/v1/token", data=grant)).json())["access_token"]
    oauth = await client.get("/hubspot/account-info/v3/details", headers={"Authorization": f"Bearer {token}"})
    assert oauth.status == 200 and "X-HubSpot-RateLimit-Remaining" in oauth.headers
    assert "X-HubSpot-RateLimit-Daily" not in oauth.headers


async def test_invalid_token_is_invalid_authentication(
    client: TestClient[web.Request, web.Application],
) -> None:
    """A wrong token is 401 with HubSpot's error object and category INVALID_AUTHENTICATION."""
    resp = await client.get("/hubspot/account-info/v3/details", headers={"Authorization": "Bearer nope"})
    assert resp.status == 401
    error = await resp.json()
    assert error["status"] == "error" and error["category"] == "INVALID_AUTHENTICATION"
