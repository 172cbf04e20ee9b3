"""The scheduler: each check on its own interval, spread over it so checks do not fire in
bursts, one run in flight per check, within a global and a per-integration concurrency limit.

A check is a timer on the event loop, not a task: a task per check cost 1.4 KB and a
task, a shield, a lock and two semaphores per run cost ~275 µs of CPU (bench/README.md). Here a
due check is admitted by counting slots; only a run that actually goes out becomes a task, and
a run that must wait for a slot waits in a queue, not in a coroutine.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import structlog

from monitor.budget import Budgets
from monitor.config import Config, ResolvedCheck
from monitor.metrics import Metrics
from monitor.model import CheckResult, Outcome
from monitor.probes import ProbeContext
from monitor.runner import new_run_id, run_check
from monitor.sink import ResultSink

log = structlog.get_logger("monitor.scheduler")
T = TypeVar("T")


def spread_offsets(checks: Iterable[ResolvedCheck]) -> dict[str, float]:
    """Each check's phase within its interval: checks of one interval evenly spaced over it, in
    an order fixed by a hash of their keys. Hashed phases alone clump as random arrivals do
    (at 1,000 checks/s, bursts of several per millisecond beside idle gaps), and the bursts are
    what made checks start late (bench/README.md); even spacing offers the loop one at a time."""
    by_interval: dict[float, list[ResolvedCheck]] = {}
    for check in checks:
        by_interval.setdefault(check.interval, []).append(check)
    offsets = {}
    for interval, group in by_interval.items():
        group.sort(key=_phase_key)
        for i, check in enumerate(group):
            offsets[check.key] = i / len(group) * interval
    return offsets


def _phase_key(check: ResolvedCheck) -> bytes:
    return hashlib.blake2b(check.key.encode(), digest_size=8).digest()


@dataclass(slots=True)
class _Run:
    check: ResolvedCheck
    run_id: str
    scheduled_at: float | None  # time.monotonic() it was due; None for a triggered run
    done: asyncio.Future[CheckResult | None] | None  # only a triggered run has a waiter


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
        self._loop = asyncio.get_running_loop()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        # Check key -> futures of triggered runs waiting for this check's current run to end.
        self._busy: dict[str, list[asyncio.Future[None]]] = {}
        self._waiting: deque[_Run] = deque()
        self._active = 0
        self._active_per: Counter[str] = Counter()
        self._inflight: set[asyncio.Task[CheckResult | None]] = set()
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._metrics.declare(self.config.checks)
        start = time.monotonic()
        offsets = spread_offsets(self.config.checks)
        for check in self.config.checks:
            self._arm(check, start + offsets[check.key])

    async def replace(self, config: Config) -> None:
        """Swap in a new config: old timers stop (in-flight runs finish and are stored), new
        ones start at once."""
        self._disarm()
        self.config = config
        self.start()

    async def stop(self, grace: float) -> None:
        """Stop scheduling, give in-flight runs `grace` seconds, then cancel what is left."""
        self._stopping = True
        self._disarm()
        while self._waiting:  # never started: nothing to record, but a waiter gets its answer
            _resolve(self._waiting.popleft().done, None)
        if self._inflight:
            _, pending = await asyncio.wait(self._inflight, timeout=grace)
            for run in pending:
                run.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # ------------------------------------------------------------------ scheduling

    def _arm(self, check: ResolvedCheck, due: float) -> None:
        # Due times are kept on time.monotonic(): the lag we report is measured on that clock,
        # whatever resolution the event loop's own timers have.
        self._timers[check.key] = self._loop.call_at(
            self._loop.time() + (due - time.monotonic()), self._fire, check, due
        )

    def _disarm(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    def _fire(self, check: ResolvedCheck, due: float) -> None:
        now = time.monotonic()
        following = due + check.interval
        if following <= now:  # the loop fell far behind: skip missed slots, keep the phase
            following += ((now - following) // check.interval + 1) * check.interval
        self._arm(check, following)
        if check.key in self._busy:
            return  # its previous run is still going: one run in flight per check
        self._submit(_Run(check, new_run_id(), due, None))

    async def trigger(self, checks: Iterable[ResolvedCheck]) -> list[CheckResult]:
        """An immediate run outside the schedule (POST /api/v1/runs); same limits apply."""
        run_id = new_run_id()
        results = await asyncio.gather(*(self._triggered(c, run_id) for c in checks))
        return [r for r in results if r is not None]

    async def _triggered(self, check: ResolvedCheck, run_id: str) -> CheckResult | None:
        while check.key in self._busy:  # after the check's current run, never beside it
            turn: asyncio.Future[None] = self._loop.create_future()
            self._busy[check.key].append(turn)
            await turn
        if self._stopping:
            return None
        done: asyncio.Future[CheckResult | None] = self._loop.create_future()
        self._submit(_Run(check, run_id, None, done))
        return await done

    # ------------------------------------------------------------------ admission

    def _submit(self, run: _Run) -> None:
        self._busy[run.check.key] = []
        if self._admissible(run.check.integration):
            self._start(run)
        else:
            self._waiting.append(run)

    def _admissible(self, integration: str) -> bool:
        monitor = self.config.file.monitor
        return (
            self._active < monitor.concurrency
            and self._active_per[integration] < monitor.per_integration_concurrency
        )

    def _start(self, run: _Run) -> None:
        integration = run.check.integration
        self._active += 1
        self._active_per[integration] += 1
        task = self._loop.create_task(self._execute(run))
        self._inflight.add(task)
        task.add_done_callback(lambda t: self._finished(run, t))

    def _finished(self, run: _Run, task: asyncio.Task[CheckResult | None]) -> None:
        self._inflight.discard(task)
        self._active -= 1
        self._active_per[run.check.integration] -= 1
        for turn in self._busy.pop(run.check.key, []):
            _resolve(turn, None)
        result = None
        if not task.cancelled():
            if (exc := task.exception()) is not None:
                log.error(
                    "check_run_crashed",
                    integration=run.check.integration,
                    check=run.check.name,
                    error=repr(exc),
                )
            else:
                result = task.result()
        _resolve(run.done, result)
        self._admit_waiting()

    def _admit_waiting(self) -> None:
        """Start the oldest waiting runs that now fit. A hung integration's runs stay queued
        behind its own limit while other integrations' runs pass them."""
        if not self._waiting or self._active >= self.config.file.monitor.concurrency:
            return
        kept: deque[_Run] = deque()
        while self._waiting:
            run = self._waiting.popleft()
            if self._admissible(run.check.integration):
                self._start(run)
            else:
                kept.append(run)
                if self._active >= self.config.file.monitor.concurrency:
                    break
        kept.extend(self._waiting)
        self._waiting = kept

    # ------------------------------------------------------------------ running

    async def _execute(self, run: _Run) -> CheckResult | None:
        check, run_id = run.check, run.run_id
        integ = self.config.integrations.get(check.integration)
        if integ is None:  # removed by a reload while it waited for a slot
            return None
        if run.scheduled_at is not None:
            self._metrics.observe_lag(check.integration, max(0.0, time.monotonic() - run.scheduled_at))
        refusal = self.budgets.refusal(check, integ)
        if refusal is not None:
            result = _result(check, run_id, Outcome.SKIPPED, f"not called: {refusal}")
        else:
            self.budgets.spend(check, integ)
            try:
                result = await run_check(
                    check, self._make_ctx(check, run_id), retries=self.config.file.monitor.retries
                )
            except asyncio.CancelledError:
                # Shutdown outlasted the grace period: record that, rather than lose the run.
                self._sink.put(_result(check, run_id, Outcome.ERROR, "cancelled: the monitor shut down"))
                raise
            self.budgets.observe(integ, result.ratelimit)
        self._sink.put(result)
        return result


def _resolve(future: asyncio.Future[T] | None, value: T) -> None:
    if future is not None and not future.done():
        future.set_result(value)


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
