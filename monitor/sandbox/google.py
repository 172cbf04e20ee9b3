"""Google Calendar API v3 (`https://www.googleapis.com/calendar/v3`): calendars, the calendar
list, colors and events (created, read, patched and deleted).

What the real API does and this reproduces: OAuth Bearer tokens, refused with 401
`UNAUTHENTICATED` ("Invalid Credentials", reason `authError`, or "Login Required", reason
`required`) and a `WWW-Authenticate` header; errors are `{"error": {code, message, errors:
[{domain, reason, message}]}}` — 404 `notFound`, 400 `required`/`timeRangeEmpty`, 410 `deleted`
for an event deleted before; `primary` names the user's calendar; `maxResults`/`pageToken` paging
with `nextPageToken`, and `nextSyncToken` on the last page; insert and patch answer 200, delete 204
with no body; no quota headers: a spent per-user quota is 403 `userRateLimitExceeded` (domain
`usageLimits`), a burst 429 `rateLimitExceeded` with `Retry-After`; an unknown URL is Google's
HTML 404 page, not JSON.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import re
import secrets
import time
from typing import Any

from aiohttp import web

from monitor.sandbox.common import Handler, auth_middleware, json_body, provider_app, rfc3339
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState

NAME = "google"
BASE_PATH = "/calendar/v3"
_PRIMARY = "monitor@atom-sandbox.example"
_TEST_CALENDAR = "c_atommonitorsandbox@group.calendar.google.com"
# calendarId -> (the user's access role, summary, time zone)
_CALENDARS = {
    _PRIMARY: ("owner", _PRIMARY, "UTC"),
    _TEST_CALENDAR: ("owner", "Integration sandbox", "UTC"),
    "en.usa#holiday@group.v.calendar.google.com": ("reader", "Holidays in United States", "America/New_York"),
}
_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")  # base32hex, as events.insert documents
# Event properties the sandbox keeps; like Calendar, it ignores keys it does not know.
_WRITABLE = {"summary", "description", "location", "start", "end", "attendees", "reminders", "colorId"}
_WRITABLE |= {"transparency", "visibility", "extendedProperties", "recurrence", "status", "source"}
_WRITABLE |= {"guestsCanModify", "guestsCanInviteOthers", "guestsCanSeeOtherGuests", "attachments"}
_CREDENTIALS = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_HTML_404 = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n"
    "  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n  <p>The requested URL <code>{path}</code> was not "
    "found on this server.  <ins>That\u2019s all we know.</ins>\n"
)


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        response = _error(
            429, "rateLimitExceeded", "Rate Limit Exceeded", "usageLimits", "RESOURCE_EXHAUSTED"
        )
        response.headers["Retry-After"] = str(retry_after)
        return response

    def server_error(self, status: int) -> web.Response:
        return _error(status, "backendError", "Backend Error")


def _error(
    status: int, reason: str, message: str, domain: str = "global", grpc: str | None = None
) -> web.Response:
    """Google's JSON error envelope: the HTTP status, a message, and the reasons in `errors`."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
    }
    if grpc:
        error["status"] = grpc
    return web.json_response({"error": error}, status=status)


def _not_found() -> web.Response:
    return _error(404, "notFound", "Not Found")


def _reject(request: web.Request) -> web.Response:
    # The top-level message is the long one; the reason's own message is the short one.
    realm = 'Bearer realm="https://accounts.google.com/"'
    if "Authorization" not in request.headers:
        reason, short = "required", "Login Required."
        message = f"Request is missing required authentication credential. {_CREDENTIALS}"
    else:
        reason, short, realm = "authError", "Invalid Credentials", realm + ', error="invalid_token"'
        message = f"Request had invalid authentication credentials. {_CREDENTIALS}"
    item = {"message": short, "domain": "global", "reason": reason}
    item.update(location="Authorization", locationType="header")
    error = {"code": 401, "message": message, "errors": [item], "status": "UNAUTHENTICATED"}
    return web.json_response({"error": error}, status=401, headers={"WWW-Authenticate": realm})


def _etag(*parts: Any) -> str:
    return '"' + str(int(hashlib.sha256(repr(parts).encode()).hexdigest()[:15], 16)) + '"'


def _calendar(cid: str) -> dict[str, Any]:
    _role, summary, zone = _CALENDARS[cid]
    return {
        "kind": "calendar#calendar",
        "etag": _etag(cid),
        "id": cid,
        "summary": summary,
        "timeZone": zone,
        "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
    }


def _list_entry(cid: str) -> dict[str, Any]:
    role = _CALENDARS[cid][0]
    entry = {
        **_calendar(cid),
        "kind": "calendar#calendarListEntry",
        "colorId": "14",
        "backgroundColor": "#9fe1e7",
        "foregroundColor": "#000000",
        "selected": True,
        "accessRole": role,
        "defaultReminders": [{"method": "popup", "minutes": 10}] if role == "owner" else [],
    }
    if cid == _PRIMARY:
        entry.update(primary=True, notificationSettings={"notifications": []})
    return entry


def _event(cid: str, eid: str, body: dict[str, Any], epoch: float) -> dict[str, Any]:
    stamp = rfc3339(epoch)
    event = {
        "kind": "calendar#event",
        "etag": _etag(eid, epoch),
        "id": eid,
        "status": "confirmed",
        "htmlLink": f"https://www.google.com/calendar/event?eid={base64.b64encode(eid.encode()).decode()}",
        "created": stamp,
        "updated": stamp,
        "creator": {"email": _PRIMARY},
        "organizer": {"email": cid, "self": True},
        "iCalUID": f"{eid}@google.com",
        "sequence": 0,
        "reminders": {"useDefault": True},
        "eventType": "default",
        **body,
    }
    return event


class _Store:
    """Events per calendar: seeded ones, and those checks created (kept in state.objects)."""

    def __init__(self, state: ProviderState) -> None:
        self.state = state
        self.seed: dict[str, dict[str, Any]] = {}
        for n in (1, 2):
            start = {"dateTime": rfc3339(1_900_000_000 + n * 86_400), "timeZone": "UTC"}
            end = {"dateTime": rfc3339(1_900_001_800 + n * 86_400), "timeZone": "UTC"}
            body = {"summary": f"Sandbox event {n}", "start": start, "end": end}
            self.seed[f"{_TEST_CALENDAR}/atmseed{n:04d}"] = _event(
                _TEST_CALENDAR, f"atmseed{n:04d}", body, 1e9
            )
        # Recently deleted events: deleting one again is 410 `deleted`, not 404.
        self.deleted: dict[str, None] = {}

    def events(self, cid: str) -> list[dict[str, Any]]:
        rows = [*self.seed.items(), *self.state.objects.items()]
        return [e for key, e in rows if key.startswith(f"{cid}/")]

    def get(self, key: str) -> dict[str, Any] | None:
        return self.state.objects.get(key) or self.seed.get(key)

    def remove(self, key: str) -> None:
        self.state.objects.pop(key, None)
        self.seed.pop(key, None)
        self.deleted[key] = None
        while len(self.deleted) > 1000:
            del self.deleted[next(iter(self.deleted))]


def create_app(state: ProviderState) -> web.Application:
    # Calendar's per-user quota is counted per minute; 600 is the default.
    state.quota_limit, state.quota_window_s = 600, 60
    store = _Store(state)
    app = provider_app(state, _Hooks(), [auth_middleware(state, _reject), _quota(state)])

    def bind(handler: Any) -> Handler:
        async def bound(request: web.Request) -> web.StreamResponse:
            return await handler(request, store)  # type: ignore[no-any-return]

        return bound

    r = app.router
    r.add_get("/users/me/calendarList", _calendar_list)
    r.add_get("/calendars/{calendarId}", _get_calendar)
    r.add_get("/colors", _colors)
    r.add_get("/calendars/{calendarId}/events", bind(_list_events))
    r.add_post("/calendars/{calendarId}/events", bind(_insert_event))
    for method, handler in (("GET", _get_event), ("PATCH", _patch_event), ("DELETE", _delete_event)):
        r.add_route(method, "/calendars/{calendarId}/events/{eventId}", bind(handler))
    r.add_route("*", "/{tail:.*}", _html_404)
    return app


def _quota(state: ProviderState) -> Any:
    window = {"start": time.time()}

    @web.middleware
    async def quota(request: web.Request, handler: Handler) -> web.StreamResponse:
        if time.time() - window["start"] >= state.quota_window_s:
            window["start"], state.quota_used = time.time(), 0
        if state.quota_used >= state.quota_limit:
            return _error(403, "userRateLimitExceeded", "User Rate Limit Exceeded", "usageLimits")
        state.count_request()
        return await handler(request)

    return quota


def _calendar_id(request: web.Request) -> str | None:
    cid = request.match_info["calendarId"]
    cid = _PRIMARY if cid == "primary" else cid
    return cid if cid in _CALENDARS else None


def _page(request: web.Request, items: list[Any]) -> tuple[list[Any], dict[str, str]] | web.Response:
    """Slice by `maxResults`/`pageToken`; the last page carries a nextSyncToken instead."""
    try:
        size = max(1, min(2500, int(request.query.get("maxResults", 250))))
        token = request.query.get("pageToken")
        start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("p")) if token else 0
    except (ValueError, binascii.Error):
        return _error(400, "invalid", "Invalid Value")
    if start + size < len(items):
        marker = {"nextPageToken": base64.urlsafe_b64encode(f"p{start + size}".encode()).decode()}
    else:
        marker = {"nextSyncToken": base64.urlsafe_b64encode(f"s{len(items)}".encode()).decode()}
    return items[start : start + size], marker


async def _calendar_list(request: web.Request) -> web.Response:
    paged = _page(request, [_list_entry(cid) for cid in _CALENDARS])
    if isinstance(paged, web.Response):
        return paged
    items, marker = paged
    return web.json_response(
        {"kind": "calendar#calendarList", "etag": _etag("list"), **marker, "items": items}
    )


async def _get_calendar(request: web.Request) -> web.Response:
    cid = _calendar_id(request)
    return web.json_response(_calendar(cid)) if cid else _not_found()


async def _colors(_request: web.Request) -> web.Response:
    palette = {"1": ("#ac725e", "#1d1d1d"), "2": ("#d06b64", "#1d1d1d"), "14": ("#9fe1e7", "#1d1d1d")}
    colors = {k: {"background": bg, "foreground": fg} for k, (bg, fg) in palette.items()}
    return web.json_response(
        {"kind": "calendar#colors", "updated": rfc3339(1_600_000_000), "calendar": colors, "event": colors}
    )


async def _list_events(request: web.Request, store: _Store) -> web.Response:
    cid = _calendar_id(request)
    if cid is None:
        return _not_found()
    paged = _page(request, store.events(cid))
    if isinstance(paged, web.Response):
        return paged
    items, marker = paged
    role, summary, zone = _CALENDARS[cid]
    return web.json_response(
        {
            "kind": "calendar#events",
            "etag": _etag(cid, len(items)),
            "summary": summary,
            "updated": rfc3339(time.time()),
            "timeZone": zone,
            "accessRole": role,
            "defaultReminders": [],
            **marker,
            "items": items,
        }
    )


def _invalid(body: Any, creating: bool) -> web.Response | None:
    """The checks events.insert and events.patch make on the body they are given."""
    if not isinstance(body, dict):
        return _error(400, "parseError", "Parse Error")
    if "id" in body and not (isinstance(body["id"], str) and _EVENT_ID.match(body["id"])):
        return _error(400, "invalid", "Invalid resource id value.")
    for edge in ("start", "end"):
        value = body.get(edge)
        given = isinstance(value, dict) and bool(value.get("dateTime") or value.get("date"))
        if (creating or edge in body) and not given:
            return _error(400, "required", f"Missing {edge} time.")
    return None


def _known(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k in _WRITABLE}


def _time_range_empty(event: dict[str, Any]) -> bool:
    """End before start (RFC 3339 times in one zone compare as text, as the checks send them)."""

    def key(edge: dict[str, Any]) -> str:
        return str(edge.get("dateTime") or edge.get("date"))

    return key(event["end"]) < key(event["start"])


async def _insert_event(request: web.Request, store: _Store) -> web.Response:
    cid = _calendar_id(request)
    if cid is None:
        return _not_found()
    if _CALENDARS[cid][0] != "owner":
        return _error(403, "requiredAccessLevel", "You need to have writer access to this calendar.")
    body = await json_body(request)
    problem = _invalid(body, creating=True)
    if problem is not None:
        return problem
    eid = body.get("id") or secrets.token_hex(13)
    if store.get(f"{cid}/{eid}") is not None:
        return _error(409, "duplicate", "The requested identifier already exists.")
    event = _event(cid, eid, _known(body), time.time())
    if _time_range_empty(event):
        return _error(400, "timeRangeEmpty", "The specified time range is empty.")
    store.state.objects[f"{cid}/{eid}"] = event
    return web.json_response(event)


def _find(request: web.Request, store: _Store) -> tuple[str, dict[str, Any]] | web.Response:
    cid = _calendar_id(request)
    key = f"{cid}/{request.match_info['eventId']}"
    found = store.get(key) if cid else None
    if found is None:
        deleted = key in store.deleted and request.method == "DELETE"
        return _error(410, "deleted", "Resource has been deleted") if deleted else _not_found()
    return key, found


async def _get_event(request: web.Request, store: _Store) -> web.Response:
    found = _find(request, store)
    return found if isinstance(found, web.Response) else web.json_response(found[1])


async def _patch_event(request: web.Request, store: _Store) -> web.Response:
    found = _find(request, store)
    if isinstance(found, web.Response):
        return found
    body = await json_body(request)
    problem = _invalid(body, creating=False)
    if problem is not None:
        return problem
    event = {**found[1], **_known(body)}
    if _time_range_empty(event):
        return _error(400, "timeRangeEmpty", "The specified time range is empty.")
    now = time.time()
    timing_changed = any(k in body for k in ("start", "end", "recurrence"))
    event.update(
        updated=rfc3339(now), etag=_etag(event["id"], now), sequence=event["sequence"] + timing_changed
    )
    found[1].clear()
    found[1].update(event)
    return web.json_response(event)


async def _delete_event(request: web.Request, store: _Store) -> web.Response:
    found = _find(request, store)
    if isinstance(found, web.Response):
        return found
    store.remove(found[0])
    return web.Response(status=204)


async def _html_404(request: web.Request) -> web.Response:
    # Google's front end answers a URL no API method serves with an HTML page, not a JSON error.
    text = _HTML_404.format(path=html.escape(request.path))
    return web.Response(status=404, text=text, content_type="text/html", charset="UTF-8")
