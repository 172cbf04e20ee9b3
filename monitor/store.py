"""Results storage: SQLAlchemy Core over aiosqlite (default) or asyncpg (PostgreSQL).

The schema lives in store_schema.py and only there; the readiness window's SQL in store_window.py.
No dialect-specific SQL: the same statements run on both. The store knows nothing of HTTP, probes
or metrics: it keeps CheckResults, gives them back, and sums up a window of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from monitor import jsoncodec, store_window
from monitor.evidence import WindowEvidence
from monitor.model import Category, CheckResult, Outcome
from monitor.store_schema import InsertPlan, from_row, metadata, results_table


def engine_url(url: str) -> str:
    """Users write `sqlite:///x.db` or `postgresql://...`; pick the async driver for them."""
    if url.startswith("sqlite:///") or url == "sqlite://":
        return "sqlite+aiosqlite" + url[len("sqlite") :]
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


@dataclass(frozen=True)
class ResultQuery:
    integration: str | None = None
    check: str | None = None
    category: Category | None = None
    outcome: Outcome | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = InsertPlan(engine.dialect)

    @classmethod
    async def open(cls, url: str) -> Store:
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        # The detail column is JSON: orjson writes it in a tenth of the time (monitor/jsoncodec.py).
        engine = create_async_engine(
            engine_url(url), json_serializer=jsoncodec.dumps, json_deserializer=jsoncodec.loads
        )
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        return cls(engine)

    async def close(self) -> None:
        await self._engine.dispose()

    async def write(self, results: Sequence[CheckResult]) -> None:
        if not results:
            return
        rows = self._insert.rows(results)
        async with self._engine.begin() as conn:
            await conn.exec_driver_sql(self._insert.sql, rows)

    async def query(self, q: ResultQuery | None = None) -> list[CheckResult]:
        """Newest first."""
        q = q or ResultQuery()
        t = results_table
        stmt = sa.select(t).order_by(t.c.started_at.desc(), t.c.id.desc()).limit(q.limit).offset(q.offset)
        for cond in _conditions(q):
            stmt = stmt.where(cond)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return await _results(rows)

    async def window_evidence(
        self,
        since: datetime,
        until: datetime,
        *,
        percentiles: Collection[float] = (),
        detail: bool = True,
    ) -> WindowEvidence:
        """What readiness needs of the results with since <= started_at <= until, computed by the
        database (store_window.py): counts, latency percentiles (the category ones and
        `percentiles` per integration), and only a few results per check in full (without
        their assertions and evidence unless `detail`)."""
        async with self._engine.connect() as conn:
            return await store_window.window_evidence(
                conn, since, until, frozenset(percentiles), detail=detail
            )

    async def count(self, q: ResultQuery | None = None) -> int:
        stmt = sa.select(sa.func.count()).select_from(results_table)
        for cond in _conditions(q or ResultQuery()):
            stmt = stmt.where(cond)
        async with self._engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def prune(self, older_than: datetime) -> int:
        async with self._engine.begin() as conn:
            res = await conn.execute(results_table.delete().where(results_table.c.started_at < older_than))
            return int(res.rowcount or 0)


def _conditions(q: ResultQuery) -> list[Any]:
    t = results_table
    out: list[Any] = []
    if q.integration:
        out.append(t.c.integration == q.integration)
    if q.check:
        out.append(t.c.check_name == q.check)
    if q.category:
        out.append(t.c.category == q.category.value)
    if q.outcome:
        out.append(t.c.outcome == q.outcome.value)
    if q.since:
        out.append(t.c.started_at >= q.since)
    if q.until:
        out.append(t.c.started_at < q.until)
    return out


async def _results(rows: Sequence[Any]) -> list[CheckResult]:
    """Rows to results, yielding to the event loop every few hundred: a day's window can be tens
    of thousands of rows, and scheduled checks must not wait behind their conversion."""
    out: list[CheckResult] = []
    for i, row in enumerate(rows, 1):
        out.append(from_row(dict(row)))
        if i % _YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return out


_YIELD_EVERY = 500
