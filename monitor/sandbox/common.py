"""Small helpers shared by provider modules: building the app and reading requests safely."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from monitor.sandbox.faults import ProviderHooks, make_fault_middleware
from monitor.sandbox.state import ProviderState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def provider_app(
    state: ProviderState, hooks: ProviderHooks, middlewares: Iterable[Middleware] = ()
) -> web.Application:
    """An app whose first middleware injects faults, so every fault hits every route alike."""
    return web.Application(middlewares=[make_fault_middleware(state.faults, hooks, state.rng), *middlewares])


async def json_body(request: web.Request) -> Any:
    """The request's JSON, or None when absent or malformed (providers answer that with a 400)."""
    if not request.can_read_body:
        return None
    try:
        return json.loads(await request.read())
    except ValueError:
        return None


async def request_args(request: web.Request, skip: Iterable[str] = ()) -> dict[str, Any]:
    """Arguments given as query parameters, a JSON object or a form, merged (Slack's methods and
    Trello's writes take any of them); `skip` drops credentials passed in the query."""
    out: dict[str, Any] = {k: v for k, v in request.query.items() if k not in set(skip)}
    if request.content_type == "application/json":
        body = await json_body(request)
        if isinstance(body, dict):
            out.update(body)
    elif request.can_read_body:
        out.update(await request.post())
    return out


def page(items: list[Any], request: web.Request, default_size: int = 30) -> tuple[list[Any], int, int]:
    """Slice a list by `page`/`per_page`; returns (items, page, last_page)."""
    try:
        size = max(1, min(100, int(request.query.get("per_page", default_size))))
        number = max(1, int(request.query.get("page", 1)))
    except ValueError:
        size, number = default_size, 1
    last = max(1, (len(items) + size - 1) // size)
    return items[(number - 1) * size : number * size], number, last


Reject = Callable[[web.Request], web.Response]


def auth_middleware(
    state: ProviderState,
    reject: Reject,
    public: Iterable[str] = (),
    headers: Iterable[str] = (),
    query: Iterable[str] = (),
) -> Middleware:
    """Reject requests without an accepted credential the provider's way; `public` paths need none."""
    open_paths = tuple(public)
    header_names, query_names = tuple(headers), tuple(query)

    @web.middleware
    async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.endswith(("/oauth/token", *open_paths)) or state.authorized(
            request, header_names, query_names
        ):
            return await handler(request)
        return reject(request)

    return _auth


def add_oauth_token_route(app: web.Application, state: ProviderState, path: str = "/oauth/token") -> None:
    """The OAuth2 refresh-token grant (RFC 6749 §6), so `oauth2_refresh` auth can be exercised."""

    async def _token(request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "refresh_token":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if form.get("refresh_token") not in state.refresh_tokens or state.token_expired():
            return web.json_response({"error": "invalid_grant"}, status=400)
        return web.json_response(
            {"access_token": state.issue_access_token(), "token_type": "Bearer", "expires_in": 3600}
        )

    app.router.add_post(path, _token)


def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
