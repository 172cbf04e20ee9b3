"""Candidate engine fixes, tried without touching monitor/: each is a monkeypatch applied before
bench/daemon_load.py runs, so a fix's gain is measured the same way as the baseline.

Not part of `make bench`. Usage (a target must be running; see bench/README.md):
  python bench/fixes.py --fix batch,scrape-thread,gc-freeze load --workdir D --target URL ...
Fixes:
  batch          ResultSink.run waits up to 100 ms (or 500 results) to fill a batch: one SQLite
                 transaction per 100 results instead of per ~5
  sqlite-wal     journal_mode=WAL, synchronous=NORMAL on every SQLite connection
  scrape-thread  /metrics renders in a worker thread, not on the event loop
  no-created     prometheus_client's *_created series switched off (a quarter of /metrics)
  gc-freeze      gc.freeze() once the daemon has started: startup objects leave the collector
  no-readiness   no periodic readiness assessment (the upper bound of making it incremental)
  lazy-series    Metrics.declare leaves the per-check duration histogram and flaky counter to be
                 created by the first observation (runs_total and the gauges stay declared)
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from typing import Any

import daemon_load

FIXES = ("batch", "sqlite-wal", "scrape-thread", "no-created", "gc-freeze", "no-readiness", "lazy-series")


def batch() -> None:
    from monitor.sink import ResultSink

    async def run(self: ResultSink) -> None:
        while True:
            batch = [await self._queue.get()]
            deadline = time.monotonic() + 0.1
            while len(batch) < 500 and time.monotonic() < deadline:
                if self._queue.empty():
                    await asyncio.sleep(0.01)
                    continue
                batch.append(self._queue.get_nowait())
            await self._write(batch)

    ResultSink.run = run  # type: ignore[method-assign]


def sqlite_wal() -> None:
    from sqlalchemy import event

    from monitor.store import Store

    original = Store.open.__func__  # type: ignore[attr-defined]

    async def open_(cls: type[Store], url: str) -> Store:
        store = await original(cls, url)

        @event.listens_for(store._engine.sync_engine, "connect")
        def pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        await store._engine.dispose()  # reconnect with the pragmas
        return store

    Store.open = classmethod(open_)  # type: ignore[method-assign,assignment]


def scrape_thread() -> None:
    from aiohttp import web
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from monitor import server

    def make(registry: Any) -> Any:
        async def handler(_: web.Request) -> web.Response:
            body = await asyncio.to_thread(generate_latest, registry)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        return handler

    server.make_aiohttp_handler = make  # type: ignore[assignment]


def no_created() -> None:
    from prometheus_client import disable_created_metrics

    disable_created_metrics()


def gc_freeze() -> None:
    original = daemon_load.start_daemon

    async def start(*args: Any, **kwargs: Any) -> Any:
        started = await original(*args, **kwargs)
        gc.freeze()
        return started

    daemon_load.start_daemon = start


def no_readiness() -> None:
    daemon_load.switch_off({"readiness"})


def lazy_series() -> None:
    from monitor.metrics import Metrics

    class Later:
        """Takes declare's calls for one metric and creates nothing."""

        def labels(self, *_: Any) -> None:
            return None

        def remove(self, *_: Any) -> None:
            raise KeyError

    original = Metrics.declare

    def declare(self: Metrics, checks: Any) -> None:
        duration, flaky = self.duration, self.flaky
        self.duration, self.flaky = Later(), Later()  # type: ignore[assignment]
        try:
            original(self, checks)
        finally:
            self.duration, self.flaky = duration, flaky

    Metrics.declare = declare  # type: ignore[method-assign]


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] != "--fix":
        raise SystemExit(__doc__)
    chosen = [f for f in sys.argv[2].split(",") if f]
    if unknown := set(chosen) - set(FIXES):
        raise SystemExit(f"unknown fixes {sorted(unknown)}; have {', '.join(FIXES)}")
    for name in chosen:
        globals()[name.replace("-", "_")]()
    sys.argv = [sys.argv[0], *sys.argv[3:]]
    daemon_load.main()


if __name__ == "__main__":
    main()
