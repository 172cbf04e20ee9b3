"""The Salesforce sandbox and pack: OAuth refresh, SOQL paging, sObject CRUD and error arrays.

Salesforce publishes no OpenAPI for its core REST API, so the documented response shapes (REST
API Developer Guide) are written here as JSON Schemas and every exchange is checked against them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.sandbox.server import STATES_KEY, build_app
from tests.sandbox.support import by_check, documented_problems, run_pack_and_count, sandbox_config

BLOCK = """
pack: salesforce
auth:
  kind: oauth2_refresh
  token_url: /services/oauth2/token
  client_id: sandbox-salesforce-client
  client_secret: sandbox-salesforce-secret
  refresh_token: sandbox-salesforce-refresh
"""
DATA = "/salesforce/services/data/v60.0"
TOKEN = {"Authorization": "Bearer sandbox-salesforce-token"}

_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_ID = {"type": "string", "pattern": "^[a-zA-Z0-9]{18}$"}
ERRORS = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["message", "errorCode"],
        "properties": {"message": _STR, "errorCode": _STR, "fields": {"type": "array", "items": _STR}},
    },
}
RESOURCES = {
    "type": "object",
    "required": ["sobjects", "query", "limits", "identity"],
    "additionalProperties": _STR,
}
DESCRIBE_GLOBAL = {
    "type": "object",
    "required": ["encoding", "maxBatchSize", "sobjects"],
    "properties": {
        "maxBatchSize": _INT,
        "sobjects": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "label", "keyPrefix", "queryable", "createable", "urls"],
                "properties": {
                    "urls": {"type": "object", "required": ["sobject", "describe", "rowTemplate"]}
                },
            },
        },
    },
}
RECORD = {
    "type": "object",
    "required": ["attributes", "Id"],
    "properties": {
        "attributes": {
            "type": "object",
            "required": ["type", "url"],
            "properties": {"type": _STR, "url": _STR},
        },
        "Id": _ID,
    },
}
QUERY = {
    "type": "object",
    "required": ["totalSize", "done", "records"],
    "properties": {
        "totalSize": _INT,
        "done": _BOOL,
        "nextRecordsUrl": {"type": "string", "pattern": r"^/services/data/v\d+\.\d/query/"},
        "records": {"type": "array", "items": {"type": "object", "required": ["attributes"]}},
    },
    "if": {"properties": {"done": {"const": False}}},
    "then": {"required": ["nextRecordsUrl"]},
}
SAVE_RESULT = {
    "type": "object",
    "required": ["id", "success", "errors"],
    "properties": {"id": _ID, "success": _BOOL, "errors": {"type": "array"}},
}
LIMITS = {
    "type": "object",
    "required": ["DailyApiRequests"],
    "additionalProperties": {"type": "object", "required": ["Max", "Remaining"]},
}
_RECORD_PATH = r"/sobjects/\w+/\w+"
# (method, path under /services/data/v60.0, {status: documented body schema, None for no body})
DOCUMENTED: list[tuple[str, str, dict[int, Any]]] = [
    ("GET", r"/?", {200: RESOURCES, 401: ERRORS}),
    ("GET", r"/sobjects/?", {200: DESCRIBE_GLOBAL}),
    ("GET", r"/query/?", {200: QUERY, 400: ERRORS}),
    ("GET", r"/limits/?", {200: LIMITS}),
    ("POST", r"/sobjects/\w+/?", {201: SAVE_RESULT, 400: ERRORS}),
    ("GET", _RECORD_PATH, {200: RECORD, 404: ERRORS}),
    ("PATCH", _RECORD_PATH, {204: None, 400: ERRORS, 404: ERRORS}),
    ("DELETE", _RECORD_PATH, {204: None, 404: ERRORS}),
]


@pytest.fixture
async def client() -> Any:
    async with TestClient(TestServer(build_app(providers=["salesforce"]), host="127.0.0.1")) as c:
        yield c


async def test_every_exchange_matches_the_documented_shapes(tmp_path: Path) -> None:
    """Each response has a documented status and body, and every API answer has Sforce-Limit-Info."""
    _, exchanges, _ = await run_pack_and_count(sandbox_config(tmp_path, "salesforce", BLOCK))
    assert len(exchanges) >= 10
    problems = [p for ex in exchanges for p in documented_problems(ex, DOCUMENTED, DATA)]
    assert not problems, "\n".join(problems)
    counted = [ex for ex in exchanges if ex.status != 401]
    assert all(re.fullmatch(r"api-usage=\d+/15000", ex.headers["Sforce-Limit-Info"]) for ex in counted)


async def test_expired_refresh_token_fails_auth_valid(tmp_path: Path) -> None:
    """With the token expired, the refresh grant answers invalid_grant and auth_valid fails on it."""
    config = sandbox_config(tmp_path, "salesforce", BLOCK, faults="salesforce: [{kind: expired_token}]")
    results, _, _ = await run_pack_and_count(config)
    auth = by_check(results)["auth_valid"]
    assert auth.outcome.value == "fail"
    token = next(a for a in auth.assertions if a.name == "token endpoint")
    assert token.actual == "HTTP 400 invalid_grant" and not token.passed


async def test_token_answer_is_salesforces(client: TestClient) -> None:
    """The refresh grant answers instance_url, id, issued_at and signature, and no expires_in."""
    form = {"grant_type": "refresh_token", "refresh_token": "sandbox-salesforce-refresh"}
    body = await (await client.post("/salesforce/services/oauth2/token", data=form)).json()
    assert {"access_token", "instance_url", "id", "issued_at", "signature", "token_type"} <= body.keys()
    assert "expires_in" not in body and body["instance_url"].endswith("/salesforce")
    resp = await client.get(f"{DATA}/", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert resp.status == 200
    bad = await client.post("/salesforce/services/oauth2/token", data={**form, "refresh_token": "nope"})
    assert bad.status == 400
    assert await bad.json() == {"error": "invalid_grant", "error_description": "expired access/refresh token"}


async def test_errors_are_arrays_with_error_codes(client: TestClient) -> None:
    """401, unknown fields, missing required fields and unknown URLs are [{message, errorCode}]."""
    query = f"{DATA}/query"
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("GET", f"{DATA}/", {}, 401, "INVALID_SESSION_ID"),
        ("GET", query, {"params": {"q": "SELECT Id, Nope FROM Account"}}, 400, "INVALID_FIELD"),
        ("GET", query, {"params": {"q": "SELECT Id FROM Widget"}}, 400, "INVALID_TYPE"),
        ("GET", query, {"params": {"q": "DELETE Account"}}, 400, "MALFORMED_QUERY"),
        ("POST", f"{DATA}/sobjects/Account", {"json": {"Industry": "x"}}, 400, "REQUIRED_FIELD_MISSING"),
        ("POST", f"{DATA}/sobjects/Account", {"json": {"Id": "x", "Name": "x"}}, 400, "INVALID_FIELD"),
        ("GET", f"{DATA}/nope", {}, 404, "NOT_FOUND"),
    ]
    for method, url, kwargs, status, code in cases:
        headers = TOKEN if status != 401 else {}
        resp = await client.request(method, url, headers=headers, **kwargs)
        body = await resp.json()
        assert resp.status == status and isinstance(body, list) and body[0]["errorCode"] == code, body


async def test_deleted_record_is_gone_and_deleting_again_says_so(client: TestClient) -> None:
    """After DELETE (204), GET is NOT_FOUND and a second DELETE is ENTITY_IS_DELETED."""
    created = await (await client.post(f"{DATA}/sobjects/Account", json={"Name": "t"}, headers=TOKEN)).json()
    url = f"{DATA}/sobjects/Account/{created['id']}"
    assert (await client.delete(url, headers=TOKEN)).status == 204
    assert (await (await client.get(url, headers=TOKEN)).json())[0]["errorCode"] == "NOT_FOUND"
    again = await client.delete(url, headers=TOKEN)
    assert again.status == 404 and (await again.json())[0]["errorCode"] == "ENTITY_IS_DELETED"


async def test_query_pages_by_next_records_url(client: TestClient) -> None:
    """More rows than the batch size (min 200) give done=false and a nextRecordsUrl to follow."""
    for n in range(200):
        await client.post(f"{DATA}/sobjects/Account", json={"Name": f"bulk {n}"}, headers=TOKEN)
    headers = {**TOKEN, "Sforce-Query-Options": "batchSize=200"}
    first = await (
        await client.get(f"{DATA}/query", params={"q": "SELECT Id FROM Account"}, headers=headers)
    ).json()
    assert (first["totalSize"], first["done"], len(first["records"])) == (203, False, 200)
    rest = await (await client.get(f"/salesforce{first['nextRecordsUrl']}", headers=headers)).json()
    assert (rest["done"], len(rest["records"])) == (True, 3) and "nextRecordsUrl" not in rest


async def test_limit_info_counts_and_spent_allocation_is_403(client: TestClient) -> None:
    """Sforce-Limit-Info counts each call; past the daily allocation calls are 403 REQUEST_LIMIT_EXCEEDED."""
    state = client.server.app[STATES_KEY]["salesforce"]
    state.quota_used = state.quota_limit - 1
    last = await client.get(f"{DATA}/limits", headers=TOKEN)
    assert last.status == 200 and last.headers["Sforce-Limit-Info"] == "api-usage=15000/15000"
    assert (await last.json())["DailyApiRequests"]["Remaining"] == 0
    refused = await client.get(f"{DATA}/limits", headers=TOKEN)
    assert refused.status == 403 and (await refused.json())[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
