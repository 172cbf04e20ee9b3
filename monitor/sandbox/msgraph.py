"""Microsoft Graph v1.0 (`https://graph.microsoft.com/v1.0`) for Outlook and Teams: the signed-in
user, mail (with drafts created, edited and deleted), calendar events and joined teams.

What the real API does and this reproduces: Bearer tokens from Entra ID (the v2.0 token endpoint,
served here at `/{tenant}/oauth2/v2.0/token`); errors are `{"error": {code, message, innerError:
{date, request-id, client-request-id}}}` — 401 `InvalidAuthenticationToken` with a
`WWW-Authenticate` header, 404 `ErrorItemNotFound`, 400 `ErrorInvalidIdMalformed` for an id that
is not an Exchange id, 400 `RequestBodyRead` for an unknown property, 400 `BadRequest` "Resource
not found for the segment" for an unknown path; 429 `TooManyRequests` with `Retry-After`;
`@odata.context` on every answer, `$top`/`$skip` paging by `@odata.nextLink`, `$select`;
`request-id` and `client-request-id` response headers.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from aiohttp import web

from monitor.sandbox.common import Handler, add_oauth_token_route, auth_middleware, json_body, provider_app
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState

NAME = "msgraph"
BASE_PATH = "/v1.0"
_META = "https://graph.microsoft.com/v1.0/$metadata"
_USER_ID, _TENANT = "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "4c8f1a2b-9e3d-4f6a-8b7c-1d2e3f4a5b6c"
_UPN = "monitor@atomsandbox.onmicrosoft.com"
_ADDRESS = {"emailAddress": {"name": "Atom Monitor", "address": _UPN}}
_ID = re.compile(r"^[A-Za-z0-9_=+-]{16,}$")  # Exchange ids are long base64(url) strings
# Properties of microsoft.graph.message a client may write; any other key is a RequestBodyRead 400.
_RECIPIENTS = {"toRecipients", "ccRecipients", "bccRecipients", "replyTo", "from", "sender"}
_WRITABLE = {
    "subject",
    "body",
    "importance",
    "categories",
    "flag",
    "isRead",
    "internetMessageHeaders",
} | _RECIPIENTS
_REQUEST_ID = web.RequestKey("graph_request_id", str)
_CLIENT_REQUEST_ID = web.RequestKey("graph_client_request_id", str)
_TEAMS = (("Integration Sandbox", "Synthetic checks live here"), ("Operations", "On-call and incidents"))


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        inner = {**_inner(), "code": "429", "message": "Please retry after", "status": "429"}
        body = {
            "error": {"code": "TooManyRequests", "message": "Please retry again later.", "innerError": inner}
        }
        return web.json_response(body, status=429, headers={"Retry-After": str(retry_after)})

    def server_error(self, status: int) -> web.Response:
        code = {500: "generalException", 503: "serviceNotAvailable"}.get(status, "UnknownError")
        return _error(status, code, "The service is temporarily unavailable. Please retry later.")


def _inner(request: web.Request | None = None) -> dict[str, str]:
    """innerError: when and which request (the ids match the response headers)."""
    rid = request.get(_REQUEST_ID) if request is not None else None
    rid = rid or str(uuid.uuid4())
    client = request.get(_CLIENT_REQUEST_ID) if request is not None else None
    date = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    return {"date": date, "request-id": rid, "client-request-id": client or rid}


def _error(status: int, code: str, message: str, request: web.Request | None = None) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message, "innerError": _inner(request)}}, status=status
    )


def _reject(request: web.Request, expired: bool) -> web.Response:
    auth = request.headers.get("Authorization", "")
    if not auth:
        message = "Access token is empty."
    elif expired:
        message = "Lifetime validation failed, the token is expired."
    else:
        message = "IDX14100: JWT is not well formed, there are no dots (.)."
    response = _error(401, "InvalidAuthenticationToken", message, request)
    response.headers["WWW-Authenticate"] = (
        'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
        'client_id="00000003-0000-0000-c000-000000000000"'
    )
    return response


@web.middleware
async def _request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every Graph answer names its request-id, and echoes the caller's client-request-id."""
    request[_REQUEST_ID] = str(uuid.uuid4())
    request[_CLIENT_REQUEST_ID] = request.headers.get("client-request-id", request[_REQUEST_ID])
    response = await handler(request)
    response.headers["request-id"] = request[_REQUEST_ID]
    response.headers["client-request-id"] = request[_CLIENT_REQUEST_ID]
    return response


def _stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _message(mid: str, subject: str, text: str, epoch: float, draft: bool) -> dict[str, Any]:
    stamp = _stamp(epoch)
    message: dict[str, Any] = {
        "@odata.etag": f'W/"CQAAABYAAAD{int(epoch)}"',
        "id": mid,
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "changeKey": f"CQAAABYAAAD{int(epoch)}",
        "categories": [],
        "receivedDateTime": stamp,
        "sentDateTime": stamp,
        "hasAttachments": False,
        "internetMessageId": f"<{mid[-12:]}@atomsandbox.prod.outlook.com>",
        "subject": subject,
        "bodyPreview": text[:255],
        "importance": "normal",
        "parentFolderId": "AQMkADrafts" if draft else "AQMkADInbox",
        "conversationId": f"AAQkAD{mid[-10:]}",
        "isDeliveryReceiptRequested": False,
        "isReadReceiptRequested": False,
        "isRead": True,
        "isDraft": draft,
        "webLink": f"https://outlook.office365.com/owa/?ItemID={mid}&exvsurl=1&viewmodel=ReadMessageItem",
        "inferenceClassification": "focused",
        "body": {"contentType": "text", "content": text},
        "toRecipients": [] if draft else [_ADDRESS],
        "ccRecipients": [],
        "bccRecipients": [],
        "replyTo": [],
        "flag": {"flagStatus": "notFlagged"},
    }
    if not draft:  # a draft has no sender until it is sent
        message.update(sender=_ADDRESS, **{"from": _ADDRESS})
    return message


def _inbox_message(n: int) -> dict[str, Any]:
    text = "Synthetic checks read this."
    return _message(f"AAMkADInbox{n:08d}AAA=", f"Sandbox mail {n}", text, 1_700_000_000 + n * 3600, False)


def _zoned(epoch: float) -> dict[str, str]:
    """Graph's dateTimeTimeZone: seven fractional digits, no offset, the zone named beside it."""
    return {"dateTime": time.strftime("%Y-%m-%dT%H:%M:%S.0000000", time.gmtime(epoch)), "timeZone": "UTC"}


def _event(n: int) -> dict[str, Any]:
    start = 1_900_000_000 + n * 86_400
    eid = f"AAMkADEvent{n:08d}AAA="
    return {
        "@odata.etag": f'W/"DwAAABYAAAD{n}"',
        "id": eid,
        "createdDateTime": _stamp(1_700_000_000),
        "lastModifiedDateTime": _stamp(1_700_000_000),
        "subject": f"Sandbox event {n}",
        "bodyPreview": "",
        "isAllDay": False,
        "isCancelled": False,
        "isOrganizer": True,
        "showAs": "busy",
        "type": "singleInstance",
        "webLink": f"https://outlook.office365.com/owa/?itemid={eid}&exvsurl=1&path=/calendar/item",
        "start": _zoned(start),
        "end": _zoned(start + 1800),
        "location": {"displayName": "", "locationType": "default"},
        "attendees": [],
        "organizer": _ADDRESS,
    }


def create_app(state: ProviderState) -> web.Application:
    def reject(request: web.Request) -> web.Response:
        return _reject(request, state.token_expired())

    app = provider_app(
        state,
        _Hooks(),
        [_request_ids, _token_answer, auth_middleware(state, reject, public=("/oauth2/v2.0/token",))],
    )
    # Entra ID's v2.0 endpoint lives at login.microsoftonline.com/{tenant}; the sandbox serves it here.
    add_oauth_token_route(app, state, "/{tenant}/oauth2/v2.0/token")
    seeds = (_inbox_message(n) for n in (1, 2, 3))
    inbox = {m["id"]: m for m in seeds}
    events = [_event(n) for n in (1, 2, 3)]

    def bind(handler: Any) -> Handler:
        async def bound(request: web.Request) -> web.StreamResponse:
            return await handler(request, state, inbox)  # type: ignore[no-any-return]

        return bound

    async def list_events(request: web.Request) -> web.Response:
        return _collection(request, events, f"users('{_USER_ID}')/events")

    r = app.router
    r.add_get("/me", _me)
    r.add_get("/me/joinedTeams", _joined_teams)
    r.add_get("/me/events", list_events)
    r.add_get("/me/messages", bind(_list_messages))
    r.add_post("/me/messages", bind(_create_draft))
    for method, handler in (("GET", _get_message), ("PATCH", _update_message), ("DELETE", _delete_message)):
        r.add_route(method, "/me/messages/{id}", bind(handler))
    r.add_route("*", "/{tail:.*}", _unknown_segment)
    return app


@web.middleware
async def _token_answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Entra ID's token answer adds ext_expires_in and scope; its errors carry AADSTS codes."""
    response = await handler(request)
    if not request.path.endswith("/oauth2/v2.0/token") or not isinstance(response, web.Response):
        return response
    body = json.loads(bytes(response.body))  # type: ignore[arg-type]
    if response.status == 200:
        scope = "https://graph.microsoft.com/Mail.ReadWrite https://graph.microsoft.com/User.Read"
        body.update(expires_in=3599, ext_expires_in=3599, scope=scope)
    else:
        body.update(
            error_description="AADSTS70008: The provided authorization code or refresh token has expired.",
            error_codes=[70008],
            timestamp=time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            trace_id=str(uuid.uuid4()),
            correlation_id=str(uuid.uuid4()),
        )
    return web.json_response(body, status=response.status)


def _select(request: web.Request, item: dict[str, Any]) -> dict[str, Any]:
    """`$select=a,b` keeps those properties (plus id and @odata.etag, as Graph does)."""
    if "$select" not in request.query:
        return item
    keep = {s.strip() for s in request.query["$select"].split(",")} | {"id", "@odata.etag", "@odata.context"}
    return {k: v for k, v in item.items() if k in keep}


def _context(request: web.Request, base: str, entity: bool = False) -> str:
    """`@odata.context` names the selected properties too: `...#users(id,mail)/$entity`."""
    selected = request.query.get("$select")
    shape = f"{base}({selected})" if selected else base
    return f"{_META}#{shape}" + ("/$entity" if entity else "")


def _collection(request: web.Request, items: list[dict[str, Any]], base: str) -> web.Response:
    try:
        top = int(request.query.get("$top", 10))
        skip = int(request.query.get("$skip", 0))
    except ValueError:
        return _error(400, "BadRequest", "Invalid value for query option $top or $skip.", request)
    if not 1 <= top <= 1000 or skip < 0:
        return _error(400, "BadRequest", "Invalid value for query option $top or $skip.", request)
    body: dict[str, Any] = {"@odata.context": _context(request, base)}
    if skip + top < len(items):
        # The next link is absolute and points back at the service that answered.
        body["@odata.nextLink"] = str(request.url.update_query({"$top": str(top), "$skip": str(skip + top)}))
    body["value"] = [_select(request, i) for i in items[skip : skip + top]]
    return web.json_response(body)


async def _me(request: web.Request) -> web.Response:
    user: dict[str, Any] = {
        "@odata.context": _context(request, "users", entity=True),
        "businessPhones": [],
        "displayName": "Atom Monitor",
        "givenName": "Atom",
        "jobTitle": None,
        "mail": _UPN,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "surname": "Monitor",
        "userPrincipalName": _UPN,
        "id": _USER_ID,
    }
    return web.json_response(_select(request, user))


async def _joined_teams(request: web.Request) -> web.Response:
    teams = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            "displayName": name,
            "description": description,
            "isArchived": False,
            "tenantId": _TENANT,
        }
        for name, description in _TEAMS
    ]
    body = {"@odata.context": _context(request, "teams"), "@odata.count": len(teams), "value": teams}
    return web.json_response(body)


def _all_messages(state: ProviderState, inbox: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    everything = [*inbox.values(), *state.objects.values()]
    return sorted(everything, key=lambda m: m["receivedDateTime"], reverse=True)


async def _list_messages(request: web.Request, state: ProviderState, inbox: dict[str, Any]) -> web.Response:
    return _collection(request, _all_messages(state, inbox), f"users('{_USER_ID}')/messages")


def _unknown_property(request: web.Request, body: Any) -> web.Response | None:
    if not isinstance(body, dict):
        return _error(
            400, "RequestBodyRead", "Cannot read the request body: expected a JSON object.", request
        )
    for key in body:
        if key not in _WRITABLE:
            message = (
                f"The property '{key}' does not exist on type 'microsoft.graph.message'. Make sure to only "
                "use property names that are defined by the type or mark the type as open type."
            )
            return _error(400, "RequestBodyRead", message, request)
    return None


def _apply(message: dict[str, Any], body: dict[str, Any]) -> None:
    message.update(body)
    content = message["body"].get("content", "") if isinstance(message.get("body"), dict) else ""
    now = time.time()
    message.update(
        bodyPreview=str(content)[:255],
        lastModifiedDateTime=_stamp(now),
        changeKey=f"CQAAABYAAAD{int(now * 1000)}",
        **{"@odata.etag": f'W/"CQAAABYAAAD{int(now * 1000)}"'},
    )


async def _create_draft(request: web.Request, state: ProviderState, _inbox: dict[str, Any]) -> web.Response:
    body = await json_body(request)
    problem = _unknown_property(request, body)
    if problem is not None:
        return problem
    mid = f"AAMkADDraft{state.next_id():08d}AAA="
    message = _message(mid, "", "", time.time(), draft=True)
    _apply(message, body)
    state.objects[mid] = message
    context = {"@odata.context": _context(request, f"users('{_USER_ID}')/messages", entity=True)}
    return web.json_response({**context, **message}, status=201)


def _find(request: web.Request, state: ProviderState, inbox: dict[str, Any]) -> dict[str, Any] | web.Response:
    mid = request.match_info["id"]
    if not _ID.match(mid):
        return _error(400, "ErrorInvalidIdMalformed", "Id is malformed.", request)
    found = state.objects.get(mid) or inbox.get(mid)
    if found is None:
        return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.", request)
    return found


async def _get_message(request: web.Request, state: ProviderState, inbox: dict[str, Any]) -> web.Response:
    found = _find(request, state, inbox)
    if isinstance(found, web.Response):
        return found
    context = {"@odata.context": _context(request, f"users('{_USER_ID}')/messages", entity=True)}
    return web.json_response({**context, **_select(request, found)})


async def _update_message(request: web.Request, state: ProviderState, inbox: dict[str, Any]) -> web.Response:
    found = _find(request, state, inbox)
    if isinstance(found, web.Response):
        return found
    body = await json_body(request)
    problem = _unknown_property(request, body)
    if problem is not None:
        return problem
    _apply(found, body)
    context = {"@odata.context": _context(request, f"users('{_USER_ID}')/messages", entity=True)}
    return web.json_response({**context, **found})


async def _delete_message(request: web.Request, state: ProviderState, inbox: dict[str, Any]) -> web.Response:
    found = _find(request, state, inbox)
    if isinstance(found, web.Response):
        return found
    state.objects.pop(found["id"], None)
    inbox.pop(found["id"], None)
    return web.Response(status=204)


async def _unknown_segment(request: web.Request) -> web.Response:
    # Graph answers a path it cannot route with 400 BadRequest naming the first unknown segment.
    segments = [s for s in request.match_info.get("tail", "").split("/") if s]
    known = {"me", "messages", "events", "joinedTeams"}
    segment = next((s for s in segments if s not in known), segments[-1] if segments else "")
    return _error(400, "BadRequest", f"Resource not found for the segment '{segment}'.", request)
