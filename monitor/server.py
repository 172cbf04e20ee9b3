"""The daemon's HTTP surface: /metrics, /healthz, /readyz and the JSON API under /api/v1.

Every error is JSON with an `error` sentence. Write endpoints need the admin token, compared in
constant time. The API is described by the OpenAPI document it serves (monitor/openapi.py).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from monitor import __version__
from monitor.config import Config
from monitor.daemon import DAEMON, Daemon, lifecycle
from monitor.metrics import Metrics
from monitor.metrics_render import accepts_text_004
from monitor.model import Category, Outcome
from monitor.openapi import openapi_document
from monitor.store import ResultQuery

log = structlog.get_logger("monitor.server")
MAX_PAGE = 1000


def create_app(config_path: Path, config: Config) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=64 * 1024)
    daemon = Daemon(config_path=config_path, config=config)
    app[DAEMON] = daemon
    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/metrics", metrics_handler(daemon.metrics))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/api/v1/integrations", _integrations)
    app.router.add_get("/api/v1/results", _results)
    app.router.add_post("/api/v1/runs", _runs)
    app.router.add_post("/api/v1/reload", _reload)
    app.router.add_get("/api/v1/openapi.json", _openapi)
    app.router.add_get("/api/v1/readiness", _readiness)
    app.router.add_get("/report", _report)
    return app


def metrics_handler(metrics: Metrics) -> Handler:
    """GET /metrics: the text format from `Metrics.render_text`, gzipped when the client takes it.

    Not prometheus_client's aiohttp handler for every scrape: its generate_latest costs ~256 µs
    per configured check on the event loop, so 1,000 checks held the loop ~0.4 s a scrape and
    10,000 checks ~3 s, wrecking the schedule (bench/README.md). render_text gives the same bytes
    at ~15 µs a check and lets the loop run every few milliseconds. The library handler still
    answers what only it negotiates: `name[]` filters, and clients that take OpenMetrics or text
    1.0.0 but not text 0.0.4 (Prometheus itself accepts 0.0.4, so it gets the fast path).
    """
    library = make_aiohttp_handler(metrics.registry)

    async def handler(request: web.Request) -> web.StreamResponse:
        accept = ",".join(request.headers.getall("Accept", []))
        if "name[]" in request.query or not accepts_text_004(accept):
            return await library(request)
        response = web.Response(
            body=await metrics.render_text(), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4}
        )
        response.enable_compression()  # as the library does; aiohttp zips bodies over 4 KB in a thread
        return response

    return handler


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        return web.json_response({"error": exc.reason}, status=exc.status, headers=_keep(exc.headers))
    except Exception:
        log.exception("http_handler_failed", path=request.path)
        return web.json_response({"error": "internal error; see the daemon's log"}, status=500)


def _keep(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() in ("allow", "www-authenticate")}


def _parse_timestamp(text: str) -> datetime:
    """RFC 3339 as OpenAPI's date-time means it: any letter case, and a leap second read as :59."""
    text = text.strip().upper().replace("Z", "+00:00")
    text = re.sub(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d):60", r"\1:59", text)
    return datetime.fromisoformat(text)


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def _require_admin(request: web.Request) -> None:
    token = request.app[DAEMON].config.file.monitor.admin_token
    if token is None:
        raise web.HTTPForbidden(
            text='{"error": "admin endpoints are disabled: set monitor.admin_token"}',
            content_type="application/json",
        )
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.get_secret_value().encode())
    if not ok:
        raise web.HTTPUnauthorized(
            text='{"error": "admin token required: Authorization: Bearer <monitor.admin_token>"}',
            content_type="application/json",
            headers={"WWW-Authenticate": 'Bearer realm="atom-monitor"'},
        )


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


async def _readyz(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    if not daemon.started or daemon.engine is None:
        return web.json_response({"status": "starting"}, status=503)
    try:
        await daemon.engine.store.count(ResultQuery(limit=1))
    except Exception as exc:
        return web.json_response({"status": "store unavailable", "error": type(exc).__name__}, status=503)
    return web.json_response({"status": "ready", "checks": len(daemon.config.checks)})


async def _integrations(request: web.Request) -> web.Response:
    daemon: Daemon = request.app[DAEMON]
    scrub = daemon.engine.scrubber if daemon.engine else None
    out = []
    for name, integ in sorted(daemon.config.integrations.items()):
        checks = []
        for c in daemon.config.checks:
            if c.integration != name:
                continue
            last = daemon.latest.get(c.key)
            checks.append(
                {
                    "name": c.name,
                    "category": c.category.value,
                    "kind": c.kind.value,
                    "interval_s": c.interval,
                    "timeout_s": c.timeout,
                    "last": None
                    if last is None
                    else {
                        "outcome": last.outcome.value,
                        "started_at": last.started_at.isoformat(),
                        "duration_s": round(last.duration_s, 6),
                        "reason": last.reason,
                    },
                }
            )
        base = integ.base_url or ""
        out.append(
            {
                "name": name,
                "pack": integ.pack,
                "provider": integ.provider,
                "base_url": scrub.url(base) if scrub else base,
                "claimed_status": integ.claims.status if integ.claims else None,
                "checks": checks,
            }
        )
    return web.json_response({"integrations": out})


def _query(request: web.Request) -> ResultQuery:
    q = request.query
    unknown = set(q) - {"integration", "check", "category", "outcome", "since", "until", "limit", "offset"}
    if unknown:
        raise _bad(f"unknown query parameter {sorted(unknown)[0]!r}")

    def enum(name: str, kind: Any) -> Any:
        if name not in q:
            return None
        try:
            return kind(q[name])
        except ValueError:
            raise _bad(f"{name} must be one of: {', '.join(k.value for k in kind)}") from None

    def when(name: str) -> datetime | None:
        if name not in q:
            return None
        try:
            value = _parse_timestamp(q[name])
        except ValueError:
            raise _bad(f"{name} must be an ISO 8601 timestamp, e.g. 2026-11-22T10:00:00Z") from None
        if value.tzinfo is None:
            raise _bad(f"{name} needs a time zone, e.g. 2026-11-22T10:00:00Z")
        return value

    def number(name: str, default: int, high: int) -> int:
        raw = q.get(name, str(default))
        if not raw.isdigit() or int(raw) > high:
            raise _bad(f"{name} must be an integer from 0 to {high}")
        return int(raw)

    return ResultQuery(
        integration=q.get("integration") or None,
        check=q.get("check") or None,
        category=enum("category", Category),
        outcome=enum("outcome", Outcome),
        since=when("since"),
        until=when("until"),
        limit=max(1, number("limit", 100, MAX_PAGE)),
        offset=number("offset", 0, 10**9),
    )


async def _results(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    query = _query(request)
    assert daemon.engine is not None
    results = await daemon.engine.store.query(query)
    total = await daemon.engine.store.count(query)
    return web.json_response(
        {
            "results": [r.to_dict() for r in results],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        }
    )


async def _runs(request: web.Request) -> web.Response:
    _require_admin(request)
    daemon = request.app[DAEMON]
    body: Any = {}
    if request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            raise _bad('the body must be JSON, e.g. {"integrations": ["github"], "wait": true}') from None
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    extra = sorted(set(body) - {"integrations", "wait"})
    if extra:
        raise _bad(f"unknown field {extra[0]!r} (expected: integrations, wait)")
    names = body.get("integrations") or list(daemon.config.integrations)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _bad("integrations must be a list of integration names")
    unknown = sorted(set(names) - set(daemon.config.integrations))
    if unknown:
        raise _bad(f"unknown integration {unknown[0]!r}")
    checks = [c for c in daemon.config.checks if c.integration in names]
    assert daemon.scheduler is not None
    if body.get("wait") is True:
        results = await daemon.scheduler.trigger(checks)
        return web.json_response({"results": [r.to_dict() for r in results]})
    task = asyncio.create_task(daemon.scheduler.trigger(checks))
    daemon.background.add(task)  # keep a reference until done, or the task may be collected
    task.add_done_callback(daemon.background.discard)
    return web.json_response({"status": "accepted", "checks": len(checks)}, status=202)


async def _reload(request: web.Request) -> web.Response:
    _require_admin(request)
    issues = await request.app[DAEMON].reload()
    if issues:
        return web.json_response(
            {"error": "config refused; the previous config keeps running", "issues": issues}, status=400
        )
    daemon = request.app[DAEMON]
    return web.json_response({"status": "reloaded", "checks": len(daemon.config.checks)})


async def _readiness(request: web.Request) -> web.Response:
    doc = await request.app[DAEMON].current_readiness()
    return web.json_response(doc)


async def _report(request: web.Request) -> web.Response:
    from monitor.report_html import render

    doc = await request.app[DAEMON].current_readiness()
    # The page is self-contained (inline CSS/SVG); forbid anything else, scripts included.
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return web.Response(text=render(doc), content_type="text/html", headers={"Content-Security-Policy": csp})


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(list(request.app[DAEMON].config.integrations)))
