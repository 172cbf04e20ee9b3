"""The scheduler: each check on its own interval, spread over it so checks do not fire in
bursts, one run in flight per check, within a global and a per-integration concurrency limit.

Results go through the `ResultSink`, which writes them to the store *before* metrics and logs
see them: what a dashboard shows has always been persisted first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import structlog

from monitor.budget import Budgets
from monitor.config import Config, ResolvedCheck
from monitor.metrics import Metrics
from monitor.model import CheckResult, Outcome
from monitor.probes import ProbeContext
from monitor.runner import new_run_id, run_check
from monitor.store import Store

log = structlog.get_logger("monitor.scheduler")


class ResultSink:
    """Batches results into store transactions; then updates metrics and logs them."""

    # A transaction costs about a millisecond of CPU whatever its size: let results gather for a
    # moment rather than write one row per transaction (bench/README.md measured 1.4 per batch).
    LINGER_S = 0.05
    MAX_BATCH = 500

    def __init__(
        self, store: Store, metrics: Metrics, on_stored: Callable[[CheckResult], None] | None = None
    ):
        self._store = store
        self._metrics = metrics
        # None is the end of the stream: everything before it is written, then run() returns.
        self._queue: asyncio.Queue[CheckResult | None] = asyncio.Queue()
        self._on_stored = on_stored

    def put(self, result: CheckResult) -> None:
        self._queue.put_nowait(result)

    async def run(self) -> None:
        """Write batches until close(); never cancelled mid-transaction (that loses rows and can
        leave SQLite locked), so shutdown drains instead."""
        while True:
            first = await self._queue.get()
            if first is None:
                return
            await asyncio.sleep(self.LINGER_S)
            batch, done = [first], False
            while not self._queue.empty() and len(batch) < self.MAX_BATCH:
                item = self._queue.get_nowait()
                if item is None:
                    done = True
                    break
                batch.append(item)
            await self._write(batch)
            if done:
                await self._drain()
                return

    def close(self) -> None:
        """End the stream: run() writes what is queued, then returns."""
        self._queue.put_nowait(None)

    async def _drain(self) -> None:
        batch = [r for r in _take_all(self._queue) if r is not None]
        for start in range(0, len(batch), self.MAX_BATCH):
            await self._write(batch[start : start + self.MAX_BATCH])

    async def flush(self) -> None:
        """Write whatever is queued now (for a sink whose run() is not running)."""
        await self._drain()

    async def _write(self, batch: list[CheckResult]) -> None:
        try:
            await self._store.write(batch)
        except Exception:
            # The store is down: keep the results (metrics and logs) rather than drop them silently.
            log.exception("store_write_failed", results=len(batch))
        for r in batch:
            self._metrics.observe(r)
            if self._on_stored is not None:
                self._on_stored(r)
            log.info(
                "check_run",
                integration=r.integration,
                check=r.check,
                category=r.category.value,
                outcome=r.outcome.value,
                duration_s=round(r.duration_s, 4),
                http_status=r.http_status,
                attempts=r.attempts,
                reason=r.reason,
                run_id=r.run_id,
            )


def _take_all(queue: asyncio.Queue[CheckResult | None]) -> list[CheckResult | None]:
    out: list[CheckResult | None] = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


def spread_offset(check: ResolvedCheck) -> float:
    """A stable position within the interval: the same check fires at the same phase every time."""
    digest = hashlib.blake2b(check.key.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32 * check.interval


class Scheduler:
    def __init__(
        self,
        config: Config,
        make_ctx: Callable[[ResolvedCheck, str], ProbeContext],
        sink: ResultSink,
        metrics: Metrics,
    ) -> None:
        self.config = config
        self._make_ctx = make_ctx
        self._sink = sink
        self._metrics = metrics
        self.budgets = Budgets()
        self._global = asyncio.Semaphore(config.file.monitor.concurrency)
        self._per: dict[str, asyncio.Semaphore] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._inflight: set[asyncio.Task[CheckResult | None]] = set()
        self._stopping = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._metrics.declare(self.config.checks)
        start = time.monotonic()
        for check in self.config.checks:
            self._loops[check.key] = asyncio.create_task(self._loop(check, start), name=f"check:{check.key}")

    async def replace(self, config: Config) -> None:
        """Swap in a new config: old loops stop between runs (in-flight runs finish and are
        stored), new ones start at once."""
        old = list(self._loops.values())
        self._loops.clear()
        for task in old:
            task.cancel()
        self.config = config
        self._per.clear()
        self.start()

    async def stop(self, grace: float) -> None:
        """Stop scheduling, give in-flight runs `grace` seconds, then cancel what is left."""
        self._stopping.set()
        for task in self._loops.values():
            task.cancel()
        if self._inflight:
            _, pending = await asyncio.wait(self._inflight, timeout=grace)
            for run in pending:
                run.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.gather(*self._loops.values(), return_exceptions=True)

    # ------------------------------------------------------------------ running

    async def trigger(self, checks: Iterable[ResolvedCheck]) -> list[CheckResult]:
        """An immediate run outside the schedule (POST /api/v1/runs); same limits apply."""
        run_id = new_run_id()
        results = await asyncio.gather(*(self._run(c, run_id, scheduled_at=None) for c in checks))
        return [r for r in results if r is not None]

    async def _loop(self, check: ResolvedCheck, start: float) -> None:
        next_at = start + spread_offset(check)
        while not self._stopping.is_set():
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._run(check, new_run_id(), scheduled_at=next_at)
            next_at += check.interval
            now = time.monotonic()
            if next_at < now:  # we fell behind (a long hang): skip missed slots, keep the phase
                next_at += ((now - next_at) // check.interval + 1) * check.interval

    async def _run(self, check: ResolvedCheck, run_id: str, scheduled_at: float | None) -> CheckResult | None:
        # The run is its own task so that stop() can wait for it while the loop is cancelled.
        task = asyncio.create_task(self._guarded(check, run_id, scheduled_at))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    async def _guarded(
        self, check: ResolvedCheck, run_id: str, scheduled_at: float | None
    ) -> CheckResult | None:
        lock = self._locks.setdefault(check.key, asyncio.Lock())
        per = self._per.setdefault(
            check.integration, asyncio.Semaphore(self.config.file.monitor.per_integration_concurrency)
        )
        integ = self.config.integrations.get(check.integration)
        if integ is None:
            return None
        async with lock, per, self._global:
            if scheduled_at is not None:
                self._metrics.observe_lag(check.integration, max(0.0, time.monotonic() - scheduled_at))
            refusal = self.budgets.refusal(check, integ)
            if refusal is not None:
                result = _result(check, run_id, Outcome.SKIPPED, f"not called: {refusal}")
            else:
                self.budgets.spend(check, integ)
                ctx = self._make_ctx(check, run_id)
                try:
                    result = await run_check(check, ctx, retries=self.config.file.monitor.retries)
                except asyncio.CancelledError:
                    # Shutdown outlasted the grace period: record that, rather than lose the run.
                    self._sink.put(_result(check, run_id, Outcome.ERROR, "cancelled: the monitor shut down"))
                    raise
                self.budgets.observe(integ, result.ratelimit)
        self._sink.put(result)
        return result


def _result(check: ResolvedCheck, run_id: str, outcome: Outcome, reason: str) -> CheckResult:
    return CheckResult(
        run_id=run_id,
        integration=check.integration,
        check=check.name,
        category=check.category,
        outcome=outcome,
        started_at=datetime.now(UTC),
        duration_s=0.0,
        reason=reason,
    )


async def cancel_quietly(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
