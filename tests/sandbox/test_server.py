"""The sandbox's control API: faults are added, listed, validated and cleared per provider."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.sandbox import load_provider, provider_names
from monitor.sandbox.server import build_app


@pytest.fixture
async def client() -> Any:
    async with TestClient(TestServer(build_app(), host="127.0.0.1")) as c:
        yield c


async def test_faults_are_added_listed_and_cleared(client: TestClient) -> None:
    """A fault posted for one provider is listed for it alone and removed by DELETE."""
    resp = await client.post("/_sandbox/faults/github", json={"kind": "latency", "ms": 5, "path": "/user"})
    assert resp.status == 201
    listed = await (await client.get("/_sandbox/faults")).json()
    assert listed["github"] == [{"kind": "latency", "path": "/user", "ms": 5}]
    assert all(listed[p] == [] for p in provider_names() if p != "github")
    assert (await client.delete("/_sandbox/faults")).status == 200
    assert (await (await client.get("/_sandbox/faults")).json())["github"] == []


async def test_unknown_fault_kind_is_a_400_naming_the_kinds(client: TestClient) -> None:
    """A fault kind the sandbox does not know is refused with the list of kinds it does."""
    resp = await client.post("/_sandbox/faults/github", json={"kind": "meltdown"})
    assert resp.status == 400
    assert "expected one of: latency, error_rate, hang" in (await resp.json())["error"]


async def test_unknown_provider_is_a_404(client: TestClient) -> None:
    """Faults for a provider without a sandbox are refused."""
    assert (await client.post("/_sandbox/faults/gitlab", json={"kind": "hang"})).status == 404


@pytest.mark.parametrize("provider", provider_names())
async def test_every_provider_honours_generic_faults(client: TestClient, provider: str) -> None:
    """Every provider answers rate_limit with 429 + Retry-After, error_rate a 5xx, garbage non-JSON."""
    base = f"/{provider}{load_provider(provider).BASE_PATH}"
    await client.post(f"/_sandbox/faults/{provider}", json={"kind": "rate_limit", "retry_after": 7})
    resp = await client.get(f"{base}/anything")
    assert resp.status == 429 and resp.headers["Retry-After"] == "7"
    await client.delete(f"/_sandbox/faults/{provider}")
    await client.post(f"/_sandbox/faults/{provider}", json={"kind": "error_rate", "status": 503})
    assert (await client.get(f"{base}/anything")).status == 503
    await client.delete(f"/_sandbox/faults/{provider}")
    await client.post(f"/_sandbox/faults/{provider}", json={"kind": "garbage"})
    resp = await client.get(f"{base}/anything")
    assert resp.status == 200 and b"<html>" in await resp.read()


async def test_extra_credential_is_accepted(client: TestClient) -> None:
    """POST /_sandbox/credentials lets a test use its own random token."""
    resp = await client.post("/_sandbox/credentials/github", json={"credential": "tok-123"})
    assert resp.status == 201
    assert (await client.get("/github/user", headers={"Authorization": "Bearer tok-123"})).status == 200
