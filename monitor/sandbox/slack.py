"""Slack Web API (`https://slack.com/api`): auth.test, conversations and chat messages.

What the real API does and this reproduces: every answer is HTTP 200 with `"ok"`, and failures
are `{"ok": false, "error": "invalid_auth"}` with status 200, so status alone proves nothing;
429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`; cursor pagination in
`response_metadata.next_cursor`; methods take form or JSON bodies.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from aiohttp import web

from monitor.sandbox.common import Handler, add_oauth_token_route, auth_middleware, provider_app, request_args
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState

NAME = "slack"
BASE_PATH = "/api"
_TEAM, _USER = "T0SANDBOX1", "U0SANDBOX1"
_CHANNELS = (("C0SANDBOX01", "integration-sandbox"), ("C0SANDBOX02", "general"))


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        return web.json_response(
            {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(retry_after)}
        )

    def server_error(self, status: int) -> web.Response:
        return web.json_response({"ok": False, "error": "fatal_error"}, status=status)


def _fail(error: str) -> web.Response:
    # Slack reports failures with HTTP 200: the body is the only truth.
    return web.json_response({"ok": False, "error": error})


def _reject(request: web.Request) -> web.Response:
    has_token = "Authorization" in request.headers or "token" in request.query
    return _fail("invalid_auth" if has_token else "not_authed")


async def _params(request: web.Request) -> dict[str, Any]:
    """Slack methods take arguments as query, form or JSON alike."""
    return await request_args(request)


def create_app(state: ProviderState) -> web.Application:
    app = provider_app(
        state, _Hooks(), [auth_middleware(state, _reject, public=("/api.test",), query=("token",))]
    )
    add_oauth_token_route(app, state, "/oauth.v2.access")
    clock = itertools.count()

    def ts() -> str:
        return f"{int(time.time())}.{next(clock) % 1_000_000:06d}"

    seed = ts()
    history: dict[str, list[dict[str, Any]]] = {
        cid: [{"type": "message", "user": _USER, "text": f"Welcome to #{name}", "ts": seed}]
        for cid, name in _CHANNELS
    }

    def bind(handler: Any) -> Handler:
        async def bound(request: web.Request) -> web.StreamResponse:
            return await handler(request, state, history, ts)  # type: ignore[no-any-return]

        return bound

    r = app.router
    r.add_route("*", "/api.test", _api_test)
    r.add_route("*", "/auth.test", _auth_test)
    r.add_route("*", "/conversations.list", _conversations_list)
    r.add_route("*", "/conversations.info", _conversations_info)
    r.add_route("*", "/conversations.history", bind(_conversations_history))
    r.add_post("/chat.postMessage", bind(_post_message))
    r.add_post("/chat.update", bind(_update_message))
    r.add_post("/chat.delete", bind(_delete_message))
    r.add_route("*", "/{tail:.*}", _unknown_method)
    return app


async def _api_test(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _auth_test(_request: web.Request) -> web.Response:
    return web.json_response(
        {
            "ok": True,
            "url": "https://atom-sandbox.slack.com/",
            "team": "Atom Sandbox",
            "user": "atom-monitor",
            "team_id": _TEAM,
            "user_id": _USER,
        }
    )


def _channel(cid: str, name: str) -> dict[str, Any]:
    return {
        "id": cid,
        "name": name,
        "name_normalized": name,
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_private": False,
        "is_archived": False,
        "is_general": name == "general",
        "is_member": True,
        "created": 1_600_000_000,
        "creator": _USER,
        "num_members": 2,
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "atom-monitor sandbox", "creator": _USER, "last_set": 1_600_000_000},
    }


async def _conversations_list(request: web.Request) -> web.Response:
    params = await _params(request)
    try:
        limit = max(1, min(1000, int(params.get("limit", 100))))
        start = int(params.get("cursor") or 0)
    except ValueError:
        return _fail("invalid_cursor")
    channels = [_channel(cid, name) for cid, name in _CHANNELS]
    chunk = channels[start : start + limit]
    more = start + limit < len(channels)
    return web.json_response(
        {
            "ok": True,
            "channels": chunk,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }
    )


async def _conversations_info(request: web.Request) -> web.Response:
    cid = str((await _params(request)).get("channel", ""))
    names = dict(_CHANNELS)
    if cid not in names:
        return _fail("channel_not_found")
    return web.json_response({"ok": True, "channel": _channel(cid, names[cid])})


async def _conversations_history(
    request: web.Request, _state: ProviderState, history: dict[str, list[dict[str, Any]]], _ts: Any
) -> web.Response:
    params = await _params(request)
    cid = str(params.get("channel", ""))
    if cid not in history:
        return _fail("channel_not_found")
    latest, oldest = str(params.get("latest", "9999999999.999999")), str(params.get("oldest", "0"))
    inclusive = str(params.get("inclusive", "false")).lower() in ("1", "true")
    try:
        limit = max(1, min(1000, int(params.get("limit", 100))))
    except ValueError:
        return _fail("invalid_limit")
    messages = sorted(
        (
            m
            for m in history[cid]
            if (oldest <= m["ts"] <= latest if inclusive else oldest < m["ts"] < latest)
        ),
        key=lambda m: m["ts"],
        reverse=True,
    )[:limit]
    return web.json_response(
        {
            "ok": True,
            "messages": messages,
            "has_more": False,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
    )


async def _post_message(
    request: web.Request, state: ProviderState, history: dict[str, list[dict[str, Any]]], ts: Any
) -> web.Response:
    params = await _params(request)
    cid, text = str(params.get("channel", "")), params.get("text")
    if cid not in history:
        return _fail("channel_not_found")
    if not isinstance(text, str) or not text:
        return _fail("no_text")
    message = {"type": "message", "user": _USER, "text": text, "ts": ts()}
    history[cid].append(message)
    state.objects[f"{cid}/{message['ts']}"] = message
    return web.json_response({"ok": True, "channel": cid, "ts": message["ts"], "message": message})


def _find(
    params: dict[str, Any], history: dict[str, list[dict[str, Any]]]
) -> tuple[str, dict[str, Any]] | str:
    cid, mts = str(params.get("channel", "")), str(params.get("ts", ""))
    if cid not in history:
        return "channel_not_found"
    for message in history[cid]:
        if message["ts"] == mts:
            return cid, message
    return "message_not_found"


async def _update_message(
    request: web.Request, _state: ProviderState, history: dict[str, list[dict[str, Any]]], _ts: Any
) -> web.Response:
    params = await _params(request)
    found = _find(params, history)
    if isinstance(found, str):
        return _fail(found)
    cid, message = found
    if isinstance(params.get("text"), str):
        message["text"] = params["text"]
    return web.json_response(
        {
            "ok": True,
            "channel": cid,
            "ts": message["ts"],
            "text": message["text"],
            "message": {"text": message["text"]},
        }
    )


async def _delete_message(
    request: web.Request, state: ProviderState, history: dict[str, list[dict[str, Any]]], _ts: Any
) -> web.Response:
    found = _find(await _params(request), history)
    if isinstance(found, str):
        return _fail(found)
    cid, message = found
    history[cid].remove(message)
    state.objects.pop(f"{cid}/{message['ts']}", None)
    return web.json_response({"ok": True, "channel": cid, "ts": message["ts"]})


async def _unknown_method(_request: web.Request) -> web.Response:
    return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
