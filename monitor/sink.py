"""The result sink: results reach the store *before* metrics and logs see them, so what a
dashboard shows has always been persisted first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from monitor.logs import check_run_fields
from monitor.metrics import Metrics
from monitor.model import CheckResult
from monitor.store import Store

log = structlog.get_logger("monitor.sink")


class ResultSink:
    """Batches results into store transactions; then updates metrics and logs them."""

    # A transaction costs about a millisecond of CPU whatever its size: let results gather for a
    # moment rather than write one row per transaction (bench/README.md measured 1.4 per batch).
    LINGER_S = 0.05
    MAX_BATCH = 500
    YIELD_EVERY = 25

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
        for i, r in enumerate(batch):
            if i and i % self.YIELD_EVERY == 0:
                # ~40 µs a result: a batch of 500 would hold the event loop for 20 ms while
                # checks fall due. Let them start; the order of results is kept.
                await asyncio.sleep(0)
            self._metrics.observe(r)
            if self._on_stored is not None:
                self._on_stored(r)
            log.info("check_run", **check_run_fields(r))


def _take_all(queue: asyncio.Queue[CheckResult | None]) -> list[CheckResult | None]:
    out: list[CheckResult | None] = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out
