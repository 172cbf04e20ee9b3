"""Salesforce REST API (`https://<instance>.my.salesforce.com`): resources, SOQL and sObject CRUD.

What the real API does and this reproduces: the OAuth2 refresh-token grant at
`/services/oauth2/token`, whose answer carries `instance_url`, `id`, `issued_at` and `signature`
and no `expires_in`; errors are JSON *arrays* of `{message, errorCode}` (401
`INVALID_SESSION_ID`, 404 `NOT_FOUND`, 400 `INVALID_FIELD`/`MALFORMED_QUERY`); every API answer
carries `Sforce-Limit-Info: api-usage=N/M`, and an exhausted daily allocation is 403
`REQUEST_LIMIT_EXCEEDED`; SOQL results page by `nextRecordsUrl` (batch size 200..2000, chosen by
`Sforce-Query-Options: batchSize=N`); create is 201 `{id, success, errors}`, update and delete 204.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import time
from typing import Any

from aiohttp import web

from monitor.sandbox.common import Handler, add_oauth_token_route, auth_middleware, json_body, provider_app
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState

NAME = "salesforce"
BASE_PATH = ""
_DATA = "/services/data/v60.0"
_TOKEN_PATH = "/services/oauth2/token"
_ORG, _USER = "00DSB0000000AtmAAA", "005SB0000000AtmAAA"  # 18-character ids
# Object name -> (key prefix, field that must be given on create, every field a record has).
_TYPES: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "Account": ("001", "Name", ("Id", "Name", "Type", "Industry", "Description", "OwnerId")),
    "Contact": ("003", "LastName", ("Id", "FirstName", "LastName", "Email", "AccountId", "OwnerId")),
    "Task": ("00T", None, ("Id", "Subject", "Status", "Priority", "WhatId", "OwnerId")),
}
_AUDIT = ("IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")
_DEFAULTS = {"Task": {"Status": "Not Started", "Priority": "Normal"}}
_SEED_ACCOUNTS = ("Edge Communications", "Burlington Textiles Corp of America", "United Oil & Gas Corp.")
_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>\w+)\s*=\s*'(?P<value>[^']*)')?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_KEEP_CURSORS = 50
_KEEP_DELETED = 1000


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        # Salesforce's documented refusal is the 403 of a spent daily allocation (see _quota). The
        # rate_limit fault is the sandbox-wide 429 + Retry-After contract, in Salesforce's error array.
        return _errors(429, "REQUEST_LIMIT_EXCEEDED", "Too many requests. Retry later.", retry_after)

    def server_error(self, status: int) -> web.Response:
        if status == 503:
            return _errors(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable.")
        return _errors(
            status, "UNKNOWN_EXCEPTION", "An unexpected error occurred. ErrorId: 1712-3498 (-1082)"
        )


def _errors(status: int, code: str, message: str, retry_after: int | None = None) -> web.Response:
    """Salesforce answers every REST error with a JSON array of {message, errorCode}."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.json_response([{"message": message, "errorCode": code}], status=status, headers=headers)


def _not_found() -> web.Response:
    return _errors(404, "NOT_FOUND", "The requested resource does not exist")


def _invalid_session(_request: web.Request) -> web.Response:
    return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")


def _stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(epoch))


class _Org:
    """The org's records, query cursors and deleted ids (created records live in state.objects)."""

    def __init__(self, state: ProviderState) -> None:
        self.state = state
        self.seed: dict[str, dict[str, Any]] = {}
        for n, name in enumerate(_SEED_ACCOUNTS, start=1):
            rid = f"001SB{n:010d}AAA"
            self.seed[rid] = _record("Account", rid, {"Name": name}, 1_700_000_000 + n * 3600)
        self.cursors: dict[str, list[dict[str, Any]]] = {}
        # Ids deleted recently: a second DELETE or PATCH is ENTITY_IS_DELETED, not NOT_FOUND.
        self.deleted: dict[str, None] = {}
        self.locators = itertools.count(1)

    def records(self, sobject: str) -> list[dict[str, Any]]:
        rows = [*self.seed.values(), *self.state.objects.values()]
        return [r for r in rows if r["attributes"]["type"] == sobject]

    def lookup(self, rid: str) -> dict[str, Any] | None:
        return self.state.objects.get(rid) or self.seed.get(rid)

    def remove(self, rid: str) -> None:
        self.state.objects.pop(rid, None)
        self.seed.pop(rid, None)
        self.deleted[rid] = None
        while len(self.deleted) > _KEEP_DELETED:
            del self.deleted[next(iter(self.deleted))]


def _record(sobject: str, rid: str, values: dict[str, Any], epoch: float) -> dict[str, Any]:
    fields = dict.fromkeys(_TYPES[sobject][2])
    stamp = _stamp(epoch)
    fields.update(_DEFAULTS.get(sobject, {}), **values, Id=rid, OwnerId=_USER)
    audit = {"IsDeleted": False, "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp}
    return {"attributes": {"type": sobject, "url": f"{_DATA}/sobjects/{sobject}/{rid}"}, **fields, **audit}


def create_app(state: ProviderState) -> web.Application:
    # Developer Edition: 15,000 API requests per rolling 24 hours.
    state.quota_limit, state.quota_window_s = 15_000, 86_400
    org = _Org(state)
    app = provider_app(
        state,
        _Hooks(),
        [_token_answer, auth_middleware(state, _invalid_session, public=(_TOKEN_PATH,)), _quota(state)],
    )
    add_oauth_token_route(app, state, _TOKEN_PATH)

    def bind(handler: Any) -> Handler:
        async def bound(request: web.Request) -> web.StreamResponse:
            return await handler(request, org)  # type: ignore[no-any-return]

        return bound

    r = app.router
    for slash in ("", "/"):  # Salesforce serves each resource with or without a trailing slash
        r.add_get(f"{_DATA}{slash}", _resources)
        r.add_get(f"{_DATA}/limits{slash}", bind(_limits))
        r.add_get(f"{_DATA}/sobjects{slash}", _describe_global)
        r.add_get(f"{_DATA}/query{slash}", bind(_query))
        r.add_post(f"{_DATA}/sobjects/{{type}}{slash}", bind(_create))
    r.add_get(f"{_DATA}/query/{{locator}}", bind(_query_more))
    for method, handler in (("GET", _get), ("PATCH", _update), ("DELETE", _delete)):
        r.add_route(method, f"{_DATA}/sobjects/{{type}}/{{id}}", bind(handler))
    r.add_route("*", "/{tail:.*}", _catch_all)
    return app


@web.middleware
async def _token_answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Salesforce's token answer: instance_url, id, issued_at, signature; no expires_in."""
    response = await handler(request)
    if not request.path.endswith(_TOKEN_PATH) or not isinstance(response, web.Response):
        return response
    body = json.loads(bytes(response.body))  # type: ignore[arg-type]
    if response.status != 200:
        described = {"invalid_grant": "expired access/refresh token"}
        body["error_description"] = described.get(body.get("error"), "grant type not supported")
        return web.json_response(body, status=response.status)
    instance = str(request.url.with_path(request.path.removesuffix(_TOKEN_PATH)).with_query(None))
    issued = str(int(time.time() * 1000))
    identity = f"https://login.salesforce.com/id/{_ORG}/{_USER}"
    digest = hashlib.sha256(f"{identity}{issued}".encode()).digest()
    del body["expires_in"]
    body.update(
        instance_url=instance,
        id=identity,
        issued_at=issued,
        signature=base64.b64encode(digest).decode(),
        scope="api refresh_token",
    )
    return web.json_response(body)


def _quota(state: ProviderState) -> Any:
    window = {"start": time.time()}

    @web.middleware
    async def quota(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.endswith(_TOKEN_PATH):
            return await handler(request)  # the login service is not an API call
        if time.time() - window["start"] >= state.quota_window_s:
            window["start"], state.quota_used = time.time(), 0
        if state.quota_used >= state.quota_limit:
            response: web.StreamResponse = _errors(
                403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."
            )
        else:
            state.count_request()
            response = await handler(request)
        response.headers["Sforce-Limit-Info"] = f"api-usage={state.quota_used}/{state.quota_limit}"
        return response

    return quota


async def _resources(_request: web.Request) -> web.Response:
    names = ("sobjects", "query", "queryAll", "search", "limits", "recent", "composite", "tooling")
    body: dict[str, str] = {n: f"{_DATA}/{n}" for n in names}
    body["identity"] = f"https://login.salesforce.com/id/{_ORG}/{_USER}"
    return web.json_response(body)


async def _limits(_request: web.Request, org: _Org) -> web.Response:
    s = org.state
    return web.json_response(
        {
            "DailyApiRequests": {"Max": s.quota_limit, "Remaining": max(0, s.quota_limit - s.quota_used)},
            "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": 10_000},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
            "FileStorageMB": {"Max": 20, "Remaining": 20},
        }
    )


async def _describe_global(_request: web.Request) -> web.Response:
    sobjects = [
        {
            "name": name,
            "label": name,
            "labelPlural": f"{name}s",
            "keyPrefix": prefix,
            "custom": False,
            **dict.fromkeys(("createable", "deletable", "updateable", "queryable", "retrieveable"), True),
            "urls": {
                "sobject": f"{_DATA}/sobjects/{name}",
                "describe": f"{_DATA}/sobjects/{name}/describe",
                "rowTemplate": f"{_DATA}/sobjects/{name}/{{ID}}",
            },
        }
        for name, (prefix, _required, _fields) in _TYPES.items()
    ]
    return web.json_response({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})


def _batch_size(request: web.Request) -> int:
    """`Sforce-Query-Options: batchSize=N`, 200..2000 (default 2000)."""
    match = re.search(r"batchSize=(\d+)", request.headers.get("Sforce-Query-Options", ""))
    return max(200, min(2000, int(match.group(1)))) if match else 2000


async def _query(request: web.Request, org: _Org) -> web.Response:
    soql = request.query.get("q", "")
    if not soql.strip():
        return _errors(400, "MALFORMED_QUERY", "A query string has to be specified")
    m = _SOQL.match(soql)
    if m is None:
        return _errors(400, "MALFORMED_QUERY", f"unexpected token: '{soql.split()[-1]}'")
    sobject = next((t for t in _TYPES if t.lower() == m["object"].lower()), None)
    if sobject is None:
        return _errors(400, "INVALID_TYPE", f"sObject type '{m['object']}' is not supported.")
    known = {f.lower(): f for f in (*_TYPES[sobject][2], *_AUDIT)}
    wanted = [f.strip() for f in m["fields"].split(",")]
    for name in [*wanted, *([m["where"]] if m["where"] else [])]:
        if name.lower() not in known:
            return _errors(400, "INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'.")
    rows = org.records(sobject)
    if m["where"]:
        rows = [r for r in rows if str(r.get(known[m["where"].lower()])) == m["value"]]
    rows = rows[: int(m["limit"])] if m["limit"] else rows
    columns = [known[f.lower()] for f in wanted]
    picked = [{"attributes": r["attributes"], **{c: r[c] for c in columns}} for r in rows]
    locator = f"01gSB{next(org.locators):010d}AAA"
    org.cursors[locator] = picked
    while len(org.cursors) > _KEEP_CURSORS:
        del org.cursors[next(iter(org.cursors))]
    return _page(locator, 0, _batch_size(request), org)


def _page(locator: str, start: int, size: int, org: _Org) -> web.Response:
    rows = org.cursors[locator]
    chunk, done = rows[start : start + size], start + size >= len(rows)
    body: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": chunk}
    if not done:
        body["nextRecordsUrl"] = f"{_DATA}/query/{locator}-{start + size}"
    return web.json_response(body)


async def _query_more(request: web.Request, org: _Org) -> web.Response:
    locator, _, offset = request.match_info["locator"].partition("-")
    if locator not in org.cursors or not offset.isdigit():
        return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return _page(locator, int(offset), _batch_size(request), org)


def _check_fields(sobject: str, body: Any) -> web.Response | None:
    if not isinstance(body, dict):
        return _errors(400, "JSON_PARSER_ERROR", "The request body must be a JSON object.")
    if any(k.lower() == "id" for k in body):
        return _errors(400, "INVALID_FIELD", "The Id field should not be specified in the sobject data.")
    writable = set(_TYPES[sobject][2]) - {"Id", "OwnerId"}
    for key in body:
        if key not in writable:
            return _errors(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {sobject}")
    return None


async def _create(request: web.Request, org: _Org) -> web.Response:
    sobject = request.match_info["type"]
    if sobject not in _TYPES:
        return _not_found()
    body = await json_body(request)
    problem = _check_fields(sobject, body)
    if problem is not None:
        return problem
    required = _TYPES[sobject][1]
    if required and not body.get(required):
        return web.json_response(
            [
                {
                    "message": f"Required fields are missing: [{required}]",
                    "errorCode": "REQUIRED_FIELD_MISSING",
                    "fields": [required],
                }
            ],
            status=400,
        )
    rid = f"{_TYPES[sobject][0]}SB{org.state.next_id():010d}AAA"
    org.state.objects[rid] = _record(sobject, rid, body, time.time())
    return web.json_response({"id": rid, "success": True, "errors": []}, status=201)


def _find(request: web.Request, org: _Org) -> dict[str, Any] | web.Response:
    sobject, rid = request.match_info["type"], request.match_info["id"]
    found = org.lookup(rid)
    if sobject not in _TYPES or found is None or found["attributes"]["type"] != sobject:
        if rid in org.deleted and request.method != "GET":
            return _errors(404, "ENTITY_IS_DELETED", "entity is deleted")
        return _not_found()
    return found


async def _get(request: web.Request, org: _Org) -> web.Response:
    found = _find(request, org)
    if isinstance(found, web.Response):
        return found
    if "fields" in request.query:
        names = [f.strip() for f in request.query["fields"].split(",")]
        unknown = [n for n in names if n not in found]
        if unknown:
            sobject = found["attributes"]["type"]
            return _errors(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{sobject}'.")
        return web.json_response({"attributes": found["attributes"], **{n: found[n] for n in names}})
    return web.json_response(found)


async def _update(request: web.Request, org: _Org) -> web.Response:
    found = _find(request, org)
    if isinstance(found, web.Response):
        return found
    body = await json_body(request)
    problem = _check_fields(found["attributes"]["type"], body)
    if problem is not None:
        return problem
    stamp = _stamp(time.time())
    found.update(body, LastModifiedDate=stamp, SystemModstamp=stamp)
    return web.Response(status=204)


async def _delete(request: web.Request, org: _Org) -> web.Response:
    found = _find(request, org)
    if isinstance(found, web.Response):
        return found
    org.remove(found["Id"])
    return web.Response(status=204)


async def _catch_all(_request: web.Request) -> web.Response:
    return _not_found()
