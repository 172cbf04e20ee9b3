"""Fault injection for the simulated providers: the failures real providers actually produce.

A fault is applied by `fault_middleware`, around every provider route except the control API.
Provider-specific shapes (how a provider says "rate limited" or "bad token") come from the
provider module's hooks; the middleware decides only *when*.
"""

from __future__ import annotations

import asyncio
import enum
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware


class FaultKind(enum.StrEnum):
    LATENCY = "latency"  # params: ms (added before answering)
    ERROR_RATE = "error_rate"  # params: rate (0..1, default 1), status (default 500)
    HANG = "hang"  # never answer (until the client gives up)
    RATE_LIMIT = "rate_limit"  # params: retry_after (seconds, default 30)
    EXPIRED_TOKEN = "expired_token"  # every credential is rejected the provider's way
    DRIFT = "drift"  # params: field (a key name), mode: remove|retype
    GARBAGE = "garbage"  # 200 with a body that is not what the content type says


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    params: dict[str, Any] = field(default_factory=dict)
    # Only requests whose path contains this substring are affected (empty: all).
    path: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Fault:
        """From the control API's JSON: `{"kind": "latency", "ms": 300, "path": "/user"}`."""
        if not isinstance(data, dict) or "kind" not in data:
            raise ValueError('a fault is a JSON object with a "kind"')
        try:
            kind = FaultKind(data["kind"])
        except ValueError:
            raise ValueError(
                f"unknown fault kind {data['kind']!r} (expected one of: {', '.join(FaultKind)})"
            ) from None
        params = {k: v for k, v in data.items() if k not in ("kind", "path", "params")}
        params.update(data.get("params") or {})
        if kind is FaultKind.DRIFT and not params.get("field"):
            raise ValueError('a drift fault needs a "field" to remove or retype')
        return cls(kind, params, str(data.get("path", "")))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "path": self.path, **self.params}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ProviderHooks:
    """How one provider speaks its failures. Provider modules subclass this."""

    def rate_limited(self, retry_after: int) -> web.Response:
        return web.json_response(
            {"message": "rate limited"}, status=429, headers={"Retry-After": str(retry_after)}
        )

    def server_error(self, status: int) -> web.Response:
        return web.json_response({"message": "Internal Server Error"}, status=status)


def active(faults: list[Fault], kind: FaultKind, path: str) -> Fault | None:
    for f in faults:
        if f.kind is kind and f.path in path:
            return f
    return None


def make_fault_middleware(faults: list[Fault], hooks: ProviderHooks, rng: random.Random) -> Middleware:
    @web.middleware
    async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if (f := active(faults, FaultKind.HANG, path)) is not None:
            await asyncio.sleep(3600)
        if (f := active(faults, FaultKind.LATENCY, path)) is not None:
            await asyncio.sleep(float(f.params.get("ms", 500)) / 1000)
        if (f := active(faults, FaultKind.RATE_LIMIT, path)) is not None:
            return hooks.rate_limited(int(f.params.get("retry_after", 30)))
        if (f := active(faults, FaultKind.ERROR_RATE, path)) is not None and rng.random() < float(
            f.params.get("rate", 1.0)
        ):
            return hooks.server_error(int(f.params.get("status", 500)))
        if active(faults, FaultKind.GARBAGE, path) is not None:
            return web.Response(
                status=200,
                body=b"<html><body>502 Bad Gateway\x00\xff\xfe</body>",
                content_type="application/json",
            )
        response = await handler(request)
        if (f := active(faults, FaultKind.DRIFT, path)) is not None and isinstance(response, web.Response):
            return _drift(response, str(f.params["field"]), str(f.params.get("mode", "remove")))
        return response

    return fault_middleware


def _drift(response: web.Response, key: str, mode: str) -> web.Response:
    if response.body is None or not (response.content_type or "").endswith("json"):
        return response
    try:
        data = json.loads(bytes(response.body))  # type: ignore[arg-type]
    except ValueError:
        return response
    _mutate(data, key, mode)
    out = web.json_response(data, status=response.status)
    for name, value in response.headers.items():
        if name.lower() not in ("content-length", "content-type"):
            out.headers[name] = value
    return out


def _mutate(value: Any, key: str, mode: str) -> None:
    """Remove or retype `key` wherever it occurs: drift in a real API is rarely in one place."""
    if isinstance(value, dict):
        if key in value:
            if mode == "remove":
                del value[key]
            else:
                old = value[key]
                value[key] = str(old) if not isinstance(old, str) else [old]
        for v in value.values():
            _mutate(v, key, mode)
    elif isinstance(value, list):
        for v in value:
            _mutate(v, key, mode)
