"""Xero (`https://api.xero.com`): tenant connections and the accounting API at `/api.xro/2.0`.

What the real API does and this reproduces: OAuth2 Bearer tokens refreshed at
`identity.xero.com/connect/token`; `GET /connections` lists the tenants a token may use, and every
accounting call must name one in the `xero-tenant-id` header, else 403 `AuthenticationUnsuccessful`;
a bad token is 401 with a problem-details body (`TokenInvalid`, `TokenExpired`); XML unless the
client asks for JSON; `X-MinLimit-Remaining`, `X-DayLimit-Remaining` and `X-AppMinLimit-Remaining`
on every accounting answer and 429 with `Retry-After` and `X-Rate-Limit-Problem` past 60 calls a
minute or 5,000 a day; `page`/`pageSize` paging of contacts with a `pagination` block; items
created (PUT), updated (POST) and deleted (DELETE); a missing resource is 404 in plain text.
"""

from __future__ import annotations

import json
import math
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from monitor.sandbox.common import Handler, add_oauth_token_route, auth_middleware, json_body, provider_app
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState

NAME = "xero"
BASE_PATH = ""
TENANT_ID = "4f6c2a1e-8b3d-4c7e-9a5f-1d2e3b4c5a60"
_API = "/api.xro/2.0"
_MIN_LIMIT, _DAY_LIMIT, _APP_MIN_LIMIT = 60, 5000, 10_000
_NOT_FOUND = "The resource you're looking for cannot be found"
_CONTACTS = (
    ("b7e3c1a2-5d4f-4e6a-8c9b-0a1b2c3d4e01", "Sandbox Customer"),
    ("b7e3c1a2-5d4f-4e6a-8c9b-0a1b2c3d4e02", "Sandbox Supplier"),
    ("b7e3c1a2-5d4f-4e6a-8c9b-0a1b2c3d4e03", "Sandbox Partner"),
)
_CREATED = 1_600_000_000


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        return _too_many(retry_after, "minute", {"X-MinLimit-Remaining": "0"})

    def server_error(self, status: int) -> web.Response:
        return web.Response(status=status, text="An error occurred in Xero.", content_type="text/plain")


def _too_many(retry_after: int, problem: str, headers: dict[str, str]) -> web.Response:
    # Xero documents the headers, not a body: Retry-After (seconds) and which limit was hit.
    return web.Response(
        status=429, headers={**headers, "Retry-After": str(retry_after), "X-Rate-Limit-Problem": problem}
    )


def _problem(title: str, status: int, detail: str) -> web.Response:
    """The identity layer's problem-details body (capitalised keys, `Type` null)."""
    body = {"Type": None, "Title": title, "Status": status, "Detail": detail}
    return web.json_response({**body, "Instance": str(uuid.uuid4()), "Extensions": {}}, status=status)


def _reject(state: ProviderState) -> Callable[[web.Request], web.Response]:
    def reject(_request: web.Request) -> web.Response:
        if state.token_expired():
            return _problem(
                "Unauthorized", 401, "TokenExpired: token expired at " + _msdate(time.time() - 60)
            )
        return _problem("Unauthorized", 401, "TokenInvalid: signature is invalid")

    return reject


def _not_found() -> web.Response:
    return web.Response(status=404, text=_NOT_FOUND, content_type="text/plain")


def _msdate(epoch: float, zone: str = "") -> str:
    """Xero's JSON dates are Microsoft-style: `/Date(1573755038314+0000)/`."""
    return f"/Date({int(epoch * 1000)}{zone})/"


def _envelope(key: str, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    meta = {"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": "atom-monitor"}
    return {**meta, "DateTimeUTC": _msdate(time.time()), **extra, key: items}


def create_app(state: ProviderState) -> web.Application:
    state.quota_limit, state.quota_window_s = _DAY_LIMIT, 86_400
    middlewares = [
        _content_negotiation,
        auth_middleware(state, _reject(state), public=("/connect/token",)),
        _tenant_required,
        _limits(state),
    ]
    app = provider_app(state, _Hooks(), middlewares)
    # Real tokens come from https://identity.xero.com/connect/token (another host, same path).
    add_oauth_token_route(app, state, "/connect/token")

    def bind(handler: Any) -> Handler:
        async def bound(request: web.Request) -> web.StreamResponse:
            return await handler(request, state)  # type: ignore[no-any-return]

        return bound

    r = app.router
    r.add_get("/connections", _connections)
    r.add_get(f"{_API}/Organisation", _organisation)
    r.add_get(f"{_API}/Currencies", _currencies)
    r.add_get(f"{_API}/Contacts", _list_contacts)
    r.add_get(f"{_API}/Contacts/{{id}}", _get_contact)
    r.add_put(f"{_API}/Items", bind(_create_items))
    r.add_get(f"{_API}/Items/{{id}}", bind(_get_item))
    r.add_post(f"{_API}/Items/{{id}}", bind(_update_item))
    r.add_delete(f"{_API}/Items/{{id}}", bind(_delete_item))
    r.add_route("*", "/{tail:.*}", _catch_all)
    return app


def _accounting(request: web.Request) -> bool:
    return f"{_API}/" in request.path


@web.middleware
async def _tenant_required(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Accounting calls must say which organisation they act on; /connections needs no tenant.
    if _accounting(request) and request.headers.get("xero-tenant-id") != TENANT_ID:
        return _problem("Forbidden", 403, "AuthenticationUnsuccessful")
    return await handler(request)


def _limits(state: ProviderState) -> Middleware:
    minute = {"start": 0, "used": 0}

    @web.middleware
    async def limits(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _accounting(request):
            return await handler(request)
        now = time.time()
        if minute["start"] != int(now // 60) * 60:
            minute.update(start=int(now // 60) * 60, used=0)
        minute["used"] += 1
        _limit, day_left, day_reset = state.count_request()
        headers = {
            "X-MinLimit-Remaining": str(max(0, _MIN_LIMIT - minute["used"])),
            "X-DayLimit-Remaining": str(day_left),
            "X-AppMinLimit-Remaining": str(max(0, _APP_MIN_LIMIT - minute["used"])),
        }
        if state.quota_used > _DAY_LIMIT:
            return _too_many(math.ceil(day_reset - now), "day", headers)
        if minute["used"] > _MIN_LIMIT:
            return _too_many(math.ceil(minute["start"] + 60 - now), "minute", headers)
        response = await handler(request)
        response.headers.update(headers)
        return response

    return limits


@web.middleware
async def _content_negotiation(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The accounting API answers XML unless the client sends `Accept: application/json`."""
    response = await handler(request)
    wants_json = "json" in request.headers.get("Accept", "")
    if wants_json or not _accounting(request) or response.status != 200:
        return response
    if not isinstance(response, web.Response) or response.content_type != "application/json":
        return response
    body = json.loads(bytes(response.body))  # type: ignore[arg-type]
    xml = ET.tostring(_xml(body, "Response"), encoding="unicode")
    out = web.Response(status=200, text=xml, content_type="text/xml")
    out.headers.update({k: v for k, v in response.headers.items() if k.lower().startswith("x-")})
    return out


def _xml(value: Any, tag: str) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, dict):
        element.extend(_xml(v, k) for k, v in value.items())
    elif isinstance(value, list):
        element.extend(_xml(v, _singular(tag)) for v in value)
    elif value is not None:
        element.text = str(value).lower() if isinstance(value, bool) else str(value)
    return element


def _singular(tag: str) -> str:
    if tag.endswith("ies"):
        return tag[:-3] + "y"
    return tag[:-2] if tag.endswith("sses") else tag.removesuffix("s")


async def _connections(_request: web.Request) -> web.Response:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.0000000", time.gmtime(_CREATED))
    tenant = {
        "id": "0d3f7c52-6a1b-4e9d-8f2c-5b4a3c2d1e0f",
        "authEventId": "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b",
        "tenantId": TENANT_ID,
        "tenantType": "ORGANISATION",
        "tenantName": "Atom Sandbox Ltd",
        "createdDateUtc": stamp,
        "updatedDateUtc": stamp,
    }
    return web.json_response([tenant])


async def _organisation(_request: web.Request) -> web.Response:
    names = {"Name": "Atom Sandbox Ltd", "LegalName": "Atom Sandbox Ltd", "ShortCode": "!AtomS"}
    kinds = {"Version": "US", "OrganisationType": "COMPANY", "Class": "STANDARD", "Edition": "BUSINESS"}
    places = {"BaseCurrency": "USD", "CountryCode": "US", "Timezone": "EASTERNSTANDARDTIME"}
    org = {"OrganisationID": TENANT_ID, **names, **kinds, **places, "IsDemoCompany": False}
    org.update(OrganisationStatus="ACTIVE", CreatedDateUTC=_msdate(_CREATED), Addresses=[], Phones=[])
    return web.json_response(_envelope("Organisations", [org]))


async def _currencies(_request: web.Request) -> web.Response:
    usd = {"Code": "USD", "Description": "United States Dollar"}
    return web.json_response(_envelope("Currencies", [usd]))


def _contact(cid: str, name: str) -> dict[str, Any]:
    email = f"{name.lower().replace(' ', '.')}@example.com"
    contact: dict[str, Any] = {
        "ContactID": cid,
        "ContactStatus": "ACTIVE",
        "Name": name,
        "EmailAddress": email,
    }
    flags = {"IsSupplier": "Supplier" in name, "IsCustomer": "Customer" in name, "HasAttachments": False}
    contact.update(flags, Addresses=[], Phones=[], DefaultCurrency="USD")
    return {**contact, "UpdatedDateUTC": _msdate(_CREATED, "+0000")}


def _int_query(request: web.Request, name: str, default: int) -> int:
    try:
        return int(request.query.get(name, default))
    except ValueError:
        return default


async def _list_contacts(request: web.Request) -> web.Response:
    contacts = [_contact(cid, name) for cid, name in _CONTACTS]
    if "page" not in request.query:
        return web.json_response(_envelope("Contacts", contacts))
    # With `page`, Xero pages (pageSize default 100, at most 1000) and says where it is.
    number = max(1, _int_query(request, "page", 1))
    size = max(1, min(1000, _int_query(request, "pageSize", 100)))
    chunk = contacts[(number - 1) * size : number * size]
    pages = {"page": number, "pageSize": size, "pageCount": math.ceil(len(contacts) / size)}
    pagination = {**pages, "itemCount": len(contacts)}
    return web.json_response(_envelope("Contacts", chunk, pagination=pagination))


async def _get_contact(request: web.Request) -> web.Response:
    cid, names = request.match_info["id"].lower(), dict(_CONTACTS)
    if cid not in names:
        return _not_found()
    return web.json_response(_envelope("Contacts", [_contact(cid, names[cid])]))


def _validation(item: dict[str, Any], message: str) -> web.Response:
    element = {**item, "ValidationErrors": [{"Message": message}]}
    body = {"ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred"}
    return web.json_response({**body, "Elements": [element]}, status=400)


async def _item_payload(request: web.Request) -> dict[str, Any] | None:
    """The first item of `{"Items": [...]}`, the wrapper Xero uses for writes too."""
    body = await json_body(request)
    items = body.get("Items") if isinstance(body, dict) else None
    first = items[0] if isinstance(items, list) and items else None
    return first if isinstance(first, dict) else None


def _code_problem(state: ProviderState, code: Any, own_id: str = "") -> str | None:
    if not isinstance(code, str) or not code.strip():
        return "Item Code must be supplied."
    if len(code) > 30:
        return "The Item Code must not be more than 30 characters long."
    if any(i["Code"] == code and i["ItemID"] != own_id for i in state.objects.values()):
        return f"Item code '{code}' already exists"
    return None


async def _create_items(request: web.Request, state: ProviderState) -> web.Response:
    payload = await _item_payload(request)
    if payload is None:
        return _validation({}, "The request body is not a list of Items.")
    if (problem := _code_problem(state, payload.get("Code"))) is not None:
        return _validation(payload, problem)
    texts = {k: str(payload.get(k, "")) for k in ("Name", "Description")}
    item = {"ItemID": str(uuid.uuid4()), "Code": payload["Code"], **texts}
    item.update(
        PurchaseDetails={}, SalesDetails={}, IsTrackedAsInventory=False, IsSold=True, IsPurchased=True
    )
    item["UpdatedDateUTC"] = _msdate(time.time(), "+0000")
    state.objects[item["ItemID"]] = item
    return web.json_response(_envelope("Items", [item]))


async def _get_item(request: web.Request, state: ProviderState) -> web.Response:
    item = state.objects.get(request.match_info["id"].lower())
    return web.json_response(_envelope("Items", [item])) if item else _not_found()


async def _update_item(request: web.Request, state: ProviderState) -> web.Response:
    item = state.objects.get(request.match_info["id"].lower())
    if item is None:
        return _not_found()
    payload = await _item_payload(request)
    if payload is None:
        return _validation({}, "The request body is not a list of Items.")
    code = payload.get("Code", item["Code"])
    if (problem := _code_problem(state, code, item["ItemID"])) is not None:
        return _validation(payload, problem)
    item.update({k: str(payload[k]) for k in ("Name", "Description") if k in payload}, Code=code)
    item["UpdatedDateUTC"] = _msdate(time.time(), "+0000")
    return web.json_response(_envelope("Items", [item]))


async def _delete_item(request: web.Request, state: ProviderState) -> web.Response:
    if state.objects.pop(request.match_info["id"].lower(), None) is None:
        return _not_found()
    return web.Response(status=204)


async def _catch_all(_request: web.Request) -> web.Response:
    return _not_found()
