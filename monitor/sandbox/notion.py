"""Notion API (`https://api.notion.com`): the bot user, users, search and pages under a parent page.

What the real API does and this reproduces: Bearer integration tokens answered with 401
`unauthorized`; the `Notion-Version` header is required (400 `missing_version` without it) and
the page-markdown endpoints need 2026-03-11 or later; every error is `{"object": "error",
"status", "code", "message", "request_id"}`; 404 `object_not_found` for what does not exist or is
not shared with the integration; cursor pagination with `has_more`/`next_cursor`; pages are
deleted by moving them to the trash (`in_trash: true`) and stay readable there; 429
`rate_limited` with `Retry-After`; an unknown path is 400 `invalid_request_url`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from monitor.sandbox.common import Handler, auth_middleware, json_body, provider_app
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState

NAME = "notion"
BASE_PATH = ""
# Every version the API accepts (it lists them when given another one).
_VERSIONS = ("2021-05-11", "2021-05-13", "2021-08-16", "2022-02-22", "2022-06-28", "2025-09-03", "2026-03-11")
_MARKDOWN_SINCE = "2026-03-11"
_BOT = "9a3b6f1e-5c2d-4e8f-a1b0-7c6d5e4f3a21"
_PERSON = "5389a034-eb5c-47b5-8a9e-f79c99ef166c"
_PARENT = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
_ANNOTATIONS = ("bold", "italic", "strikethrough", "underline", "code")
_SERVER_ERRORS = {
    502: ("bad_gateway", "Bad Gateway"),
    503: ("service_unavailable", "Notion is unavailable, please try again later."),
    504: ("gateway_timeout", "Gateway Timeout"),
}


def _error(status: int, code: str, message: str) -> web.Response:
    body = {"object": "error", "status": status, "code": code, "message": message, "request_id": _rid()}
    return web.json_response(body, status=status)


def _rid() -> str:
    return str(uuid.uuid4())


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        # Notion averages three requests per second per integration; beyond that, 429 + Retry-After.
        response = _error(
            429, "rate_limited", "You have been rate limited. Please try again in a few minutes."
        )
        response.headers["Retry-After"] = str(retry_after)
        return response

    def server_error(self, status: int) -> web.Response:
        code, message = _SERVER_ERRORS.get(status, ("internal_server_error", "Unexpected error occurred."))
        return _error(status, code, message)


def _unauthorized(_request: web.Request) -> web.Response:
    return _error(401, "unauthorized", "API token is invalid.")


def _stamp(epoch: float) -> str:
    """Notion timestamps are ISO 8601 in UTC with milliseconds, rounded to the minute."""
    return time.strftime("%Y-%m-%dT%H:%M:00.000Z", time.gmtime(epoch))


def _bot() -> dict[str, Any]:
    return {
        "object": "user",
        "id": _BOT,
        "name": "Atom Monitor",
        "avatar_url": None,
        "type": "bot",
        "bot": {"owner": {"type": "workspace", "workspace": True}, "workspace_name": "Atom Sandbox"},
    }


def _person() -> dict[str, Any]:
    return {
        "object": "user",
        "id": _PERSON,
        "name": "Sandbox Owner",
        "avatar_url": None,
        "type": "person",
        "person": {"email": "owner@example.com"},
    }


def _rich_text(content: str) -> dict[str, Any]:
    return {
        "type": "text",
        "text": {"content": content, "link": None},
        "annotations": {**dict.fromkeys(_ANNOTATIONS, False), "color": "default"},
        "plain_text": content,
        "href": None,
    }


def _page(pid: str, title: str, parent: dict[str, Any], epoch: float) -> dict[str, Any]:
    stamp = _stamp(epoch)
    slug = "-".join(title.split()[:6]) or "Untitled"
    return {
        "object": "page",
        "id": pid,
        "created_time": stamp,
        "last_edited_time": stamp,
        "created_by": {"object": "user", "id": _BOT},
        "last_edited_by": {"object": "user", "id": _BOT},
        "cover": None,
        "icon": None,
        "parent": parent,
        "archived": False,
        "in_trash": False,
        "is_locked": False,
        "properties": {"title": {"id": "title", "type": "title", "title": [_rich_text(title)]}},
        "url": f"https://www.notion.so/{slug}-{pid.replace('-', '')}",
        "public_url": None,
    }


def _title_of(page: dict[str, Any]) -> str:
    return "".join(t["plain_text"] for t in page["properties"]["title"]["title"])


class _Pages:
    """Live pages in `state.objects` (what the checks created), trashed ones aside, plus the seed."""

    def __init__(self, state: ProviderState) -> None:
        self.state = state
        self.seed = _page(_PARENT, "Atom Monitor Sandbox", {"type": "workspace", "workspace": True}, 1.6e9)
        self.trash: dict[str, dict[str, Any]] = {}

    def get(self, pid: str) -> dict[str, Any] | None:
        if pid == _PARENT:
            return self.seed
        return self.state.objects.get(pid) or self.trash.get(pid)

    def live(self) -> list[dict[str, Any]]:
        return [self.seed, *self.state.objects.values()]


def _version_middleware() -> Any:
    @web.middleware
    async def version(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Notion-Version")
        if given is None:
            return _error(
                400,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version header should be defined, "
                "instead was `undefined`.",
            )
        if given not in _VERSIONS:
            allowed = ", ".join(f'"{v}"' for v in _VERSIONS[:-1]) + f', or "{_VERSIONS[-1]}"'
            message = f"Notion-Version header failed validation: Notion-Version header should be {allowed}"
            return _error(400, "validation_error", message)
        return await handler(request)

    return version


def create_app(state: ProviderState) -> web.Application:
    app = provider_app(state, _Hooks(), [auth_middleware(state, _unauthorized), _version_middleware()])
    pages = _Pages(state)

    def bind(handler: Any) -> Handler:
        async def bound(request: web.Request) -> web.StreamResponse:
            return await handler(request, pages)  # type: ignore[no-any-return]

        return bound

    r = app.router
    r.add_get("/v1/users/me", _get_self)
    r.add_get("/v1/users", _list_users)
    r.add_get("/v1/users/{id}", _get_user)
    r.add_post("/v1/search", bind(_search))
    r.add_post("/v1/pages", bind(_create_page))
    r.add_get("/v1/pages/{id}", bind(_get_page))
    r.add_patch("/v1/pages/{id}", bind(_update_page))
    r.add_get("/v1/pages/{id}/markdown", bind(_get_markdown))
    r.add_route("*", "/{tail:.*}", _invalid_url)
    return app


async def _get_self(_request: web.Request) -> web.Response:
    return web.json_response({**_bot(), "request_id": _rid()})


def _listing(items: list[dict[str, Any]], kind: str, params: dict[str, Any]) -> web.Response:
    """A cursor page: `start_cursor` is the id of the first item, `page_size` at most 100."""
    try:
        size = int(params.get("page_size", 100))
    except (TypeError, ValueError):
        size = 0
    if not 1 <= size <= 100:
        return _error(
            400, "validation_error", f"body failed validation: page_size should be ≤ 100, instead was {size}"
        )
    start = 0
    cursor = params.get("start_cursor")
    if cursor:
        ids = [i["id"] for i in items]
        if cursor not in ids:
            return _error(400, "validation_error", f"start_cursor provided is invalid: {cursor}")
        start = ids.index(cursor)
    chunk, rest = items[start : start + size], items[start + size :]
    body: dict[str, Any] = {
        "object": "list",
        "results": chunk,
        "next_cursor": rest[0]["id"] if rest else None,
        "has_more": bool(rest),
        "type": kind,
        kind: {},
        "request_id": _rid(),
    }
    return web.json_response(body)


async def _list_users(request: web.Request) -> web.Response:
    return _listing([_person(), _bot()], "user", dict(request.query))


async def _get_user(request: web.Request) -> web.Response:
    uid = request.match_info["id"]
    for user in (_person(), _bot()):
        if user["id"] == uid:
            return web.json_response({**user, "request_id": _rid()})
    return _error(404, "object_not_found", f"Could not find user with ID: {uid}.")


async def _search(request: web.Request, pages: _Pages) -> web.Response:
    body = await json_body(request)
    body = body if isinstance(body, dict) else {}
    wanted = str(body.get("query") or "").lower()
    value = (body.get("filter") or {}).get("value") if isinstance(body.get("filter"), dict) else None
    if value not in (None, "page", "data_source", "database"):
        return _error(
            400,
            "validation_error",
            "body failed validation: body.filter.value should be page or data_source, "
            f"instead was `{value}`.",
        )
    found = [p for p in pages.live() if wanted in _title_of(p).lower() and value in (None, "page")]
    found.sort(key=lambda p: p["last_edited_time"], reverse=True)
    # Since 2025-09-03 search returns pages and data sources; before, pages and databases.
    kind = "page_or_data_source" if request.headers["Notion-Version"] >= "2025-09-03" else "page_or_database"
    return _listing(found, kind, body)


def _not_found(pid: str) -> web.Response:
    return _error(
        404,
        "object_not_found",
        f"Could not find page with ID: {pid}. Make sure the relevant pages and databases are shared "
        "with your integration.",
    )


def _page_id(request: web.Request) -> str | web.Response:
    raw = request.match_info["id"]
    try:
        return str(uuid.UUID(raw))  # Notion takes ids with or without dashes
    except ValueError:
        message = f'path failed validation: path.page_id should be a valid uuid, instead was `"{raw}"`.'
        return _error(400, "validation_error", message)


def _title_input(properties: Any) -> str | None:
    """The plain text of a `title` property value: `{"title": [{"text": {"content": ...}}]}`."""
    if not isinstance(properties, dict):
        return None
    title = properties.get("title")
    parts = title.get("title") if isinstance(title, dict) else None
    if not isinstance(parts, list):
        return None
    return "".join(str((p.get("text") or {}).get("content", "")) for p in parts if isinstance(p, dict))


async def _create_page(request: web.Request, pages: _Pages) -> web.Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        return _error(400, "invalid_json", "Error parsing JSON body.")
    parent = body.get("parent")
    parent_id = parent.get("page_id") if isinstance(parent, dict) else None
    if not isinstance(parent_id, str):
        return _error(
            400,
            "validation_error",
            "body failed validation: body.parent.page_id should be defined, instead was `undefined`.",
        )
    title = _title_input(body.get("properties"))
    if title is None:
        return _error(
            400,
            "validation_error",
            "body failed validation: body.properties should be defined, instead was `undefined`.",
        )
    if pages.get(parent_id) is None or parent_id in pages.trash:
        return _not_found(parent_id)
    pid = str(uuid.uuid4())
    page = _page(pid, title, {"type": "page_id", "page_id": parent_id}, time.time())
    pages.state.objects[pid] = page
    return web.json_response({**page, "request_id": _rid()})


async def _get_page(request: web.Request, pages: _Pages) -> web.Response:
    pid = _page_id(request)
    if isinstance(pid, web.Response):
        return pid
    page = pages.get(pid)
    return web.json_response({**page, "request_id": _rid()}) if page else _not_found(pid)


async def _update_page(request: web.Request, pages: _Pages) -> web.Response:
    pid = _page_id(request)
    if isinstance(pid, web.Response):
        return pid
    page, body = pages.get(pid), await json_body(request)
    if page is None:
        return _not_found(pid)
    if not isinstance(body, dict):
        return _error(400, "invalid_json", "Error parsing JSON body.")
    trash = body.get("in_trash", body.get("archived"))
    if page["in_trash"] and trash is not False and "properties" in body:
        message = "Can't edit block that is archived. You must unarchive the block before editing."
        return _error(400, "validation_error", message)
    title = _title_input(body.get("properties"))
    if title is not None:
        page["properties"]["title"]["title"] = [_rich_text(title)]
    if isinstance(trash, bool) and pid != _PARENT:
        _move(pages, pid, page, trash)
    page["last_edited_time"] = _stamp(time.time())
    return web.json_response({**page, "request_id": _rid()})


def _move(pages: _Pages, pid: str, page: dict[str, Any], trash: bool) -> None:
    """Deleting a page moves it to the trash (restorable, still readable); `in_trash: false` restores."""
    page["archived"] = page["in_trash"] = trash
    if trash:
        pages.trash[pid] = pages.state.objects.pop(pid, page)
    else:
        pages.state.objects[pid] = pages.trash.pop(pid, page)


async def _get_markdown(request: web.Request, pages: _Pages) -> web.Response:
    if request.headers["Notion-Version"] < _MARKDOWN_SINCE:
        message = f"The page-markdown endpoints require Notion-Version {_MARKDOWN_SINCE} or later."
        return _error(400, "validation_error", message)
    pid = _page_id(request)
    if isinstance(pid, web.Response):
        return pid
    page = pages.get(pid)
    if page is None:
        return _not_found(pid)
    body = {
        "object": "page_markdown",
        "id": pid,
        "markdown": f"# {_title_of(page)}\n",
        "truncated": False,
        "unknown_block_ids": [],
        "request_id": _rid(),
    }
    return web.json_response(body)


async def _invalid_url(_request: web.Request) -> web.Response:
    # Notion answers a path it does not serve with 400 invalid_request_url, not 404.
    return _error(400, "invalid_request_url", "Invalid request URL.")
