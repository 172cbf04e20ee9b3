"""HubSpot (`https://api.hubapi.com`): account details and CRM v3 contacts.

What the real API does and this reproduces (from HubSpot's public docs; its spec files are not
licensed for use here): Bearer private-app or OAuth tokens; errors are
`{"status": "error", "message", "correlationId", "category"}` with 401 INVALID_AUTHENTICATION
(EXPIRED_AUTHENTICATION for an expired OAuth token), 404 OBJECT_NOT_FOUND, 409 CONFLICT for a
duplicate email and 400 VALIDATION_ERROR; `limit`/`after` cursor paging in `paging.next`; contact
properties are all strings; create is 201, archive (DELETE) 204; every answer carries
`X-HubSpot-RateLimit-*` headers (the daily pair only for private apps) and a limited request is
429 `RATE_LIMIT` naming the policy.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from typing import Any

from aiohttp import web

from monitor.sandbox.common import Handler, add_oauth_token_route, auth_middleware, json_body, provider_app
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState, credentials_in

NAME = "hubspot"
BASE_PATH = ""
_API = "https://api.hubapi.com"
_PORTAL = 24_350_000
_CONTACTS = "/crm/v3/objects/contacts"
_SEED = (("101", "Ada", "Lovelace"), ("102", "Grace", "Hopper"), ("103", "Alan", "Turing"))
# Private apps on Professional: 190 requests per 10 s and 650,000 per day (HubSpot docs).
_BURST, _INTERVAL_MS, _DAILY = 190, 10_000, 650_000


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        body = {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": "TEN_SECONDLY_ROLLING",
            "category": "RATE_LIMITS",
        }
        headers = {
            "Retry-After": str(retry_after),
            "X-HubSpot-RateLimit-Max": str(_BURST),
            "X-HubSpot-RateLimit-Remaining": "0",
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(_INTERVAL_MS),
        }
        return web.json_response(body, status=429, headers=headers)

    def server_error(self, status: int) -> web.Response:
        return _error(status, "INTERNAL_ERROR", "internal error")


def _error(status: int, category: str, message: str, **extra: Any) -> web.Response:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    return web.json_response({**body, **extra}, status=status)


def _rejecter(state: ProviderState) -> Any:
    def reject(request: web.Request) -> web.Response:
        # Only a token HubSpot issued can have expired; an unknown one is simply invalid.
        if state.token_expired() and any(c in state.credentials for c in credentials_in(request)):
            return _error(
                401, "EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired 1 hour(s) ago."
            )
        return _error(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
            "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )

    return reject


def _rate_headers(state: ProviderState) -> Any:
    """Count requests in a rolling 10 s window and per day, and report both the HubSpot way."""
    seen: deque[float] = deque()

    @web.middleware
    async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        now = time.monotonic()
        seen.append(now)
        while seen[0] < now - _INTERVAL_MS / 1000:
            seen.popleft()
        _, daily_remaining, _ = state.count_request()
        response = await handler(request)
        response.headers["X-HubSpot-RateLimit-Max"] = str(_BURST)
        response.headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, _BURST - len(seen)))
        response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(_INTERVAL_MS)
        # The daily pair is absent on calls made with OAuth access tokens (HubSpot docs); the
        # sandbox's OAuth route issues tokens containing "-access-".
        if "-access-" not in request.headers.get("Authorization", ""):
            response.headers["X-HubSpot-RateLimit-Daily"] = str(_DAILY)
            response.headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(daily_remaining)
        return response

    return headers


def create_app(state: ProviderState) -> web.Application:
    state.quota_limit, state.quota_window_s = _DAILY, 86_400
    auth = auth_middleware(state, _rejecter(state), public=("/oauth/v1/token",))
    app = provider_app(state, _Hooks(), [_rate_headers(state), auth])
    add_oauth_token_route(app, state, "/oauth/v1/token")
    contacts: dict[str, dict[str, Any]] = {cid: _contact(cid, first, last) for cid, first, last in _SEED}

    def bind(handler: Any) -> Handler:
        async def bound(request: web.Request) -> web.StreamResponse:
            return await handler(request, state, contacts)  # type: ignore[no-any-return]

        return bound

    r = app.router
    r.add_get("/account-info/v3/details", _details)
    r.add_get(_CONTACTS, bind(_list_contacts))
    r.add_post(_CONTACTS, bind(_create_contact))
    r.add_get(_CONTACTS + "/{id}", bind(_get_contact))
    r.add_patch(_CONTACTS + "/{id}", bind(_update_contact))
    r.add_delete(_CONTACTS + "/{id}", bind(_archive_contact))
    r.add_route("*", "/{tail:.*}", _no_route)
    return app


def _stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"


def _contact(cid: str, first: str, last: str, email: str | None = None) -> dict[str, Any]:
    stamp = _stamp(1_700_000_000 + int(cid))
    properties = {
        "createdate": stamp,
        "email": email or f"{first.lower()}@example.com",
        "firstname": first,
        "hs_object_id": cid,
        "lastmodifieddate": stamp,
        "lastname": last,
    }
    return {"id": cid, "properties": properties, "createdAt": stamp, "updatedAt": stamp, "archived": False}


async def _details(_request: web.Request) -> web.Response:
    return web.json_response(
        {
            "portalId": _PORTAL,
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18_000_000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }
    )


def _view(contact: dict[str, Any], request: web.Request) -> dict[str, Any]:
    """`properties=a,b` returns those (when set) plus the three HubSpot always includes."""
    wanted = request.query.get("properties")
    if not wanted:
        return contact
    names = {"hs_object_id", "createdate", "lastmodifieddate", *wanted.split(",")}
    return {**contact, "properties": {k: v for k, v in contact["properties"].items() if k in names}}


async def _list_contacts(
    request: web.Request, _state: ProviderState, contacts: dict[str, dict[str, Any]]
) -> web.Response:
    try:
        limit = int(request.query.get("limit", 10))
    except ValueError:
        return _error(400, "VALIDATION_ERROR", "limit must be an integer")
    if not 1 <= limit <= 100:
        return _error(400, "VALIDATION_ERROR", "limit must be between 1 and 100")
    after = request.query.get("after", "0")
    ordered = sorted(contacts.values(), key=lambda c: int(c["id"]))
    # The `after` cursor is opaque to clients; here it is the last id already returned.
    rest = [c for c in ordered if int(c["id"]) > int(after)] if after.isdigit() else []
    chunk = rest[:limit]
    body: dict[str, Any] = {"results": [_view(c, request) for c in chunk]}
    if len(rest) > limit:
        last = chunk[-1]["id"]
        body["paging"] = {"next": {"after": last, "link": f"{_API}{_CONTACTS}?limit={limit}&after={last}"}}
    return web.json_response(body)


def _not_found(cid: str) -> web.Response:
    return _error(404, "OBJECT_NOT_FOUND", "resource not found", context={"id": [cid]})


async def _get_contact(
    request: web.Request, _state: ProviderState, contacts: dict[str, dict[str, Any]]
) -> web.Response:
    contact = contacts.get(request.match_info["id"])
    return web.json_response(_view(contact, request)) if contact else _not_found(request.match_info["id"])


async def _properties(request: web.Request) -> dict[str, str] | web.Response:
    body = await json_body(request)
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        return _error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1: expected a 'properties' object")
    return {str(k): _as_property(v) for k, v in props.items()}


def _as_property(value: Any) -> str:
    """HubSpot stores every property value as a string (`true`, `42`, `""` for null)."""
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


async def _create_contact(
    request: web.Request, state: ProviderState, contacts: dict[str, dict[str, Any]]
) -> web.Response:
    props = await _properties(request)
    if isinstance(props, web.Response):
        return props
    email = props.get("email", "")
    clash = next((c["id"] for c in contacts.values() if email and c["properties"]["email"] == email), None)
    if clash is not None:
        return _error(409, "CONFLICT", f"Contact already exists. Existing ID: {clash}")
    cid = str(state.next_id())
    contact = _contact(cid, props.get("firstname", ""), props.get("lastname", ""), email)
    now = _stamp(time.time())
    contact["properties"].update(props, createdate=now, lastmodifieddate=now, hs_object_id=cid)
    contact.update(createdAt=now, updatedAt=now)
    contacts[cid] = state.objects[cid] = contact
    return web.json_response(contact, status=201)


async def _update_contact(
    request: web.Request, _state: ProviderState, contacts: dict[str, dict[str, Any]]
) -> web.Response:
    contact = contacts.get(request.match_info["id"])
    if contact is None:
        return _not_found(request.match_info["id"])
    props = await _properties(request)
    if isinstance(props, web.Response):
        return props
    now = _stamp(time.time())
    contact["properties"].update(props, lastmodifieddate=now)
    contact["updatedAt"] = now
    return web.json_response(contact)


async def _archive_contact(
    request: web.Request, state: ProviderState, contacts: dict[str, dict[str, Any]]
) -> web.Response:
    cid = request.match_info["id"]
    if contacts.pop(cid, None) is None:
        return _not_found(cid)
    state.objects.pop(cid, None)
    return web.Response(status=204)


async def _no_route(_request: web.Request) -> web.Response:
    return _error(404, "OBJECT_NOT_FOUND", "Resource not found")
