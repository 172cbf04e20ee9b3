"""Run the real daemon (create_app + its cleanup_ctx lifecycle: engine, store, scheduler, result
sink, metrics, readiness loop, JSON logs) on a generated workload for a bounded time, in its own
process, and print what it measured as one JSON object on stdout.

A process of its own so that its CPU time and RSS are the daemon's alone. Logs go to stderr, which
the parent sends to a file: rendering them is part of a check's cost, as it is in production.

Modes:
  load  run N checks for warmup+duration seconds: CPU per check, checks/s, schedule lag, the
        cost of one readiness assessment, and each stored result's duration_s by run_id (the
        parent joins them with the target's true hold times)
  rss   start N checks on a long interval and report resident memory once settled

`--without` switches parts off by monkeypatching (never by editing monitor/), so the CPU a part
costs per check can be read as the difference between two runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from benchlib import percentile, pid_cpu_s, rss_mb, self_cpu_s, write_workload

from monitor import daemon as daemon_module
from monitor import logs, runtime
from monitor.config import load_config
from monitor.daemon import DAEMON, Daemon
from monitor.metrics import Metrics
from monitor.model import CheckResult
from monitor.scrub import Scrubber
from monitor.server import create_app
from monitor.store import ResultQuery, Store

PARTS = ("readiness", "logs", "store", "metrics")
COMPLETED: Counter[str] = Counter()
ASSESS_S: list[float] = []  # wall time of each readiness assessment the daemon made
# (start, end, kind) of everything that may hold the event loop: assessments, scrapes, GC pauses
STALLS: list[tuple[float, float, str]] = []
BATCHES: list[int] = []  # size of each batch the result sink wrote
GC_S = [0.0, 0.0, 0.0]  # time in the garbage collector, by generation


def _time_gc() -> None:
    """Collector pauses run on the event loop too; cProfile would charge them to whatever ran."""
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            now = time.perf_counter()
            GC_S[info["generation"]] += now - started[0]
            if now - started[0] > 0.002:
                STALLS.append((started[0], now, f"GC pause, generation {info['generation']}"))

    gc.callbacks.append(callback)


def _count_batches() -> None:
    """The sink writes what has queued up since its last write: the batch size sets the cost."""
    write = Store.write

    async def counting(self: Store, results: Any) -> None:
        BATCHES.append(len(results))
        await write(self, results)

    Store.write = counting  # type: ignore[method-assign]


def _time_assessments() -> None:
    """Time Daemon.assess and Daemon.refresh_verdicts (what the assess loop runs without a
    report_dir): their work shares the event loop with every check due meanwhile."""

    def wrap(method: Any) -> Any:
        async def timed(self: Daemon) -> Any:
            t0 = time.perf_counter()
            try:
                return await method(self)
            finally:
                ASSESS_S.append(time.perf_counter() - t0)
                STALLS.append((t0, time.perf_counter(), "readiness assessment"))

        return timed

    Daemon.assess = wrap(Daemon.assess)  # type: ignore[method-assign]
    Daemon.refresh_verdicts = wrap(Daemon.refresh_verdicts)  # type: ignore[method-assign]


def _count_completed() -> None:
    """Count every result the sink hands on (after the store has it), by outcome."""
    remember = Daemon.remember

    def counting(self: Daemon, result: CheckResult) -> None:
        COMPLETED[result.outcome.value] += 1
        remember(self, result)

    Daemon.remember = counting  # type: ignore[method-assign]


def switch_off(parts: set[str]) -> None:
    """Ablation: replace a part of the daemon with a no-op (diagnosis only)."""

    async def idle(*_: Any, **__: Any) -> None:
        await asyncio.Event().wait()

    async def nothing(*_: Any, **__: Any) -> None:
        return None

    if "readiness" in parts:
        daemon_module._assess_loop = idle  # type: ignore[assignment]
    if "store" in parts:
        Store.write = nothing  # type: ignore[method-assign,assignment]
    if "metrics" in parts:
        Metrics.observe = lambda self, result: None  # type: ignore[method-assign]


class LagRecorder:
    """Wraps `Metrics.observe_lag`: every value is kept raw, and still reaches the histogram."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._observe = metrics.observe_lag
        self.values: list[float] = []
        self.times: list[float] = []  # perf_counter when each late start happened

    def __call__(self, integration: str, seconds: float) -> None:
        self.values.append(seconds)
        self.times.append(time.perf_counter())
        self._observe(integration, seconds)


@dataclass
class LoadResult:
    checks: int
    without: list[str]
    window_s: float
    runs: int
    cpu_s: float
    cpu_per_check_us: float
    checks_per_s: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    lag_hist_p99_le_ms: float
    lag_over_5ms: dict[str, int]
    gc_s: list[float]
    store_batches: int
    store_batch_mean: float
    scrapes: int
    scrape_s: float
    scrape_bytes: int
    assessments: list[float]
    outcomes: dict[str, int]
    config_load_s: float
    threads: dict[str, float]
    assess_s: float
    assess_rows: int
    durations: dict[str, float]


def thread_cpu() -> dict[str, float]:
    """CPU seconds per thread: the event loop (main thread) apart from aiosqlite's worker and
    the executor threads, which a profile of the main thread does not see."""
    main = os.getpid()
    loop_key, other_key = "event loop (main thread)", "other threads (aiosqlite, executor)"
    out = {loop_key: 0.0, other_key: 0.0}
    for task in Path(f"/proc/{main}/task").iterdir():
        try:
            cpu = pid_cpu_s(f"{main}/task/{task.name}")
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        out[loop_key if int(task.name) == main else other_key] += cpu
    return out


def lag_causes(values: list[float], times: list[float], threshold: float) -> dict[str, int]:
    """Late starts over `threshold`, by what held the loop longest while the check waited: a
    readiness assessment, the /metrics scrape, a GC pause, or nothing recorded (a busy loop)."""
    out: Counter[str] = Counter()
    for lag, at in zip(values, times, strict=True):
        if lag <= threshold:
            continue
        overlap: Counter[str] = Counter()
        for start, end, kind in STALLS:
            overlap[kind] += max(0.0, min(end, at) - max(start, at - lag))
        kind, held = overlap.most_common(1)[0] if overlap else ("", 0.0)
        out[kind if held >= 0.25 * lag else "nothing recorded (a busy event loop)"] += 1
    return dict(out.most_common())


def hist_p99_bound(metrics: Metrics) -> float:
    """The p99 as Prometheus would bound it: the first lag bucket holding 99% of observations."""
    buckets: dict[float, float] = {}
    for m in metrics.registry.collect():
        for s in m.samples:
            if s.name == "monitor_schedule_lag_seconds_bucket":
                le = float(s.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + s.value
    total = buckets.get(float("inf"), 0.0)
    for le in sorted(buckets):
        if total and buckets[le] >= 0.99 * total:
            return le
    return float("nan")


async def start_daemon(
    config_path: Path, *, log_level: str | None = None
) -> tuple[web.AppRunner, Daemon, float]:
    """Load the config and start the app as `atom-monitor serve` does (minus signals and the
    fixed port). The lag histogram is wrapped before the scheduler first uses it."""
    t0 = time.perf_counter()
    config = load_config(config_path)
    load_s = time.perf_counter() - t0
    logs.configure(log_level or config.file.monitor.log_level.value, Scrubber(config.secrets))
    app = create_app(config.source, config)
    daemon = app[DAEMON]
    recorder = LagRecorder(daemon.metrics)
    daemon.metrics.observe_lag = recorder  # type: ignore[method-assign]
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, daemon, load_s


async def scrape(runner: web.AppRunner) -> tuple[float, int]:
    """One /metrics scrape; its cost is part of the run.
    Returns (seconds, bytes): the handler renders on the event loop, so its time is lag too."""
    port = runner.addresses[0][1]
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/metrics") as r:
        size = len(await r.read())
    STALLS.append((t0, time.perf_counter(), "/metrics scrape"))
    return time.perf_counter() - t0, size


async def window(runner: web.AppRunner, duration: float, every: float) -> list[tuple[float, int]]:
    """Let the daemon run for `duration`, scraping /metrics every `every` seconds, the first one
    half an interval in (a 15 s window gets one scrape, as from a Prometheus at its default)."""
    start, scrapes, k = time.monotonic(), [], 0
    while (k + 0.5) * every < duration:
        await asyncio.sleep(max(0.0, start + (k + 0.5) * every - time.monotonic()))
        scrapes.append(await scrape(runner))
        k += 1
    await asyncio.sleep(max(0.0, start + duration - time.monotonic()))
    return scrapes


async def timed_assess(daemon: Daemon) -> tuple[float, int]:
    """One periodic readiness assessment (the verdict gauges) over everything stored so far, and
    how many results that was."""
    assert daemon.engine is not None
    rows = await daemon.engine.store.count()
    t0 = time.perf_counter()
    await daemon.refresh_verdicts()
    return time.perf_counter() - t0, rows


async def run_load(args: argparse.Namespace, config_path: Path) -> LoadResult:
    without = set(args.without)
    switch_off(without)
    runner, daemon, load_s = await start_daemon(
        config_path, log_level="warning" if "logs" in without else None
    )
    recorder = daemon.metrics.observe_lag
    assert isinstance(recorder, LagRecorder)
    await asyncio.sleep(args.warmup)
    lag_from, runs0, threads0 = len(recorder.values), COMPLETED.total(), thread_cpu()
    assess_from, batch_from, gc0 = len(ASSESS_S), len(BATCHES), list(GC_S)
    since, cpu0, t0 = datetime.now(UTC), self_cpu_s(), time.monotonic()
    if args.window_marker:  # the parent attaches py-spy to this process now, for the window
        Path(args.window_marker).write_text(str(os.getpid()))
    scrapes = await window(runner, args.duration, args.scrape_every)
    cpu1, t1, runs1 = self_cpu_s(), time.monotonic(), COMPLETED.total()
    threads = {k: v - threads0[k] for k, v in thread_cpu().items()}
    lags = recorder.values[lag_from:]
    over_5ms = lag_causes(lags, recorder.times[lag_from:], 0.005)
    assessments = ASSESS_S[assess_from:]
    batches = BATCHES[batch_from:]
    gc_s = [b - a for a, b in zip(gc0, GC_S, strict=True)]
    hist_p99 = hist_p99_bound(daemon.metrics)
    assess_s, assess_rows = await timed_assess(daemon) if "store" not in without else (float("nan"), 0)
    store_url = daemon.config.file.monitor.store
    await runner.cleanup()
    runs = runs1 - runs0
    return LoadResult(
        checks=args.checks,
        without=sorted(without),
        window_s=t1 - t0,
        runs=runs,
        cpu_s=cpu1 - cpu0,
        cpu_per_check_us=(cpu1 - cpu0) / runs * 1e6 if runs else float("nan"),
        checks_per_s=runs / (t1 - t0),
        lag_p50_ms=percentile(lags, 50) * 1000,
        lag_p99_ms=percentile(lags, 99) * 1000,
        lag_max_ms=max(lags, default=float("nan")) * 1000,
        lag_hist_p99_le_ms=hist_p99 * 1000,
        lag_over_5ms=over_5ms,
        gc_s=gc_s,
        store_batches=len(batches),
        store_batch_mean=sum(batches) / len(batches) if batches else float("nan"),
        scrapes=len(scrapes),
        scrape_s=sum(t for t, _ in scrapes),
        scrape_bytes=max((b for _, b in scrapes), default=0),
        assessments=assessments,
        outcomes=dict(COMPLETED),
        config_load_s=load_s,
        threads=threads,
        assess_s=assess_s,
        assess_rows=assess_rows,
        durations=await stored_durations(store_url, since) if "store" not in without else {},
    )


async def stored_durations(store_url: str, since: datetime) -> dict[str, float]:
    """run_id -> duration_s as the store has it: the figure reports and Grafana are built from."""
    store = await Store.open(store_url)
    try:
        results = await store.query(ResultQuery(since=since, limit=10_000_000))
    finally:
        await store.close()
    return {r.run_id: r.duration_s for r in results}


async def run_rss(args: argparse.Namespace, config_path: Path) -> dict[str, Any]:
    base_rss, _ = rss_mb()
    runner, daemon, load_s = await start_daemon(config_path)
    after_start_rss, _ = rss_mb()
    await asyncio.sleep(args.duration)
    rss, hwm = rss_mb()
    out = {
        "checks": args.checks,
        "configured": len(daemon.config.checks),
        "tasks": len(asyncio.all_tasks()),
        "base_rss_mb": base_rss,
        "after_start_rss_mb": after_start_rss,
        "rss_mb": rss,
        "hwm_mb": hwm,
        "config_load_s": load_s,
        "runs": COMPLETED.total(),
    }
    await runner.cleanup()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("load", "rss"))
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--target", required=True, help="base URL of bench/target.py")
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=12.0)
    parser.add_argument("--scrape-every", type=float, default=15.0, help="seconds between /metrics scrapes")
    parser.add_argument(
        "--window-marker", help="write this process's pid to this file when the measured window starts"
    )
    parser.add_argument(
        "--without",
        type=lambda s: [p for p in s.split(",") if p],
        default=[],
        help=f"switch parts off for an ablation run: {','.join(PARTS)}",
    )
    args = parser.parse_args()
    if unknown := set(args.without) - set(PARTS):
        parser.error(f"--without: unknown parts {sorted(unknown)}")
    _count_completed()
    _time_assessments()
    _count_batches()
    _time_gc()
    config_path = write_workload(
        args.workdir,
        checks=args.checks,
        base_url=args.target,
        interval=args.interval,
        delay_ms=args.delay_ms,
        concurrency=args.concurrency,
    )
    # The loop and interpreter settings `atom-monitor serve` runs with (monitor/runtime.py).
    runtime.tune_for_daemon()
    with asyncio.Runner(loop_factory=runtime.loop_factory()) as runner:
        if args.mode == "load":
            result: Any = asdict(runner.run(run_load(args, config_path)))
        else:
            result = runner.run(run_rss(args, config_path))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
