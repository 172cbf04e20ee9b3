"""CPU per check of each synchronous part of a check's path, measured one at a time in a loop.

The load run gives the total; this says what it is made of, without a profiler's overhead or the
noise of a shared machine: each part is called many times on a real response and a real result
(from the generated workload) and timed with process CPU time. What is left of the load run's
figure after these parts is the event loop, the scheduler (timers, admission, a task per run)
and aiohttp.

Usage: python bench/components.py --workdir DIR [--checks 1000] [--rows 20000]
Prints one JSON object: part -> µs (per check, per result, or per stored result as named).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchlib import write_workload

from monitor import daemon, logs, reporting, runner
from monitor.config import Config, load_config
from monitor.config.models import RequestSpec
from monitor.metrics import Metrics
from monitor.model import CheckResult, Findings
from monitor.probes.context import Exchange, ProbeContext
from monitor.probes.expect import evaluate
from monitor.probes.schemas import SchemaCache
from monitor.scrub import Scrubber
from monitor.sink import ResultSink
from monitor.store import Store
from monitor.template import render

BODY = '{"ok": true, "service": "bench-target"}'
HEADERS = {"Content-Type": "application/json", "Content-Length": "39", "X-Hold-Us": "50123"}


def per_call_us(fn: Callable[[], object], min_s: float = 0.25) -> float:
    """CPU µs per call: repeat in growing batches until `min_s` of CPU has been spent."""
    n, spent = 1, 0.0
    while spent < min_s:
        n *= 4
        t0 = time.process_time()
        for _ in range(n):
            fn()
        spent = time.process_time() - t0
    return spent / n * 1e6


async def per_call_us_async(fn: Callable[[], Any], calls: int) -> float:
    t0 = time.process_time()
    for _ in range(calls):
        await fn()
    return (time.process_time() - t0) / calls * 1e6


def context(config: Config, run_id: str) -> ProbeContext:
    integ = next(iter(config.integrations.values()))
    return ProbeContext(
        session=None,  # type: ignore[arg-type]
        http=None,  # type: ignore[arg-type]
        integration=integ,
        run_id=run_id,
        scrubber=Scrubber(config.secrets),
    )


def exchange(ctx: ProbeContext) -> Exchange:
    url = f"{ctx.integration.base_url}/delay?ms=50&id={ctx.run_id}&c=1"
    return Exchange("GET", url, "/delay", None, 200, HEADERS, BODY, json.loads(BODY), True, False)


async def one_result(config: Config, ctx: ProbeContext, findings: Findings) -> CheckResult:
    """A real CheckResult: run_check around a probe that returns canned findings at once."""
    original = runner.PROBES

    async def canned(*_: Any) -> Findings:
        return findings

    runner.PROBES = {config.checks[0].kind: canned}  # type: ignore[assignment]
    try:
        return await runner.run_check(config.checks[0], ctx)
    finally:
        runner.PROBES = original


def render_request(spec: RequestSpec, variables: dict[str, Any]) -> object:
    """What `send` renders before each request."""
    return render(spec.path, variables), render(spec.query, variables), render(spec.headers, variables)


def probe_parts(config: Config, ctx: ProbeContext) -> dict[str, float]:
    check = config.checks[0]
    ex = exchange(ctx)
    schemas = SchemaCache()
    schemas.errors(check.spec.expect.schema_ or {}, ex.body)
    schemas.settle()  # the daemon compiles each schema once, on a worker thread
    variables = ctx.variables()
    spec = check.spec.http
    assert spec is not None

    def assertions() -> object:
        return evaluate(
            check.spec.expect,
            status=200,
            headers=ex.headers,
            body=ex.body,
            body_is_json=True,
            variables=variables,
            schemas=schemas,
        )

    return {
        "run id": per_call_us(runner.new_run_id),
        "template render (path, query, headers)": per_call_us(lambda: render_request(spec, variables)),
        "json.loads of the body": per_call_us(lambda: json.loads(BODY)),
        "assertions (evaluate: status, schema, body, header)": per_call_us(assertions),
        "evidence (headers, scrubbed URL and body)": per_call_us(lambda: ctx.evidence(ex)),
        "one Scrubber.text call": per_call_us(lambda: ctx.scrubber.text("body matches schema")),
    }


async def result_parts(config: Config, ctx: ProbeContext, workdir: Path) -> dict[str, float]:
    """run_check's own work, then what the sink does with the result: store, metrics, log."""
    ex = exchange(ctx)
    check = config.checks[0]
    findings = Findings(
        assertions=tuple(
            evaluate(
                check.spec.expect,
                status=200,
                headers=ex.headers,
                body=ex.body,
                body_is_json=True,
                variables=ctx.variables(),
                schemas=SchemaCache(),
            )
        ),
        http_status=200,
        evidence=ctx.evidence(ex),
    )
    result = await one_result(config, ctx, findings)
    metrics = Metrics()
    metrics.declare(config.checks)
    store = await Store.open(f"sqlite:///{workdir / 'components.db'}")
    batch = [result] * 200
    out = {
        "runner around the probe (timeout, judge, scrub assertions, CheckResult)": await per_call_us_async(
            lambda: one_result(config, ctx, findings), 3000
        ),
        "store write, batches of 1 (per result)": await per_call_us_async(
            lambda: store.write(batch[:1]), 300
        ),
        "store write, batches of 10 (per result)": await per_call_us_async(
            lambda: store.write(batch[:10]), 100
        )
        / 10,
        "store write, batches of 200 (per result)": await per_call_us_async(lambda: store.write(batch), 30)
        / 200,
        "metrics observe": per_call_us(lambda: metrics.observe(result)),
        "log line (structlog JSON, scrubbed)": log_line_us(config, result),
    }
    sink = ResultSink(store, metrics)
    out["result sink, all of it (store + metrics + log, batches of 200)"] = await sink_us(
        sink, result, config
    )
    await store.close()
    return out


def log_line_us(config: Config, result: CheckResult) -> float:
    """The sink's `check_run` line, rendered and written (to a buffer, not a terminal)."""
    import structlog

    log = structlog.get_logger("bench")
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        logs.configure("info", Scrubber(config.secrets))

        def line() -> None:
            log.info("check_run", **logs.check_run_fields(result))
            buf.seek(0)
            buf.truncate()

        return per_call_us(line)


async def sink_us(sink: ResultSink, result: CheckResult, config: Config) -> float:
    with contextlib.redirect_stderr(io.StringIO()):
        logs.configure("info", Scrubber(config.secrets))
        t0 = time.process_time()
        for _ in range(20):
            await sink._write([result] * 200)
        return (time.process_time() - t0) / 4000 * 1e6


async def scrape_us(config: Config, result: CheckResult) -> tuple[float, int]:
    """Rendering /metrics once as the route does (Metrics.render_text), per configured check
    (every check observed once)."""
    metrics = Metrics()
    metrics.declare(config.checks)
    for c in config.checks:
        metrics.observe(_as(result, c.integration, c.name))
    t0 = time.process_time()
    size = len(await metrics.render_text())
    return (time.process_time() - t0) / len(config.checks) * 1e6, size


def _as(result: CheckResult, integration: str, check: str, **changes: Any) -> CheckResult:
    return dataclasses.replace(result, integration=integration, check=check, **changes)


async def readiness_us(config: Config, result: CheckResult, rows: int, workdir: Path) -> dict[str, float]:
    """One readiness assessment as the daemon's assess loop makes it (reporting.verdicts_from_store:
    the window's aggregates in SQL, a few results per check without their detail, the verdicts;
    no document). Process CPU time, so
    SQLite's work in aiosqlite's thread counts too. Timed over `rows` and 4 x `rows` stored
    results and split into a part per configured check and a part per stored result."""
    first = await _one_assessment(config, result, rows, workdir / "readiness-1.db")
    second = await _one_assessment(config, result, 4 * rows, workdir / "readiness-4.db")
    per_row = max(0.0, (second - first) / (3 * rows))
    per_check = max(0.0, first - per_row * rows) / len(config.checks)
    return {
        "readiness: one assessment, per configured check": per_check * 1e6,
        "readiness: one assessment, per stored result": per_row * 1e6,
    }


async def _one_assessment(config: Config, result: CheckResult, rows: int, db: Path) -> float:
    checks = config.checks
    now = datetime.now(UTC)
    store = await Store.open(f"sqlite:///{db}")
    for start in range(0, rows, 10_000):
        await store.write(
            [
                _as(result, c.integration, c.name, started_at=now - timedelta(seconds=i / 1000))
                for i, c in ((i, checks[i % len(checks)]) for i in range(start, min(rows, start + 10_000)))
            ]
        )
    await reporting.verdicts_from_store(config, store)  # warm: compiled statements, page cache
    t0 = time.process_time()
    await reporting.verdicts_from_store(config, store)
    took = time.process_time() - t0
    await store.close()
    return took


async def measure(workdir: Path, target: str, checks: int, rows: int) -> dict[str, Any]:
    path = write_workload(workdir, checks=checks, base_url=target, interval=1, delay_ms=50, concurrency=200)
    config = load_config(path)
    ctx = context(config, runner.new_run_id())
    parts = probe_parts(config, ctx)
    parts.update(await result_parts(config, ctx, workdir))
    result = await one_result(config, ctx, Findings(assertions=(), http_status=200))
    scrape, size = await scrape_us(config, result)
    parts[
        f"/metrics render, per configured check per scrape ({size / len(config.checks):,.0f} bytes each)"
    ] = scrape
    parts.update(await readiness_us(config, result, rows, workdir))
    return {
        "checks": checks,
        "rows": rows,
        "policy_window_s": config.file.policy.window,
        "assess_interval_s": daemon.assess_interval(config) if hasattr(daemon, "assess_interval") else None,
        "parts_us": parts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--target", default="http://127.0.0.1:9")
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=20000, help="stored results for the readiness figure")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="atom-bench-components-"))
    workdir.mkdir(parents=True, exist_ok=True)
    json.dump(asyncio.run(measure(workdir, args.target, args.checks, args.rows)), sys.stdout)


if __name__ == "__main__":
    main()
