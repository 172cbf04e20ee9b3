"""The daemon in-process: lifecycle, metrics, the JSON API, admin auth and reload."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import structlog.testing
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from monitor.config import load_config
from monitor.daemon import DAEMON
from monitor.server import create_app

ADMIN = "admin-token-for-tests"

PACK = """
provider: local
defaults: {interval: 200ms, timeout: 1s}
checks:
  ping:
    category: retrieval
    http: {path: /ping}
    expect: {body: {ok: true}}
  slow:
    category: latency
    http: {path: /slow}
"""


def _config(tmp_path: Path, base: str, extra: str = "", hang_base: str | None = None) -> Path:
    (tmp_path / "packs").mkdir(exist_ok=True)
    (tmp_path / "packs" / "local.yaml").write_text(PACK)
    hang = f"  stuck:\n    pack: local\n    base_url: {hang_base}\n    timeout: 5s\n" if hang_base else ""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"monitor: {{packs_dir: packs, store: 'sqlite:///{tmp_path}/r.db', admin_token: {ADMIN},"
        f" log_level: error, shutdown_grace: 1s}}\n"
        f"integrations:\n  local:\n    pack: local\n    base_url: {base}\n{extra}{hang}"
    )
    return path


@pytest.fixture
async def provider(aiohttp_server: Any) -> Any:
    async def ping(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(0.01)
        return web.json_response({"ok": True})

    async def hang(_: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/ping", ping)
    app.router.add_get("/slow", slow)
    app.router.add_get("/hang/ping", hang)
    app.router.add_get("/hang/slow", hang)
    server = await aiohttp_server(app, host="127.0.0.1")
    return str(server.make_url("")).rstrip("/")


async def _daemon(path: Path) -> TestClient:
    app = create_app(path, load_config(path))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def _wait_for(pred: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await pred():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_scheduled_checks_reach_metrics_and_api(tmp_path: Path, provider: str) -> None:
    """Within one interval every check has run: success gauges, results and last results show it."""
    client = await _daemon(_config(tmp_path, provider))
    try:
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/readyz")).status == 200
        registry = client.app[DAEMON].metrics.registry
        labels = {"integration": "local", "check": "ping", "category": "retrieval"}
        assert registry.get_sample_value("integration_check_runs_total", {**labels, "outcome": "fail"}) == 0

        async def ran() -> bool:
            return registry.get_sample_value("integration_check_success", labels) == 1

        await _wait_for(ran)
        page = await (
            await client.get("/api/v1/results", params={"integration": "local", "limit": "1"})
        ).json()
        assert page["total"] >= 1 and len(page["results"]) == 1
        integrations = await (await client.get("/api/v1/integrations")).json()
        assert integrations["integrations"][0]["checks"][0]["name"] == "ping"
        text = await (await client.get("/metrics")).text()
        assert 'monitor_build_info{version="' in text and "monitor_schedule_lag_seconds_bucket" in text
    finally:
        await client.close()


async def test_admin_endpoints_need_the_token(tmp_path: Path, provider: str) -> None:
    """Without the admin token POST /api/v1/runs is 401 and nothing runs; with it, checks run now."""
    path = _config(tmp_path, provider)
    client = await _daemon(path)
    try:
        daemon = client.app[DAEMON]
        assert daemon.scheduler is not None
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN}):
            resp = await client.post("/api/v1/runs", json={"wait": True}, headers=headers)
            assert resp.status == 401 and "admin token required" in (await resp.json())["error"]
        resp = await client.post(
            "/api/v1/runs",
            json={"wait": True, "integrations": ["local"]},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert resp.status == 200
        assert {r["check"] for r in (await resp.json())["results"]} == {"ping", "slow"}
        bad = await client.post(
            "/api/v1/runs", json={"integrations": ["nope"]}, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert bad.status == 400 and "unknown integration 'nope'" in (await bad.json())["error"]
    finally:
        await client.close()


async def test_bad_result_filters_are_400s(tmp_path: Path, provider: str) -> None:
    """A bad outcome, a zone-less time or an unknown parameter is a 400 with a reason."""
    client = await _daemon(_config(tmp_path, provider))
    try:
        for params, msg in (
            ({"outcome": "great"}, "outcome must be one of"),
            ({"since": "2026-01-01T00:00:00"}, "needs a time zone"),
            ({"limit": "-1"}, "limit must be an integer"),
            ({"colour": "red"}, "unknown query parameter"),
        ):
            resp = await client.get("/api/v1/results", params=params)
            assert resp.status == 400 and msg in (await resp.json())["error"]
    finally:
        await client.close()


async def test_reload_applies_good_config_and_refuses_broken(tmp_path: Path, provider: str) -> None:
    """A valid edit takes effect; a broken one is refused and the old config keeps running."""
    path = _config(tmp_path, provider)
    client = await _daemon(path)
    auth = {"Authorization": f"Bearer {ADMIN}"}
    try:
        daemon = client.app[DAEMON]
        path.write_text(path.read_text() + "    checks: {slow: {enabled: false}}\n")
        resp = await client.post("/api/v1/reload", headers=auth)
        assert resp.status == 200 and [c.name for c in daemon.config.checks] == ["ping"]
        path.write_text(path.read_text().replace("interval: 200ms", "interval: 10 sec"))
        (tmp_path / "packs" / "local.yaml").write_text(PACK.replace("interval: 200ms", "interval: 10 sec"))
        resp = await client.post("/api/v1/reload", headers=auth)
        body = await resp.json()
        assert resp.status == 400 and "invalid duration '10 sec'" in body["issues"][0]
        assert daemon.metrics.registry.get_sample_value("monitor_config_reload_success") == 0
        assert [c.name for c in daemon.config.checks] == ["ping"]
    finally:
        await client.close()


async def test_hanging_provider_does_not_delay_others(tmp_path: Path, provider: str) -> None:
    """While one integration hangs, the other keeps its schedule: its checks keep passing, lag stays low."""
    client = await _daemon(_config(tmp_path, provider, hang_base=f"{provider}/hang"))
    try:
        registry = client.app[DAEMON].metrics.registry
        labels = {"integration": "local", "check": "ping", "category": "retrieval", "outcome": "pass"}

        async def several() -> bool:
            return (registry.get_sample_value("integration_check_runs_total", labels) or 0) >= 5

        await _wait_for(several, timeout=4)
        stuck = {"integration": "stuck", "check": "ping", "category": "retrieval", "outcome": "pass"}
        assert registry.get_sample_value("integration_check_runs_total", stuck) == 0
        lag = "monitor_schedule_lag_seconds"
        lag_over_100ms = registry.get_sample_value(f"{lag}_bucket", {"integration": "local", "le": "0.1"})
        total = registry.get_sample_value(f"{lag}_count", {"integration": "local"})
        assert total and lag_over_100ms == total
    finally:
        await client.close()


async def test_shutdown_flushes_every_completed_result(tmp_path: Path, provider: str) -> None:
    """Closing the daemon stores every result it reported: the store holds all counted runs."""
    path = _config(tmp_path, provider)
    client = await _daemon(path)
    registry = client.app[DAEMON].metrics.registry
    await asyncio.sleep(0.6)
    await client.close()
    counted = sum(
        registry.get_sample_value(
            "integration_check_runs_total",
            {"integration": "local", "check": c, "category": cat, "outcome": o},
        )
        or 0
        for c, cat in (("ping", "retrieval"), ("slow", "latency"))
        for o in ("pass", "fail", "error", "skipped")
    )
    from monitor.store import Store

    store = await Store.open(f"sqlite:///{tmp_path}/r.db")
    assert counted > 0 and await store.count() == counted
    await store.close()


async def test_periodic_verdicts_equal_the_full_assessment(tmp_path: Path, provider: str) -> None:
    """The assess loop's light refresh (no document) sets the verdict and score gauges exactly as a
    full assessment does, and leaves the document to be built when /report asks."""
    client = await _daemon(_config(tmp_path, provider))
    try:
        daemon = client.app[DAEMON]
        assert daemon.scheduler is not None
        for _ in range(3):
            await daemon.scheduler.trigger(daemon.config.checks)
        assert daemon.engine is not None
        store = daemon.engine.store

        async def stored() -> bool:  # the sink writes in batches, a moment after the runs end
            return await store.count() >= 6

        await _wait_for(stored)
        registry = daemon.metrics.registry

        def gauges() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            wanted = ("integration_verdict", "integration_readiness_score", "integration_claim_contradicted")
            return {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for m in registry.collect()
                for s in m.samples
                if s.name in wanted
            }

        daemon.readiness = None
        await daemon.refresh_verdicts()
        light = gauges()
        assert daemon.readiness is None  # no document built
        await daemon.assess()
        assert gauges() == light
        assert light[("integration_verdict", (("integration", "local"), ("verdict", "ready")))] == 1
    finally:
        await client.close()


async def test_a_report_dir_that_cannot_be_written_does_not_fail_the_readiness_api(
    tmp_path: Path, provider: str
) -> None:
    """With monitor.report_dir unwritable, /api/v1/readiness still answers with the judgement and
    the failed write is logged as an error."""
    (tmp_path / "blocked").write_text("a file where the report directory should be")
    path = _config(tmp_path, provider)
    path.write_text(
        path.read_text().replace("shutdown_grace: 1s}", "shutdown_grace: 1s, report_dir: blocked}")
    )
    with structlog.testing.capture_logs() as logged:  # the assess loop writes too, from the start
        client = await _daemon(path)
        try:
            resp = await client.get("/api/v1/readiness")
            doc = await resp.json()
        finally:
            await client.close()
    assert resp.status == 200 and [i["name"] for i in doc["integrations"]] == ["local"]
    failed = [e for e in logged if e["event"] == "report_write_failed"]
    assert failed and failed[0]["log_level"] == "error" and "blocked" in failed[0]["report_dir"]
