"""The Google Calendar sandbox and pack, judged against Google's discovery document.

`load_spec` takes only OpenAPI/Swagger, so tests/test_pack_operations.py skips this pack. Here the
discovery document (calendar.v3.json) is read directly: every pack request and every exchange must
be one of its methods (httpMethod + path under servicePath `calendar/v3/`), with declared query
parameters, and each JSON body must validate against the method's response schema (discovery
schemas are JSON-Schema-like: `$ref` by id, `type`, `properties`, `items`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from jsonschema import Draft202012Validator

from monitor.config.models import Pack
from monitor.sandbox.server import STATES_KEY, build_app
from tests.conftest import ROOT
from tests.sandbox.support import by_check, run_pack_and_count, sandbox_config

CALENDAR = "c_atommonitorsandbox@group.calendar.google.com"
BLOCK = f"""
pack: google
auth: {{kind: bearer, token: sandbox-google-token}}
vars: {{calendar_id: "{CALENDAR}"}}
"""
V3 = "/google/calendar/v3"
TOKEN = {"Authorization": "Bearer sandbox-google-token"}
# Google's error envelope (docs: "Handle API errors"); each `errors` item is the discovery `Error`.
ENVELOPE = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "errors"],
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "status": {"type": "string"},
                "errors": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Error"}},
            },
        }
    },
}


@pytest.fixture(scope="module")
def discovery(provider_specs: Path) -> dict[str, Any]:
    """calendar.v3.json as published (skips when ../shared/provider-specs is absent)."""
    doc: dict[str, Any] = json.loads((provider_specs / "google-calendar" / "calendar.v3.json").read_text())
    assert doc["servicePath"] == "calendar/v3/"
    return doc


def _to_json_schema(node: Any) -> Any:
    """A discovery schema as JSON Schema: `$ref: Event` -> `#/$defs/Event`; annotations dropped."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            out["$ref"] = f"#/$defs/{value}"
        elif key == "properties":
            out[key] = {k: _to_json_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _to_json_schema(value)
        elif (key == "type" and value != "any") or key == "enum":
            out[key] = value
    return out


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    defs = {name: _to_json_schema(s) for name, s in doc["schemas"].items()}
    return Draft202012Validator({**schema, "$defs": defs})


def _methods(doc: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            found.extend(resource.get("methods", {}).values())
            walk(resource.get("resources", {}))

    walk(doc["resources"])
    return found


def _method(doc: dict[str, Any], http_method: str, path: str) -> dict[str, Any] | None:
    """The discovery method serving `path` (relative to servicePath); `{param}` matches one segment."""
    for m in _methods(doc):
        template = m.get("flatPath", m["path"])
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if m["httpMethod"] == http_method and re.fullmatch(pattern, path):
            return m
    return None


def _undeclared_query(doc: dict[str, Any], method: dict[str, Any], names: list[str]) -> list[str]:
    declared = {**doc["parameters"], **method.get("parameters", {})}
    return [n for n in names if declared.get(n, {}).get("location") != "query"]


@pytest.fixture
async def client() -> Any:
    async with TestClient(TestServer(build_app(providers=["google"]), host="127.0.0.1")) as c:
        yield c


def test_pack_requests_are_discovery_methods(discovery: dict[str, Any]) -> None:
    """Each pack request is a discovery method (verb + path) and sends only declared query parameters."""
    pack = Pack.model_validate(yaml.safe_load((ROOT / "checks" / "google.yaml").read_text()))
    requests = [(n, c.http) for n, c in pack.checks.items() if c.http is not None]
    requests += [(f"{n}/{s.name}", s.request) for n, c in pack.checks.items() for s in c.steps or []]
    problems = []
    for where, request in requests:
        path = re.sub(r"\{\{\s*\w+\s*\}\}", "x", request.path).lstrip("/")
        method = _method(discovery, request.method.value, path)
        if method is None:
            problems.append(f"{where}: {request.method} {request.path} is no method of calendar.v3")
            continue
        problems += [
            f"{where}: query {q!r} undeclared" for q in _undeclared_query(discovery, method, [*request.query])
        ]
    assert len(requests) >= 9 and not problems, "\n".join(problems)


async def test_every_exchange_conforms_to_the_discovery_document(
    tmp_path: Path, discovery: dict[str, Any]
) -> None:
    """Every exchange is a discovery method, and its body validates against the declared schema."""
    _, exchanges, _ = await run_pack_and_count(sandbox_config(tmp_path, "google", BLOCK))
    problems = []
    for ex in exchanges:
        url = urlsplit(ex.url)
        path = unquote(url.path).removeprefix(f"{V3}/")
        method = _method(discovery, ex.method, path)
        if method is None:
            problems.append(f"{ex.method} {path}: no method of calendar.v3")
            continue
        problems += _undeclared_query(discovery, method, [k for k, _ in parse_qsl(url.query)])
        if 200 <= ex.status < 300:
            ref = method.get("response", {}).get("$ref")
            if ref is None:  # events.delete declares no response: an empty 204
                problems += (
                    [] if ex.status == 204 and not ex.text else [f"{method['id']}: expected an empty 204"]
                )
                continue
            schema: dict[str, Any] = {"$ref": f"#/$defs/{ref}"}
        else:
            schema = ENVELOPE
        problems += [
            f"{method['id']} {ex.status}: {e.message}"
            for e in _validator(discovery, schema).iter_errors(ex.body)
        ]
    assert len(exchanges) >= 10 and not problems, "\n".join(problems)


async def test_expired_token_fails_auth_valid(tmp_path: Path) -> None:
    """An expired token is refused with 401 UNAUTHENTICATED and auth_valid fails."""
    config = sandbox_config(tmp_path, "google", BLOCK, faults="google: [{kind: expired_token}]")
    results, _, _ = await run_pack_and_count(config)
    auth = by_check(results)["auth_valid"]
    assert auth.outcome.value == "fail" and auth.http_status == 401


async def test_calendar_list_pages_by_token_then_sync_token(client: TestClient) -> None:
    """maxResults pages with nextPageToken; the last page carries nextSyncToken instead."""
    url = f"{V3}/users/me/calendarList"
    first = await (await client.get(url, params={"maxResults": "2"}, headers=TOKEN)).json()
    assert len(first["items"]) == 2 and "nextSyncToken" not in first
    params = {"maxResults": "2", "pageToken": first["nextPageToken"]}
    rest = await (await client.get(url, params=params, headers=TOKEN)).json()
    assert len(rest["items"]) == 1 and "nextPageToken" not in rest and rest["nextSyncToken"]
    primary = next(i for i in first["items"] if i.get("primary"))
    calendar = await (await client.get(f"{V3}/calendars/primary", headers=TOKEN)).json()
    assert calendar["id"] == primary["id"]


async def test_unauthenticated_answers_name_the_reason(client: TestClient) -> None:
    """No token is `required` (Login Required); a bad one `authError` with error="invalid_token"."""
    missing = await client.get(f"{V3}/calendars/primary")
    bad = await client.get(f"{V3}/calendars/primary", headers={"Authorization": "Bearer nope"})
    for resp, reason in ((missing, "required"), (bad, "authError")):
        error = (await resp.json())["error"]
        assert resp.status == 401 and error["status"] == "UNAUTHENTICATED"
        assert error["errors"][0]["reason"] == reason
    assert "invalid_token" not in missing.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]


async def test_event_errors(client: TestClient) -> None:
    """An empty time range is 400 timeRangeEmpty; deleting twice is 410 deleted; odd URLs get HTML."""
    events = f"{V3}/calendars/{CALENDAR}/events"
    backwards = {"start": {"dateTime": "2030-01-01T10:00:00Z"}, "end": {"dateTime": "2030-01-01T09:00:00Z"}}
    resp = await client.post(events, json=backwards, headers=TOKEN)
    assert resp.status == 400 and (await resp.json())["error"]["errors"][0]["reason"] == "timeRangeEmpty"
    missing_end = await client.post(events, json={"start": backwards["end"]}, headers=TOKEN)
    assert (await missing_end.json())["error"]["errors"][0]["reason"] == "required"
    ok = {"start": backwards["end"], "end": backwards["start"], "summary": "t"}
    created = await (await client.post(events, json=ok, headers=TOKEN)).json()
    url = f"{events}/{created['id']}"
    assert (await client.delete(url, headers=TOKEN)).status == 204
    again = await client.delete(url, headers=TOKEN)
    assert again.status == 410 and (await again.json())["error"]["errors"][0]["reason"] == "deleted"
    odd = await client.get(f"{V3}/calendarz", headers=TOKEN)
    assert odd.status == 404 and odd.content_type == "text/html"


async def test_spent_user_quota_is_403_user_rate_limit_exceeded(client: TestClient) -> None:
    """Past the per-user quota Calendar answers 403 userRateLimitExceeded, with no quota headers."""
    state = client.server.app[STATES_KEY]["google"]
    state.quota_used = state.quota_limit
    resp = await client.get(f"{V3}/colors", headers=TOKEN)
    error = (await resp.json())["error"]
    assert resp.status == 403 and error["errors"][0] == {
        "message": "User Rate Limit Exceeded",
        "domain": "usageLimits",
        "reason": "userRateLimitExceeded",
    }
    assert not any(h.lower().startswith("x-ratelimit") for h in resp.headers)
