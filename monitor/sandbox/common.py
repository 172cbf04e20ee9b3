"""Small helpers shared by provider modules: building the app and reading requests safely."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from monitor.sandbox.faults import ProviderHooks, make_fault_middleware
from monitor.sandbox.state import ProviderState


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


def page(items: list[Any], request: web.Request, default_size: int = 30) -> tuple[list[Any], int, int]:
    """Slice a list by `page`/`per_page`; returns (items, page, last_page)."""
    try:
        size = max(1, min(100, int(request.query.get("per_page", default_size))))
        number = max(1, int(request.query.get("page", 1)))
    except ValueError:
        size, number = default_size, 1
    last = max(1, (len(items) + size - 1) // size)
    return items[(number - 1) * size : number * size], number, last
