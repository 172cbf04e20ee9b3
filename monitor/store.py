"""Results storage: SQLAlchemy Core over aiosqlite (default) or asyncpg (PostgreSQL).

The schema lives here and only here. No dialect-specific SQL: the same statements run on both.
The store knows nothing of HTTP, probes or metrics: it keeps CheckResults and gives them back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from monitor.model import Category, CheckResult, Outcome

metadata = sa.MetaData()

results_table = sa.Table(
    "check_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("integration", sa.String(128), nullable=False),
    sa.Column("check_name", sa.String(128), nullable=False),
    sa.Column("category", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("duration_s", sa.Float, nullable=False),
    sa.Column("http_status", sa.Integer, nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=1),
    sa.Column("flaky", sa.Boolean, nullable=False, default=False),
    # Assertions, evidence and rate-limit observations: read whole, never queried into.
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_results_integration_check_time", "integration", "check_name", "started_at"),
    sa.Index("ix_results_time", "started_at"),
)


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

    @classmethod
    async def open(cls, url: str) -> Store:
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(engine_url(url))
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        return cls(engine)

    async def close(self) -> None:
        await self._engine.dispose()

    async def write(self, results: Sequence[CheckResult]) -> None:
        if not results:
            return
        async with self._engine.begin() as conn:
            await conn.execute(results_table.insert(), [_row(r) for r in results])

    async def query(self, q: ResultQuery | None = None, *, detail: bool = True) -> list[CheckResult]:
        """Newest first. `detail=False` leaves out assertions, evidence and rate limits: readiness
        over a day of results needs outcomes and durations, and decoding every JSON detail was
        most of its cost (bench/README.md)."""
        q = q or ResultQuery()
        t = results_table
        columns = [c for c in t.c if detail or c.name != "detail"]
        stmt = sa.select(*columns).order_by(t.c.started_at.desc(), t.c.id.desc()).limit(q.limit)
        stmt = stmt.offset(q.offset)
        for cond in _conditions(q):
            stmt = stmt.where(cond)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return await _results(rows)

    async def latest(self, since: datetime, *, failures_only: bool = False) -> list[CheckResult]:
        """The newest result of each check since `since` (or its newest fail/error), in full."""
        t = results_table
        conds = [t.c.started_at >= since]
        if failures_only:
            conds.append(t.c.outcome.in_([Outcome.FAIL.value, Outcome.ERROR.value]))
        newest = (
            sa.select(t.c.integration, t.c.check_name, sa.func.max(t.c.started_at).label("newest"))
            .where(*conds)
            .group_by(t.c.integration, t.c.check_name)
            .subquery()
        )
        stmt = (
            sa.select(t)
            .join(
                newest,
                sa.and_(
                    t.c.integration == newest.c.integration,
                    t.c.check_name == newest.c.check_name,
                    t.c.started_at == newest.c.newest,
                ),
            )
            .where(*conds)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [_result(dict(r)) for r in rows]

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


def _row(r: CheckResult) -> dict[str, Any]:
    d = r.to_dict()
    return {
        "run_id": r.run_id,
        "integration": r.integration,
        "check_name": r.check,
        "category": r.category.value,
        "outcome": r.outcome.value,
        "started_at": r.started_at,
        "duration_s": r.duration_s,
        "http_status": r.http_status,
        "reason": r.reason,
        "attempts": r.attempts,
        "flaky": r.flaky,
        "detail": {k: d[k] for k in ("assertions", "evidence", "ratelimit")},
    }


def _result(row: dict[str, Any]) -> CheckResult:
    started = row["started_at"]
    if started.tzinfo is None:  # SQLite keeps no zone; we only ever write UTC
        started = started.replace(tzinfo=UTC)
    detail = row.get("detail") or {}
    return CheckResult.from_dict(
        {
            "run_id": row["run_id"],
            "integration": row["integration"],
            "check": row["check_name"],
            "category": row["category"],
            "outcome": row["outcome"],
            "started_at": started.isoformat(),
            "duration_s": row["duration_s"],
            "reason": row["reason"],
            "http_status": row["http_status"],
            "attempts": row["attempts"],
            "flaky": row["flaky"],
            **detail,
        }
    )


async def _results(rows: Sequence[Any]) -> list[CheckResult]:
    """Rows to results, yielding to the event loop every few hundred: a day's window can be tens
    of thousands of rows, and scheduled checks must not wait behind their conversion."""
    out: list[CheckResult] = []
    for i, row in enumerate(rows, 1):
        out.append(_result(dict(row)))
        if i % _YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return out


_YIELD_EVERY = 500
