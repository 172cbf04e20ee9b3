"""Figma REST (`https://api.figma.com`): the user, a file's comments and metadata, webhooks v2.

What the real API does and this reproduces: a personal access token in `X-Figma-Token` or an
OAuth token as Bearer; a bad or missing token is 403 (not 401) `{"status": 403, "err": "Invalid
token"}`; a missing file is 404 `{"status": 404, "err": "Not found"}`, while the webhook
endpoints answer their 400/404 in the other error shape, `{"error": true, "status", "message"}`;
webhooks are created for a team, project or file context, report that context in upper case and
blank their passcode on reads; a limited request is 429 with `Retry-After`, `X-Figma-Plan-Tier`,
`X-Figma-Rate-Limit-Type` and `X-Figma-Upgrade-Link`.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from monitor.sandbox.common import Handler, add_oauth_token_route, auth_middleware, json_body, provider_app
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState

NAME = "figma"
BASE_PATH = ""
_USER = {
    "id": "1234567890123456789",
    "handle": "Atom Monitor",
    "img_url": "https://s3-alpha.figma.com/profile/atom",
}
_FILE = {"key": "kR2nQ8sAnDbOxF1lE0001a", "name": "Integration Sandbox"}
_TEAM, _PROJECT, _PLAN = "1190000000000000001", "230000001", "1190000000000000001"
_EVENTS = frozenset(
    {
        "PING",
        "FILE_UPDATE",
        "FILE_VERSION_UPDATE",
        "FILE_DELETE",
        "LIBRARY_PUBLISH",
        "FILE_COMMENT",
        "DEV_MODE_STATUS_UPDATE",
    }
)
_STATUSES = ("ACTIVE", "PAUSED")


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        return web.json_response(
            {"status": 429, "err": "Rate limit exceeded"},
            status=429,
            headers={
                "Retry-After": str(retry_after),
                "X-Figma-Plan-Tier": "pro",
                "X-Figma-Rate-Limit-Type": "high",
                "X-Figma-Upgrade-Link": "https://www.figma.com/pricing",
            },
        )

    def server_error(self, status: int) -> web.Response:
        return _err(status, "Internal server error")


def _err(status: int, message: str) -> web.Response:
    """The `err` shape most endpoints use."""
    return web.json_response({"status": status, "err": message}, status=status)


def _error(status: int, message: str) -> web.Response:
    """The `error: true` shape the webhook, dev-resource and variables endpoints use for 4xx."""
    return web.json_response({"error": True, "status": status, "message": message}, status=status)


def _invalid_token(_request: web.Request) -> web.Response:
    # Figma answers a bad token with 403, not 401.
    return _err(403, "Invalid token")


def _stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def create_app(state: ProviderState) -> web.Application:
    app = provider_app(state, _Hooks(), [auth_middleware(state, _invalid_token, headers=("X-Figma-Token",))])
    # The RFC 6749 token endpoint; Figma's spec also lists /v1/oauth/refresh for refreshes.
    add_oauth_token_route(app, state, "/v1/oauth/token")

    def bind(handler: Any) -> Handler:
        async def bound(request: web.Request) -> web.StreamResponse:
            return await handler(request, state)  # type: ignore[no-any-return]

        return bound

    r = app.router
    r.add_get("/v1/me", _me)
    r.add_get("/v1/files/{file_key}/comments", _comments)
    r.add_get("/v1/files/{file_key}/meta", _meta)
    r.add_post("/v2/webhooks", bind(_create_webhook))
    r.add_get("/v2/webhooks/{id}", bind(_get_webhook))
    r.add_put("/v2/webhooks/{id}", bind(_update_webhook))
    r.add_delete("/v2/webhooks/{id}", bind(_delete_webhook))
    r.add_route("*", "/{tail:.*}", _no_route)
    return app


async def _me(_request: web.Request) -> web.Response:
    return web.json_response({**_USER, "email": "monitor@example.com"})


async def _comments(request: web.Request) -> web.Response:
    if request.match_info["file_key"] != _FILE["key"]:
        return _err(404, "Not found")
    comment: dict[str, Any] = {
        "id": "100000001",
        "file_key": _FILE["key"],
        "parent_id": "",
        "user": _USER,
        "created_at": _stamp(1_700_000_000),
        "resolved_at": None,
        "message": "Synthetic checks read this comment.",
        "client_meta": {"x": 120.0, "y": 48.0},
        "order_id": "1",
        "reactions": [],
    }
    return web.json_response({"comments": [comment]})


async def _meta(request: web.Request) -> web.Response:
    if request.match_info["file_key"] != _FILE["key"]:
        return _err(404, "Not found")
    return web.json_response(
        {
            "name": _FILE["name"],
            "folder_name": "Monitoring",
            "last_touched_at": _stamp(1_700_000_000),
            "creator": _USER,
            "last_touched_by": _USER,
            "thumbnail_url": f"https://s3-alpha.figma.com/thumbnails/{_FILE['key']}",
            "editorType": "figma",
            "role": "editor",
            "link_access": "inherit",
            "url": f"https://www.figma.com/design/{_FILE['key']}",
            "version": "2114567890",
        }
    )


def _context_error(body: dict[str, Any]) -> str | None:
    """Why the webhook's context is unusable, or None. Contexts are team, project or file."""
    known = {"team": _TEAM, "project": _PROJECT, "file": _FILE["key"]}
    context = str(body.get("context", "")).lower()
    if context not in known:
        return 'context must be one of "team", "project" or "file"'
    if str(body.get("context_id", "")) != known[context]:
        return f"No {context} found with id {body.get('context_id')!r} that you can access"
    return None


def _field_error(body: dict[str, Any], required: tuple[str, ...]) -> str | None:
    missing = [name for name in required if not isinstance(body.get(name), str) or not body[name]]
    if missing:
        return f"Missing required parameter: {missing[0]}"
    if "event_type" in body and body["event_type"] not in _EVENTS:
        return f"Invalid event_type: {body['event_type']}"
    if "status" in body and body["status"] not in _STATUSES:
        return f"Invalid status: {body['status']}"
    if len(str(body.get("description") or "")) > 150:
        return "description must be at most 150 characters"
    return None


async def _create_webhook(request: web.Request, state: ProviderState) -> web.Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return _error(400, "Invalid JSON body")
    problem = _field_error(body, ("event_type", "endpoint", "passcode", "context", "context_id"))
    if problem or (problem := _context_error(body)):
        return _error(400, problem)
    context = str(body["context"]).lower()
    wid = str(state.next_id())
    hook = {
        "id": wid,
        "event_type": body["event_type"],
        "team_id": body["context_id"] if context == "team" else "",
        "context": context.upper(),
        "context_id": body["context_id"],
        "plan_api_id": _PLAN,
        "status": body.get("status", "ACTIVE"),
        "client_id": None,
        "passcode": body["passcode"],
        "endpoint": body["endpoint"],
        "description": body.get("description"),
    }
    state.objects[wid] = hook
    return web.json_response(hook)


def _redacted(hook: dict[str, Any]) -> dict[str, Any]:
    # "For security, when using the GET endpoints, the value is an empty string" (Figma spec).
    return {**hook, "passcode": ""}


async def _get_webhook(request: web.Request, state: ProviderState) -> web.Response:
    hook = state.objects.get(request.match_info["id"])
    return web.json_response(_redacted(hook)) if hook else _error(404, "Not found")


async def _update_webhook(request: web.Request, state: ProviderState) -> web.Response:
    hook = state.objects.get(request.match_info["id"])
    if hook is None:
        return _error(404, "Not found")
    body = await json_body(request)
    if not isinstance(body, dict):
        return _error(400, "Invalid JSON body")
    if problem := _field_error(body, ()):
        return _error(400, problem)
    hook.update(
        {k: body[k] for k in ("event_type", "endpoint", "passcode", "status", "description") if k in body}
    )
    return web.json_response(hook)


async def _delete_webhook(request: web.Request, state: ProviderState) -> web.Response:
    hook = state.objects.pop(request.match_info["id"], None)
    return web.json_response(_redacted(hook)) if hook else _error(404, "Not found")


async def _no_route(_request: web.Request) -> web.Response:
    return _err(404, "Not found")
