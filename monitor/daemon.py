"""The daemon's lifecycle: engine, result sink, scheduler and retention pruning, started and
stopped with aiohttp's `cleanup_ctx`, plus config reload (SIGHUP or POST /api/v1/reload).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from monitor import logs
from monitor.config import Config, ConfigError, load_config
from monitor.engine import Engine, start_engine
from monitor.metrics import Metrics
from monitor.model import CheckResult, Verdict
from monitor.scheduler import Scheduler, cancel_quietly
from monitor.sink import ResultSink

log = structlog.get_logger("monitor.daemon")


@dataclass
class Daemon:
    """Everything the HTTP handlers reach through `request.app[DAEMON]`."""

    config_path: Path
    config: Config
    metrics: Metrics = field(default_factory=Metrics)
    engine: Engine | None = None
    scheduler: Scheduler | None = None
    sink: ResultSink | None = None
    started: bool = False
    latest: dict[str, CheckResult] = field(default_factory=dict)
    last_reload_error: list[str] = field(default_factory=list)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    # The latest readiness document (what /report and /api/v1/readiness serve), and when it was made.
    readiness: dict[str, Any] | None = None
    readiness_at: float = 0.0
    _reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def remember(self, result: CheckResult) -> None:
        self.latest[f"{result.integration}/{result.check}"] = result

    async def assess(self) -> dict[str, Any]:
        """Readiness over the policy window from the store; exported as the verdict gauges."""
        from monitor import reporting  # the report layer sits above the daemon's core

        assert self.engine is not None
        doc = await reporting.from_store(self.config, store=self.engine.store)
        for i in doc["integrations"]:
            self._set_gauges(i["name"], Verdict(i["verdict"]), i["score"], i["claim_contradicted"])
        self.metrics.forget_integrations(set(self.config.integrations))
        self.readiness, self.readiness_at = doc, time.monotonic()
        report_dir = self.config.file.monitor.report_dir
        if report_dir is not None:
            from monitor.report import write

            out_dir = self.config_path.parent / report_dir
            try:
                # Off the event loop: rendering and writing must not delay a scheduled check.
                await asyncio.to_thread(write, doc, out_dir, {"json", "html"})
            except OSError as exc:
                # The judgement stands (gauges, /report, the API); only the files on disk are
                # stale, so say so rather than fail whoever asked for the readiness.
                log.error("report_write_failed", report_dir=str(out_dir), error=str(exc))
        return doc

    async def refresh_verdicts(self) -> None:
        """The verdict gauges alone, judged as assess() judges, without building the document
        (built when /report asks, or by assess() when a report_dir is configured)."""
        from monitor import reporting  # the report layer sits above the daemon's core

        assert self.engine is not None
        assessed = await reporting.verdicts_from_store(self.config, self.engine.store)
        for name, ir in assessed.items():
            self._set_gauges(name, ir.verdict, ir.score, ir.claim_contradicted)
        self.metrics.forget_integrations(set(self.config.integrations))

    def _set_gauges(self, name: str, verdict: Verdict, score: float | None, contradicted: bool) -> None:
        self.metrics.set_verdict(name, verdict, float(score or 0.0))
        self.metrics.claim_contradicted.labels(name).set(1 if contradicted else 0)

    async def current_readiness(self, max_age_s: float = 2.0) -> dict[str, Any]:
        """The cached document while fresh: a dashboard refreshing /report must not re-scan the store."""
        if self.readiness is None or time.monotonic() - self.readiness_at > max_age_s:
            return await self.assess()
        return self.readiness

    async def reload(self) -> list[str]:
        """Load the config file anew. On any mistake keep running the old one; return the issues."""
        async with self._reload_lock:
            try:
                new = load_config(self.config_path)
            except ConfigError as exc:
                self.last_reload_error = [str(i) for i in exc.issues]
                self.metrics.reload_success.set(0)
                log.error("config_reload_failed", issues=self.last_reload_error)
                return self.last_reload_error
            assert self.engine is not None and self.scheduler is not None
            self.engine.adopt(new)
            self.config = self.engine.config
            logs.configure(new.file.monitor.log_level.value, self.engine.scrubber)
            await self.scheduler.replace(self.config)
            keys = {c.key for c in self.config.checks}
            self.latest = {k: v for k, v in self.latest.items() if k in keys}
            self.last_reload_error = []
            self.metrics.reload_success.set(1)
            self.metrics.reload_timestamp.set(time.time())
            log.info("config_reloaded", integrations=len(self.config.integrations), checks=len(keys))
            return []


DAEMON = web.AppKey("daemon", Daemon)


async def lifecycle(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: start everything in order; on shutdown stop scheduling, let in-flight checks
    finish within `shutdown_grace`, flush every result to the store, then close."""
    daemon = app[DAEMON]
    async with AsyncExitStack() as stack:
        engine = await stack.enter_async_context(start_engine(daemon.config))
        daemon.engine, daemon.config = engine, engine.config
        sink = ResultSink(engine.store, daemon.metrics, on_stored=daemon.remember)
        sink_task = asyncio.create_task(sink.run(), name="result-sink")
        scheduler = Scheduler(engine.config, engine.context, sink, daemon.metrics)
        daemon.sink, daemon.scheduler = sink, scheduler
        scheduler.start()
        prune_task = asyncio.create_task(_prune(daemon), name="retention")
        assess_task = asyncio.create_task(_assess_loop(daemon), name="readiness")
        await daemon.assess()  # verdict series exist (as `unknown` at worst) from the first scrape
        # Everything built so far (config, packs, schemas, metrics) lives as long as the daemon:
        # move it out of the collector's sight so full collections stop rescanning it.
        gc.freeze()
        daemon.started = True
        daemon.metrics.reload_timestamp.set(time.time())
        log.info(
            "daemon_started", integrations=len(engine.config.integrations), checks=len(engine.config.checks)
        )
        try:
            yield
        finally:
            daemon.started = False
            grace = daemon.config.file.monitor.shutdown_grace
            log.info("daemon_stopping", grace_s=grace)
            await cancel_quietly(prune_task)
            await cancel_quietly(assess_task)
            await scheduler.stop(grace)
            # Drain, never cancel: a write cancelled mid-transaction loses its rows.
            sink.close()
            try:
                await asyncio.wait_for(sink_task, timeout=max(30.0, grace))
            except TimeoutError:
                log.error("result_sink_stuck", detail="results still queued could not be stored")
            await sink.flush()
            if daemon.config.file.monitor.report_dir is not None:
                try:  # the report on disk ends with every flushed result in it
                    await daemon.assess()
                except Exception:
                    log.exception("final_report_failed")
            log.info("daemon_stopped")


async def _prune(daemon: Daemon) -> None:
    """Delete results older than `monitor.retention`, hourly (and once at start)."""
    while True:
        assert daemon.engine is not None
        retention = daemon.config.file.monitor.retention
        try:
            removed = await daemon.engine.store.prune(datetime.now(UTC) - timedelta(seconds=retention))
        except Exception:
            log.exception("retention_prune_failed")
        else:
            if removed:
                log.info("retention_pruned", removed=removed)
        await asyncio.sleep(min(3600.0, max(60.0, retention / 10)))


def assess_interval(config: Config) -> float:
    """How often verdict gauges are recomputed: as often as the fastest check, within 2..60 s."""
    fastest = min((c.interval for c in config.checks), default=60.0)
    return min(60.0, max(2.0, fastest))


# The database aggregates the whole policy window for readiness, and its time still grows with
# the window (~6 µs a stored result, mostly sorting for exact percentiles): however large the
# store grows, assessments may take at most this share of the daemon's time.
ASSESS_SHARE = 0.05


async def _assess_loop(daemon: Daemon) -> None:
    """Keep integration_verdict, _readiness_score and _claim_contradicted current."""
    cost = 0.0
    while True:
        await asyncio.sleep(max(assess_interval(daemon.config), cost / ASSESS_SHARE))
        started = time.monotonic()
        try:
            if daemon.config.file.monitor.report_dir is not None:
                await daemon.assess()  # the files need the whole document
            else:
                await daemon.refresh_verdicts()
        except Exception:
            log.exception("readiness_assessment_failed")
        cost = time.monotonic() - started
