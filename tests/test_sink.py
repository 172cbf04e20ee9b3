"""The result sink: stored first, then metrics and logs, in order, without holding the loop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from monitor.metrics import Metrics
from monitor.model import Category, CheckResult, Outcome
from monitor.sink import ResultSink
from monitor.store import Store


def _result(i: int) -> CheckResult:
    return CheckResult(
        run_id=f"run-{i:04d}",
        integration="a",
        check="c",
        category=Category.RETRIEVAL,
        outcome=Outcome.PASS,
        started_at=datetime.now(UTC),
        duration_s=0.01,
        reason="all 1 assertion held",
    )


async def test_a_large_batch_is_stored_then_handed_on_in_order_between_other_work(tmp_path: Path) -> None:
    """A batch of 200 is in the store before metrics see it, reaches on_stored in the order it
    was put, and other tasks get the event loop several times while it is handed on."""
    store = await Store.open(f"sqlite:///{tmp_path}/r.db")
    seen: list[str] = []
    written: list[int] = []
    write = store.write

    async def recording_write(results: list[CheckResult]) -> None:
        await write(results)
        written.append(len(results))

    store.write = recording_write  # type: ignore[method-assign,assignment]

    def on_stored(r: CheckResult) -> None:
        assert written == [200], "handed on before the store had the batch"
        seen.append(r.run_id)

    sink = ResultSink(store, Metrics(), on_stored=on_stored)
    batch = [_result(i) for i in range(200)]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    tick_task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    await sink._write(batch)
    tick_task.cancel()
    assert await store.count() == 200
    await store.close()
    assert seen == [r.run_id for r in batch]
    assert ticks - before >= 200 // ResultSink.YIELD_EVERY - 1
