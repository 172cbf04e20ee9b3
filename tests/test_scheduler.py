"""The scheduler against a real HTTP server: limits, one run per check, triggers and stopping."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.config import Config, load_config
from monitor.engine import start_engine
from monitor.metrics import Metrics
from monitor.model import CheckResult, Outcome
from monitor.scheduler import Scheduler, spread_offsets
from monitor.sink import ResultSink


@dataclass
class _Provider:
    """Answers GET /wait/<ms>/<name> after <ms>, counting requests in flight per name."""

    url: str = ""
    now: Counter[str] = field(default_factory=Counter)
    peak: Counter[str] = field(default_factory=Counter)
    served: Counter[str] = field(default_factory=Counter)

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        for key in (name, "*", name.split("-")[0]):
            self.now[key] += 1
            self.peak[key] = max(self.peak[key], self.now[key])
        try:
            await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        finally:
            for key in (name, "*", name.split("-")[0]):
                self.now[key] -= 1
        self.served[name] += 1
        return web.json_response({"ok": True})


@pytest.fixture
async def provider(aiohttp_server: Any) -> _Provider:
    p = _Provider()
    app = web.Application()
    app.router.add_get("/wait/{ms}/{name}", p.handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    p.url = str(server.make_url("")).rstrip("/")
    return p


def _config(
    tmp: Path, base: str, checks: dict[str, tuple[str, int]], *, concurrency: int, per: int
) -> Config:
    """`checks`: name -> (interval, delay ms). Integration `a` and `b` each get every check."""
    lines = ["provider: local", "checks:"]
    for name, (interval, ms) in checks.items():
        lines += [
            f"  {name}:",
            "    category: retrieval",
            f"    interval: {interval}",
            "    timeout: 5s",
            f"    http: {{path: '/wait/{ms}/{{{{integration}}}}-{name}'}}",
        ]
    (tmp / "packs").mkdir(exist_ok=True)
    (tmp / "packs" / "local.yaml").write_text("\n".join(lines) + "\n")
    integrations = "".join(
        f"  {i}:\n    pack: local\n    base_url: {base}\n    vars: {{integration: {i}}}\n" for i in ("a", "b")
    )
    path = tmp / "config.yaml"
    path.write_text(
        f"monitor: {{packs_dir: packs, store: 'sqlite:///{tmp}/r.db', concurrency: {concurrency},"
        f" per_integration_concurrency: {per}, log_level: error, retries: 0}}\n"
        f"integrations:\n{integrations}"
    )
    return load_config(path)


@dataclass
class _Running:
    scheduler: Scheduler
    results: list[CheckResult]
    metrics: Metrics


@contextlib.asynccontextmanager
async def _running(config: Config) -> AsyncIterator[_Running]:
    async with start_engine(config) as engine:
        metrics = Metrics()
        results: list[CheckResult] = []
        sink = ResultSink(engine.store, metrics, on_stored=results.append)
        sink_task = asyncio.create_task(sink.run())
        scheduler = Scheduler(engine.config, engine.context, sink, metrics)
        try:
            yield _Running(scheduler, results, metrics)
        finally:
            await scheduler.stop(grace=0.5)
            sink.close()
            await sink_task


async def test_limits_hold_and_every_check_still_runs(tmp_path: Path, provider: _Provider) -> None:
    """With 2 global and 1 per-integration slot, at most 2 requests are out, 1 per integration,
    and every check still gets its run: waiting runs are admitted as slots free."""
    checks = {f"c{i}": ("10s", 60) for i in range(6)}
    config = _config(tmp_path, provider.url, checks, concurrency=2, per=1)
    async with _running(config) as running:
        await asyncio.wait_for(running.scheduler.trigger(config.checks), timeout=10)
    assert provider.peak["*"] == 2
    assert provider.peak["a"] == 1 and provider.peak["b"] == 1
    assert sum(provider.served.values()) == 12


async def test_one_run_in_flight_per_check_and_phase_kept(tmp_path: Path, provider: _Provider) -> None:
    """A check due every 100 ms whose provider takes 250 ms never overlaps itself: missed slots
    are skipped, not queued, so it runs about once per 300 ms rather than piling up."""
    config = _config(tmp_path, provider.url, {"slow": ("100ms", 250)}, concurrency=10, per=10)
    async with _running(config) as running:
        running.scheduler.start()
        await asyncio.sleep(1.3)
    assert provider.peak["a-slow"] == 1 and provider.peak["b-slow"] == 1
    assert 3 <= provider.served["a-slow"] <= 5


async def test_trigger_waits_for_the_check_current_run(tmp_path: Path, provider: _Provider) -> None:
    """A triggered run of a check that is mid-run starts after it, never beside it, and answers."""
    config = _config(tmp_path, provider.url, {"slow": ("10s", 200)}, concurrency=10, per=10)
    (check, *_) = config.checks
    async with _running(config) as running:
        first = asyncio.create_task(running.scheduler.trigger([check]))
        await asyncio.sleep(0.05)
        second = await asyncio.wait_for(running.scheduler.trigger([check]), timeout=5)
        assert [r.outcome for r in second] == [Outcome.PASS]
        assert [r.outcome for r in await first] == [Outcome.PASS]
    assert provider.peak[f"{check.integration}-slow"] == 1
    assert provider.served[f"{check.integration}-slow"] == 2


async def test_stop_records_runs_it_had_to_cancel(tmp_path: Path, provider: _Provider) -> None:
    """A run still out when the grace period ends is cancelled and recorded as an error saying
    why, so shutdown loses no run it started; runs that never got a slot are not invented."""
    config = _config(tmp_path, provider.url, {"hang": ("10s", 5000)}, concurrency=1, per=1)
    async with _running(config) as running:
        trigger = asyncio.create_task(running.scheduler.trigger(config.checks))
        await asyncio.sleep(0.2)
        await running.scheduler.stop(grace=0.1)
        assert await asyncio.wait_for(trigger, timeout=2) == []
    assert [(r.outcome, r.reason) for r in running.results] == [
        (Outcome.ERROR, "cancelled: the monitor shut down")
    ]


async def test_lag_is_observed_per_integration(tmp_path: Path, provider: _Provider) -> None:
    """Scheduled runs (not triggered ones) report how late they started, per integration."""
    config = _config(tmp_path, provider.url, {"quick": ("100ms", 1)}, concurrency=10, per=10)
    async with _running(config) as running:
        running.scheduler.start()
        await asyncio.sleep(0.55)
    registry = running.metrics.registry
    for integration in ("a", "b"):
        count = registry.get_sample_value("monitor_schedule_lag_seconds_count", {"integration": integration})
        assert count is not None and count >= 4


def test_checks_of_one_interval_are_evenly_spread_in_a_stable_order(tmp_path: Path) -> None:
    """Four checks on a 100 ms interval start 25 ms apart, and the same config gives the same
    phases every time, so a check keeps its slot across restarts."""
    config = _config(
        tmp_path, "http://127.0.0.1:1", {f"c{i}": ("100ms", 1) for i in range(2)}, concurrency=1, per=1
    )
    offsets = spread_offsets(config.checks)
    assert sorted(round(v, 6) for v in offsets.values()) == [0.0, 0.025, 0.05, 0.075]
    assert spread_offsets(reversed(config.checks)) == offsets
