"""The Microsoft Graph sandbox and pack: /me, mail, events, teams, a draft lifecycle, Graph errors.

No Graph OpenAPI is saved (the v1.0 description is tens of MB), so the documented response shapes
(Graph v1.0 reference: user, message, event, team, collections, the error envelope) are written
here as JSON Schemas and every exchange is checked against them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.sandbox.server import build_app
from tests.sandbox.support import by_check, documented_problems, run_pack_and_count, sandbox_config

BLOCK = 'pack: msgraph\nauth: {kind: bearer, token: "sandbox-msgraph-token"}'
V1 = "/msgraph/v1.0"
TOKEN = {"Authorization": "Bearer sandbox-msgraph-token"}

_STR, _NSTR = {"type": "string"}, {"type": ["string", "null"]}
_CONTEXT = {"type": "string", "pattern": r"^https://graph\.microsoft\.com/v1\.0/\$metadata#"}
_DATETIME = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "innerError"],
            "properties": {
                "code": _STR,
                "message": _STR,
                "innerError": {
                    "type": "object",
                    "required": ["date", "request-id", "client-request-id"],
                    "properties": {"date": _STR, "request-id": _STR, "client-request-id": _STR},
                },
            },
        }
    },
}
RECIPIENT = {
    "type": "object",
    "required": ["emailAddress"],
    "properties": {
        "emailAddress": {"type": "object", "required": ["address"], "properties": {"address": _STR}}
    },
}
USER = {
    "type": "object",
    "required": ["@odata.context", "id"],
    "properties": {
        "@odata.context": {**_CONTEXT, "pattern": r"#users(\([\w,]+\))?/\$entity$"},
        "id": _STR,
        "businessPhones": {"type": "array", "items": _STR},
        "displayName": _NSTR,
        "mail": _NSTR,
        "userPrincipalName": _STR,
    },
}
MESSAGE = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "@odata.etag": _STR,
        "id": _STR,
        "subject": _NSTR,
        "createdDateTime": _DATETIME,
        "receivedDateTime": _DATETIME,
        "isDraft": {"type": "boolean"},
        "importance": {"enum": ["low", "normal", "high"]},
        "body": {
            "type": "object",
            "required": ["contentType", "content"],
            "properties": {"contentType": {"enum": ["text", "html"]}, "content": _STR},
        },
        "from": RECIPIENT,
        "sender": RECIPIENT,
        "toRecipients": {"type": "array", "items": RECIPIENT},
        "flag": {"type": "object", "required": ["flagStatus"]},
    },
}
_ZONED = {"type": "object", "required": ["dateTime", "timeZone"], "properties": {"dateTime": _STR}}
EVENT = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": _STR, "subject": _NSTR, "start": _ZONED, "end": _ZONED, "organizer": RECIPIENT},
}
TEAM = {
    "type": "object",
    "required": ["id", "displayName"],
    "properties": {"id": {"type": "string", "pattern": "^[0-9a-f-]{36}$"}, "isArchived": {"type": "boolean"}},
}


def _collection(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["@odata.context", "value"],
        "properties": {
            "@odata.context": _CONTEXT,
            "@odata.nextLink": {"type": "string", "pattern": "^https?://"},
            "@odata.count": {"type": "integer"},
            "value": {"type": "array", "items": item},
        },
    }


_ENTITY = {**MESSAGE, "required": ["@odata.context", "id"]}
# (method, path under /v1.0, {status: documented body schema, None for no body})
DOCUMENTED: list[tuple[str, str, dict[int, Any]]] = [
    ("GET", "/me", {200: USER, 401: ERROR}),
    ("GET", "/me/messages", {200: _collection(MESSAGE), 400: ERROR}),
    ("POST", "/me/messages", {201: _ENTITY, 400: ERROR}),
    ("GET", "/me/messages/[^/]+", {200: _ENTITY, 400: ERROR, 404: ERROR}),
    ("PATCH", "/me/messages/[^/]+", {200: _ENTITY, 400: ERROR, 404: ERROR}),
    ("DELETE", "/me/messages/[^/]+", {204: None, 400: ERROR, 404: ERROR}),
    ("GET", "/me/events", {200: _collection(EVENT)}),
    ("GET", "/me/joinedTeams", {200: _collection(TEAM)}),
]


@pytest.fixture
async def client() -> Any:
    async with TestClient(TestServer(build_app(providers=["msgraph"]), host="127.0.0.1")) as c:
        yield c


async def test_every_exchange_matches_the_documented_shapes(tmp_path: Path) -> None:
    """Each response has a documented status and body, and names its request-id in a header."""
    _, exchanges, _ = await run_pack_and_count(sandbox_config(tmp_path, "msgraph", BLOCK))
    assert len(exchanges) >= 10
    problems = [p for ex in exchanges for p in documented_problems(ex, DOCUMENTED, V1)]
    assert not problems, "\n".join(problems)
    assert all(re.fullmatch(r"[0-9a-f-]{36}", ex.headers["request-id"]) for ex in exchanges)


async def test_expired_token_fails_auth_valid(tmp_path: Path) -> None:
    """An expired token is refused with 401 InvalidAuthenticationToken and auth_valid fails."""
    config = sandbox_config(tmp_path, "msgraph", BLOCK, faults="msgraph: [{kind: expired_token}]")
    results, exchanges, _ = await run_pack_and_count(config)
    assert by_check(results)["auth_valid"].outcome.value == "fail"
    me = next(ex for ex in exchanges if urlsplit(ex.url).path == f"{V1}/me")
    assert me.body["error"]["message"] == "Lifetime validation failed, the token is expired."


async def test_oauth2_refresh_at_the_tenant_token_path(tmp_path: Path) -> None:
    """The Entra ID v2.0 token path is served, so oauth2_refresh auth runs the whole pack."""
    block = (
        "pack: msgraph\nauth: {kind: oauth2_refresh, token_url: /common/oauth2/v2.0/token, "
        "client_id: c, client_secret: s, refresh_token: sandbox-msgraph-refresh}"
    )
    results, _, _ = await run_pack_and_count(sandbox_config(tmp_path, "msgraph", block))
    assert all(r.outcome.value == "pass" for r in results), [(r.check, r.reason) for r in results]


async def test_messages_page_by_odata_next_link(client: TestClient) -> None:
    """$top pages the mailbox; @odata.nextLink is an absolute URL that fetches the rest."""
    first = await (await client.get(f"{V1}/me/messages", params={"$top": "2"}, headers=TOKEN)).json()
    assert len(first["value"]) == 2 and "$skip=2" in first["@odata.nextLink"]
    link = urlsplit(first["@odata.nextLink"])
    rest = await (await client.get(f"{link.path}?{link.query}", headers=TOKEN)).json()
    assert len(rest["value"]) == 1 and "@odata.nextLink" not in rest


async def test_select_trims_properties_and_names_them_in_the_context(client: TestClient) -> None:
    """$select returns only the named properties (plus id) and says so in @odata.context."""
    me = await (await client.get(f"{V1}/me", params={"$select": "displayName"}, headers=TOKEN)).json()
    assert set(me) == {"@odata.context", "displayName", "id"}
    assert me["@odata.context"].endswith("#users(displayName)/$entity")


async def test_error_envelopes(client: TestClient) -> None:
    """401 carries WWW-Authenticate; malformed ids, unknown properties and paths are distinct 400s."""
    denied = await client.get(f"{V1}/me", headers={"client-request-id": "abc-123"})
    body = await denied.json()
    assert denied.status == 401 and denied.headers["WWW-Authenticate"].startswith("Bearer realm=")
    assert (
        body["error"]["innerError"]["client-request-id"] == "abc-123" == denied.headers["client-request-id"]
    )
    assert body["error"]["innerError"]["request-id"] == denied.headers["request-id"]
    cases: list[tuple[str, str, Any, int, str]] = [
        ("GET", f"{V1}/me/messages/not.an.id", None, 400, "ErrorInvalidIdMalformed"),
        ("GET", f"{V1}/me/messages/AAMkADmissing00000AAA=", None, 404, "ErrorItemNotFound"),
        ("POST", f"{V1}/me/messages", {"subjekt": "typo"}, 400, "RequestBodyRead"),
        ("GET", f"{V1}/me/mailFolderz", None, 400, "BadRequest"),
    ]
    for method, url, payload, status, code in cases:
        resp = await client.request(method, url, json=payload, headers=TOKEN)
        assert resp.status == status and (await resp.json())["error"]["code"] == code, url


async def test_draft_lifecycle_codes(client: TestClient) -> None:
    """A draft is created 201 (isDraft, no sender), edited 200, deleted 204, then 404."""
    resp = await client.post(f"{V1}/me/messages", json={"subject": "s", "importance": "low"}, headers=TOKEN)
    draft = await resp.json()
    assert resp.status == 201 and draft["isDraft"] is True and "from" not in draft
    url = f"{V1}/me/messages/{draft['id']}"
    edited = await client.patch(url, json={"subject": "t"}, headers=TOKEN)
    assert edited.status == 200 and (await edited.json())["subject"] == "t"
    assert (await client.delete(url, headers=TOKEN)).status == 204
    assert (await client.get(url, headers=TOKEN)).status == 404
