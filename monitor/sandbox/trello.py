"""Trello REST (`https://api.trello.com/1`): the member, boards, lists and cards.

What the real API does and this reproduces: the API key and user token travel as the `key` and
`token` query parameters; a bad key is 401 `invalid key` and a bad token 401 `invalid token`, both
plain text, and a missing object is 404 `The requested resource was not found.` (plain text too);
ids are 24-hex Mongo ObjectIds and `fields=` trims an object to the named fields (plus `id`);
card arguments come as query parameters (the spec's way) or a JSON/form body; deleting a card
answers 200 `{"limits": {}}`; every answer carries `x-rate-limit-api-key-*` and
`x-rate-limit-api-token-*` headers, and a limited request is 429 `API_TOKEN_LIMIT_EXCEEDED`.
"""

from __future__ import annotations

import re
import time
from collections import deque
from typing import Any

from aiohttp import web

from monitor.sandbox.common import Handler, auth_middleware, provider_app, request_args
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState

NAME = "trello"
BASE_PATH = "/1"
_WEB = "https://trello.com"
_MEMBER = {"id": "5abbe4b7ddc1b351ef961400", "username": "atommonitor", "fullName": "Atom Monitor"}
_BOARDS = (("5abbe4b7ddc1b351ef961414", "Integration Sandbox"), ("5abbe4b7ddc1b351ef961420", "Operations"))
_LISTS = (("5abbe4b7ddc1b351ef961430", "To Do"), ("5abbe4b7ddc1b351ef961431", "Done"))
_AVATAR = "fc8faaaee46666a4eb8b626c08933e16"
_NOT_FOUND = "The requested resource was not found."
_ID = re.compile(r"^[0-9a-fA-F]{24}$")
# Trello's documented limits: 300 requests per 10 s per API key, 100 per 10 s per token.
_WINDOW_MS, _KEY_MAX, _TOKEN_MAX = 10_000, 300, 100


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        return web.json_response(
            {"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"},
            status=429,
            headers={
                "Retry-After": str(retry_after),
                "x-rate-limit-api-token-interval-ms": str(_WINDOW_MS),
                "x-rate-limit-api-token-max": str(_TOKEN_MAX),
                "x-rate-limit-api-token-remaining": "0",
            },
        )

    def server_error(self, status: int) -> web.Response:
        return _text("An unexpected error occurred.", status)


def _text(message: str, status: int) -> web.Response:
    # Trello's errors are plain text, not JSON.
    return web.Response(text=message, status=status, content_type="text/plain")


def _rejecter(state: ProviderState) -> Any:
    def reject(request: web.Request) -> web.Response:
        known_keys = {c.partition(":")[0] for c in state.credentials if ":" in c}
        return _text("invalid token" if request.query.get("key") in known_keys else "invalid key", 401)

    return reject


def _rate_headers() -> Any:
    """Count requests in a sliding 10 s window and report both quotas the way Trello does."""
    seen: deque[float] = deque()

    @web.middleware
    async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        now = time.monotonic()
        seen.append(now)
        while seen and seen[0] < now - _WINDOW_MS / 1000:
            seen.popleft()
        response = await handler(request)
        for kind, most in (("key", _KEY_MAX), ("token", _TOKEN_MAX)):
            response.headers[f"x-rate-limit-api-{kind}-interval-ms"] = str(_WINDOW_MS)
            response.headers[f"x-rate-limit-api-{kind}-max"] = str(most)
            response.headers[f"x-rate-limit-api-{kind}-remaining"] = str(max(0, most - len(seen)))
        return response

    return headers


def create_app(state: ProviderState) -> web.Application:
    auth = auth_middleware(state, _rejecter(state), query=("key", "token"))
    app = provider_app(state, _Hooks(), [_rate_headers(), auth])

    def bind(handler: Any) -> Handler:
        async def bound(request: web.Request) -> web.StreamResponse:
            return await handler(request, state)  # type: ignore[no-any-return]

        return bound

    r = app.router
    r.add_get("/members/{id}", _get_member)
    r.add_get("/members/{id}/boards", _member_boards)
    r.add_get("/boards/{id}", _get_board)
    r.add_get("/boards/{id}/lists", _board_lists)
    r.add_get("/lists/{id}", _get_list)
    r.add_post("/cards", bind(_create_card))
    r.add_get("/cards/{id}", bind(_get_card))
    r.add_put("/cards/{id}", bind(_update_card))
    r.add_delete("/cards/{id}", bind(_delete_card))
    r.add_route("*", "/{tail:.*}", _no_route)
    return app


def _fields(obj: dict[str, Any], request: web.Request) -> dict[str, Any]:
    """`fields=a,b` returns only those fields, and `id` always (Trello's default is `all`)."""
    wanted = request.query.get("fields", "all")
    if wanted == "all":
        return obj
    names = {"id", *wanted.split(",")}
    return {k: v for k, v in obj.items() if k in names}


def _json(obj: Any, request: web.Request) -> web.Response:
    if isinstance(obj, list):
        return web.json_response([_fields(o, request) for o in obj])
    return web.json_response(_fields(obj, request))


def _bad_id(value: str) -> web.Response | None:
    return None if _ID.match(value) else _text("invalid id", 400)


def _member() -> dict[str, Any]:
    return {
        **_MEMBER,
        "initials": "AM",
        "avatarHash": _AVATAR,
        "avatarUrl": f"https://trello-members.s3.amazonaws.com/{_MEMBER['id']}/{_AVATAR}",
        "bio": "",
        "confirmed": True,
        "memberType": "normal",
        "url": f"{_WEB}/{_MEMBER['username']}",
        "idBoards": [b for b, _ in _BOARDS],
        "idOrganizations": [],
        "email": "monitor@example.com",
        "loginTypes": ["password"],
        "products": [],
    }


def _board(bid: str, name: str) -> dict[str, Any]:
    short = bid[-8:]
    return {
        "id": bid,
        "name": name,
        "desc": "Synthetic checks add cards here and delete them again.",
        "closed": False,
        "idOrganization": "5abbe4b7ddc1b351ef961401",
        "idMemberCreator": _MEMBER["id"],
        "pinned": False,
        "url": f"{_WEB}/b/{short}/{name.lower().replace(' ', '-')}",
        "shortUrl": f"{_WEB}/b/{short}",
        "shortLink": short,
        "starred": False,
        "subscribed": False,
        "prefs": {"permissionLevel": "org", "voting": "disabled", "comments": "members", "selfJoin": True},
        "labelNames": {"green": "", "yellow": "", "orange": "", "red": "", "purple": "", "blue": ""},
        "dateLastActivity": "2025-11-01T09:00:00.000Z",
    }


def _list(lid: str, name: str) -> dict[str, Any]:
    pos = 16384 * (1 + [i for i, _ in _LISTS].index(lid))
    return {
        "id": lid,
        "name": name,
        "closed": False,
        "pos": pos,
        "idBoard": _BOARDS[0][0],
        "subscribed": False,
    }


def _is_me(request: web.Request) -> bool:
    """A member is named by `me` (the token's owner), its id or its username."""
    return request.match_info["id"] in ("me", _MEMBER["id"], _MEMBER["username"])


async def _get_member(request: web.Request) -> web.Response:
    return _json(_member(), request) if _is_me(request) else _text(_NOT_FOUND, 404)


async def _member_boards(request: web.Request) -> web.Response:
    boards = [_board(b, n) for b, n in _BOARDS]
    return _json(boards, request) if _is_me(request) else _text(_NOT_FOUND, 404)


async def _get_board(request: web.Request) -> web.Response:
    bid = request.match_info["id"]
    if (bad := _bad_id(bid)) is not None:
        return bad
    found = [_board(b, n) for b, n in _BOARDS if b == bid]
    return _json(found[0], request) if found else _text(_NOT_FOUND, 404)


async def _board_lists(request: web.Request) -> web.Response:
    bid = request.match_info["id"]
    if (bad := _bad_id(bid)) is not None:
        return bad
    if bid not in dict(_BOARDS):
        return _text(_NOT_FOUND, 404)
    lists = [_list(i, n) for i, n in _LISTS] if bid == _BOARDS[0][0] else []
    return _json(lists, request)


async def _get_list(request: web.Request) -> web.Response:
    lid = request.match_info["id"]
    if (bad := _bad_id(lid)) is not None:
        return bad
    names = dict(_LISTS)
    return _json(_list(lid, names[lid]), request) if lid in names else _text(_NOT_FOUND, 404)


async def _args(request: web.Request) -> dict[str, Any]:
    """Trello takes card arguments as query parameters (the spec's way) or a JSON or form body."""
    return await request_args(request, skip=("key", "token"))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _card(cid: str, args: dict[str, Any]) -> dict[str, Any]:
    short = cid[-8:]
    return {
        "id": cid,
        "name": str(args.get("name", "")),
        "desc": str(args.get("desc", "")),
        "closed": False,
        "idBoard": _BOARDS[0][0],
        "idList": str(args["idList"]),
        "idMembers": [],
        "idLabels": [],
        "labels": [],
        "idChecklists": [],
        "idShort": int(cid[-4:], 16) % 1000,
        "pos": 65535,
        "due": None,
        "start": None,
        "dueComplete": False,
        "dateLastActivity": _now(),
        "shortLink": short,
        "shortUrl": f"{_WEB}/c/{short}",
        "url": f"{_WEB}/c/{short}",
        "subscribed": False,
        "badges": {"votes": 0, "comments": 0, "attachments": 0, "checkItems": 0, "description": False},
    }


async def _create_card(request: web.Request, state: ProviderState) -> web.Response:
    args = await _args(request)
    lid = str(args.get("idList", ""))
    if not _ID.match(lid):
        return _text("invalid value for idList", 400)
    if lid not in dict(_LISTS):
        return _text(_NOT_FOUND, 404)
    # A Mongo ObjectId: 4 bytes of creation time, then a counter.
    cid = f"{int(time.time()):08x}{state.next_id():016x}"
    card = _card(cid, args)
    state.objects[cid] = card
    return web.json_response(card)


def _find_card(request: web.Request, state: ProviderState) -> dict[str, Any] | web.Response:
    """The card the path names, or Trello's answer: 400 for a malformed id, 404 for a missing one."""
    cid = request.match_info["id"]
    if (bad := _bad_id(cid)) is not None:
        return bad
    return state.objects.get(cid) or _text(_NOT_FOUND, 404)


async def _get_card(request: web.Request, state: ProviderState) -> web.Response:
    card = _find_card(request, state)
    return card if isinstance(card, web.Response) else _json(card, request)


async def _update_card(request: web.Request, state: ProviderState) -> web.Response:
    card = _find_card(request, state)
    if isinstance(card, web.Response):
        return card
    args = await _args(request)
    card.update({name: str(args[name]) for name in ("name", "desc") if name in args})
    card["dateLastActivity"] = _now()
    return web.json_response(card)


async def _delete_card(request: web.Request, state: ProviderState) -> web.Response:
    card = _find_card(request, state)
    if isinstance(card, web.Response):
        return card
    del state.objects[card["id"]]
    return web.json_response({"limits": {}})


async def _no_route(_request: web.Request) -> web.Response:
    return _text(_NOT_FOUND, 404)
