"""The Dropbox sandbox and pack: RPC routes from the Stone spec, 409 route errors, cursors, faults."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from monitor.config.models import Pack, RequestSpec
from monitor.sandbox.server import build_app
from tests.conftest import ROOT
from tests.sandbox.support import by_check, run_pack_and_count, sandbox_config

# Every category a pack covers, and the contract checks of the provider's contract.
CATEGORIES = ("auth", "retrieval", "crud", "error", "latency", "contract")

BLOCK = """
pack: dropbox
auth:
  kind: oauth2_refresh
  token_url: /oauth2/token
  client_id: sandbox-dropbox-app-key
  client_secret: sandbox-dropbox-app-secret
  refresh_token: sandbox-dropbox-refresh
vars: {folder: /atom-monitor-sandbox}
"""
TOKEN = {"Authorization": "Bearer sandbox-dropbox-token"}
_NAMESPACE = re.compile(r"^namespace\s+(\w+)", re.MULTILINE)
_ROUTE = re.compile(r"^route\s+([\w/]+)(?::(\d+))?\s*\(\s*([\w.]+)\s*,[^)]*\)\s*(deprecated)?")


@dataclass(frozen=True)
class StoneRoute:
    arg: str
    deprecated: bool
    host: str


def stone_routes(folder: Path) -> dict[str, StoneRoute]:
    """URL path -> route for every `route` in the .stone files: `route move:2 (...)` in namespace
    `files` is `/2/files/move_v2`. A regex, since the stone package is not installed."""
    routes: dict[str, StoneRoute] = {}
    for file in sorted(folder.glob("*.stone")):
        text = file.read_text(encoding="utf-8")
        namespace = _NAMESPACE.search(text)
        if namespace is None:
            continue
        lines = text.splitlines()
        for i, line in enumerate(lines):
            m = _ROUTE.match(line)
            if m is None:
                continue
            name, version, arg, deprecated = m.groups()
            suffix = f"_v{version}" if version and int(version) > 1 else ""
            block = []
            for following in lines[i + 1 :]:
                if following.strip() and not following[0].isspace():
                    break
                block.append(following)
            host = re.search(r'^\s+host\s*=\s*"(\w+)"', "\n".join(block), re.MULTILINE)
            routes[f"/2/{namespace.group(1)}/{name}{suffix}"] = StoneRoute(
                arg, deprecated is not None, host.group(1) if host else "api"
            )
    return routes


def _pack_requests() -> Iterator[tuple[str, RequestSpec]]:
    pack = Pack.model_validate(yaml.safe_load((ROOT / "checks" / "dropbox.yaml").read_text(encoding="utf-8")))
    for name, check in pack.checks.items():
        if check.http is not None:
            yield name, check.http
        for step in check.steps or []:
            yield f"{name}/{step.name}", step.request


@pytest.fixture
def routes(provider_specs: Path) -> dict[str, StoneRoute]:
    found = stone_routes(provider_specs / "dropbox")
    if not found:
        pytest.skip("no dropbox/*.stone files under the provider specs")
    return found


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The Dropbox sandbox alone, in-process."""
    async with TestClient(TestServer(build_app(providers=("dropbox",)), host="127.0.0.1")) as c:
        yield c


async def _rpc(
    client: TestClient[web.Request, web.Application], route: str, args: object
) -> tuple[int, object]:
    async with client.post(f"/dropbox/2/{route}", json=args, headers=TOKEN) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


def test_pack_routes_are_live_api_routes_of_the_stone_spec(routes: dict[str, StoneRoute]) -> None:
    """Every pack request is a POST to a non-deprecated api-host route, with a null body exactly
    when the route takes no argument (Void)."""
    problems = []
    for where, request in _pack_requests():
        route = routes.get(request.path)
        if route is None:
            problems.append(f"{where}: {request.path} is no route of the stone spec")
            continue
        if request.method.value != "POST" or route.deprecated or route.host != "api":
            problems.append(f"{where}: {request.method.value} {request.path} {route}")
        if request.json_null != (route.arg == "Void"):
            problems.append(f"{where}: json_null={request.json_null} but the argument is {route.arg}")
    assert not problems, "\n".join(problems)


async def test_every_exchange_is_a_stone_route(tmp_path: Path, routes: dict[str, StoneRoute]) -> None:
    """Everything a healthy run sends, apart from the token refresh, is a route of the stone spec."""
    _, exchanges, _ = await run_pack_and_count(sandbox_config(tmp_path, "dropbox", BLOCK))
    assert exchanges
    assert [ex.path_template for ex in exchanges if ex.path_template not in routes] == []


async def test_expired_token_fails_auth_valid(tmp_path: Path) -> None:
    """With every credential expired the refresh fails, so auth_valid fails and nothing needing the
    token passes."""
    config = sandbox_config(tmp_path, "dropbox", BLOCK, faults="dropbox: [{kind: expired_token}]")
    results = by_check((await run_pack_and_count(config))[0])
    assert results["auth_valid"].outcome.value == "fail"
    assert all(r.outcome.value != "pass" for name, r in results.items() if name != "auth_invalid")


async def test_missing_path_is_a_409_route_error(client: TestClient[web.Request, web.Application]) -> None:
    """A missing path is HTTP 409 with error_summary and a tagged union, per route: path/not_found
    for get_metadata, path_lookup/not_found for delete_v2, from_lookup/not_found for move_v2."""
    missing = "/atom-monitor-sandbox/nope"
    status, body = await _rpc(client, "files/get_metadata", {"path": missing})
    assert status == 409
    assert body == {
        "error_summary": "path/not_found/..",
        "error": {".tag": "path", "path": {".tag": "not_found"}},
    }
    status, body = await _rpc(client, "files/delete_v2", {"path": missing})
    assert (
        status == 409
        and isinstance(body, dict)
        and body["error_summary"].startswith("path_lookup/not_found/")
    )
    status, body = await _rpc(client, "files/move_v2", {"from_path": missing, "to_path": "/x"})
    assert status == 409 and isinstance(body, dict) and body["error"][".tag"] == "from_lookup"


async def test_existing_folder_is_a_conflict(client: TestClient[web.Request, web.Application]) -> None:
    """Creating a folder where one exists is 409 path/conflict/folder unless autorename is asked for."""
    status, body = await _rpc(client, "files/create_folder_v2", {"path": "/Photos"})
    assert status == 409 and isinstance(body, dict) and body["error_summary"] == "path/conflict/folder/.."
    status, body = await _rpc(client, "files/create_folder_v2", {"path": "/Photos", "autorename": True})
    assert status == 200 and isinstance(body, dict) and body["metadata"]["name"] == "Photos (1)"
    assert ".tag" not in body["metadata"]


async def test_listing_pages_with_a_cursor(client: TestClient[web.Request, web.Application]) -> None:
    """list_folder with a limit says has_more and gives a cursor; continue returns the rest;
    a cursor Dropbox did not issue is a 400."""
    status, first = await _rpc(client, "files/list_folder", {"path": "/atom-monitor-sandbox", "limit": 2})
    assert status == 200 and isinstance(first, dict)
    assert [e["name"] for e in first["entries"]] == ["Archive", "readme.txt"] and first["has_more"] is True
    status, rest = await _rpc(client, "files/list_folder/continue", {"cursor": first["cursor"]})
    assert status == 200 and isinstance(rest, dict)
    assert [e["name"] for e in rest["entries"]] == ["report.csv"] and rest["has_more"] is False
    assert rest["entries"][0][".tag"] == "file" and rest["entries"][0]["size"] == 2048
    status, text = await _rpc(client, "files/list_folder/continue", {"cursor": "not-a-cursor"})
    assert status == 400 and 'Invalid "cursor"' in str(text)


async def test_argumentless_routes_take_null_and_json_content_type(
    client: TestClient[web.Request, web.Application],
) -> None:
    """get_current_account takes a null JSON body or none at all; an empty JSON body or another
    content type is a plain-text 400."""
    url = "/dropbox/2/users/get_current_account"
    for data, ctype, status in (
        (b"null", "application/json", 200),
        (b"", None, 200),
        (b"", "application/json", 400),
        (b"null", "application/x-www-form-urlencoded", 400),
    ):
        headers = {**TOKEN, **({"Content-Type": ctype} if ctype else {})}
        skip = () if ctype else ("Content-Type",)  # aiohttp would add application/octet-stream
        async with client.post(url, data=data or None, headers=headers, skip_auto_headers=skip) as resp:
            assert resp.status == status, (data, ctype)
            if status == 400:
                text = await resp.text()
                assert resp.content_type == "text/plain"
                assert text.startswith('Error in call to API function "users/get_current_account": ')


async def test_auth_failures_take_dropbox_shapes(client: TestClient[web.Request, web.Application]) -> None:
    """No Authorization header is a plain-text 400; an expired token is 401 expired_access_token."""
    async with client.post("/dropbox/2/check/user", json={"query": "x"}) as resp:
        assert resp.status == 400 and 'Must provide HTTP header "Authorization"' in await resp.text()
    await client.post("/_sandbox/faults/dropbox", json={"kind": "expired_token"})
    status, body = await _rpc(client, "check/user", {"query": "x"})
    assert status == 401
    assert body == {"error_summary": "expired_access_token/...", "error": {".tag": "expired_access_token"}}


async def test_rate_limit_body_names_the_reason(client: TestClient[web.Request, web.Application]) -> None:
    """Dropbox's 429 carries Retry-After and a too_many_requests reason with retry_after."""
    await client.post("/_sandbox/faults/dropbox", json={"kind": "rate_limit", "retry_after": 9})
    async with client.post("/dropbox/2/check/user", json={"query": "x"}, headers=TOKEN) as resp:
        assert resp.status == 429 and resp.headers["Retry-After"] == "9"
        body = await resp.json()
    assert body["error"] == {"reason": {".tag": "too_many_requests"}, "retry_after": 9}
