"""A small "own integration service" with its OpenAPI document, for the fuzz check's tests.

It needs a bearer token, and it can carry planted bugs: `server_error` answers HTTP 500 for an
even order id (a status the document does not list), `missing_field` answers a customer without
its required `email`. Without bugs it honours its document exactly. It counts the requests each
operation receives, and `delay_s` slows every answer (to exercise the time budget).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_ORDER = {
    "type": "object",
    "required": ["id", "item", "quantity", "total"],
    "properties": {
        "id": {"type": "integer"},
        "item": {"type": "string"},
        "quantity": {"type": "integer"},
        "total": {"type": "number"},
    },
}
_HEALTH = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}
_CUSTOMER = {
    "type": "object",
    "required": ["id", "email"],
    "properties": {"id": {"type": "string"}, "email": {"type": "string"}},
}


def _json(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_UNAUTHORIZED = _json(_ERROR, "missing or wrong token")

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "orders (our own integration service)", "version": "1.0.0"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/health": {
            "get": {
                "operationId": "health",
                "responses": {
                    "200": _json(
                        {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}
                    ),
                    "401": _UNAUTHORIZED,
                },
            }
        },
        "/orders/{order_id}": {
            "get": {
                "operationId": "getOrder",
                "parameters": [
                    {
                        "name": "order_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000000},
                    }
                ],
                "responses": {
                    "200": _json(_ORDER),
                    "401": _UNAUTHORIZED,
                    "404": _json(_ERROR, "no such order"),
                },
            }
        },
        "/orders": {
            "post": {
                "operationId": "createOrder",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["item", "quantity"],
                                "properties": {
                                    "item": {"type": "string", "minLength": 1, "maxLength": 40},
                                    "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json(_ORDER, "created"),
                    "400": _json(_ERROR, "invalid order"),
                    "401": _UNAUTHORIZED,
                },
            }
        },
        "/customers/{customer_id}": {
            "get": {
                "operationId": "getCustomer",
                "parameters": [
                    {
                        "name": "customer_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[a-z0-9]{1,12}$"},
                    }
                ],
                "responses": {"200": _json(_CUSTOMER), "401": _UNAUTHORIZED},
            }
        },
    },
}


@dataclass
class Service:
    """The service's behaviour and what it saw."""

    token: str
    server_error: bool = False
    missing_field: bool = False
    delay_s: float = 0.0
    hits: Counter[str] = field(default_factory=Counter)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/openapi.json", self._document)
        app.router.add_get("/health", self._health)
        app.router.add_get("/orders/{order_id}", self._get_order)
        app.router.add_post("/orders", self._create_order)
        app.router.add_get("/customers/{customer_id}", self._get_customer)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "?"
        self.hits[f"{request.method} {route}"] += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if route != "/openapi.json" and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "missing or wrong token"}, status=401)
        result: web.StreamResponse = await handler(request)
        return result

    async def _document(self, request: web.Request) -> web.Response:
        return web.json_response(DOCUMENT)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def _get_order(self, request: web.Request) -> web.Response:
        order_id = int(request.match_info["order_id"])
        if self.server_error and order_id % 2 == 0:
            # The planted bug: a crash for every even id, answered as an undocumented 500.
            return web.Response(status=500, text="500 Internal Server Error: KeyError('discount')")
        if order_id > 500000:
            return web.json_response({"error": "no such order"}, status=404)
        return web.json_response({"id": order_id, "item": "widget", "quantity": 1, "total": 9.5})

    async def _create_order(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            item, quantity = str(body["item"]), int(body["quantity"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "invalid order"}, status=400)
        return web.json_response(
            {"id": 1, "item": item, "quantity": quantity, "total": quantity * 9.5}, status=201
        )

    async def _get_customer(self, request: web.Request) -> web.Response:
        customer_id = request.match_info["customer_id"]
        if self.missing_field:
            return web.json_response({"id": customer_id})  # the planted bug: `email` is required
        return web.json_response({"id": customer_id, "email": f"{customer_id}@example.test"})


@contextmanager
def serve_in_thread(service: Service) -> Iterator[str]:
    """Run `service` on 127.0.0.1 in a thread with its own event loop; yields its base URL."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, Any] = {}

    async def start() -> None:
        runner = web.AppRunner(service.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["runner"] = runner
        box["port"] = runner.addresses[0][1]
        started.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()
        loop.run_until_complete(box["runner"].cleanup())
        loop.close()

    thread = threading.Thread(target=main, name="fuzz-service", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the test service did not start")
    try:
        yield f"http://127.0.0.1:{box['port']}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
