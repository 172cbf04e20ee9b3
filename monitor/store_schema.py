"""The results table: its one definition, and the conversions between its rows and CheckResults.

Apart from store.py so that the window's SQL (store_window.py) can share it without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from monitor.model import CheckResult

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
    # Leads with started_at (windows, pruning, newest-first pages) and carries every column that
    # Store.window_evidence aggregates, so its passes over a window never read the wide rows (with
    # their JSON detail): measured on SQLite, a fifth to a third less time per assessment and far
    # fewer pages read, for ~5% more per write than the bare started_at index it replaces.
    # Databases created before it keep their ix_results_time: create_all adds no index to an
    # existing table, and building one over a month of results would stall start-up.
    sa.Index(
        "ix_results_window",
        "started_at",
        "integration",
        "check_name",
        "category",
        "outcome",
        "duration_s",
        "flaky",
        "id",
    ),
)


# The columns a write fills, in the order of to_values.
INSERT_COLUMNS = (
    "run_id", "integration", "check_name", "category", "outcome", "started_at", "duration_s",
    "http_status", "reason", "attempts", "flaky", "detail",
)  # fmt: skip


def to_values(r: CheckResult) -> tuple[Any, ...]:
    """A result as the values of INSERT_COLUMNS, before the dialect's bind processing."""
    return (
        r.run_id,
        r.integration,
        r.check,
        r.category.value,
        r.outcome.value,
        r.started_at,
        r.duration_s,
        r.http_status,
        r.reason,
        r.attempts,
        r.flaky,
        r.detail(),
    )


_PLACEHOLDERS: dict[str, Callable[[int, str], str]] = {
    "qmark": lambda _, __: "?",
    "numeric": lambda i, _: f":{i}",
    "numeric_dollar": lambda i, _: f"${i}",
    "format": lambda _, __: "%s",
    "pyformat": lambda _, name: f"%({name})s",
    "named": lambda _, name: f":{name}",
}


class InsertPlan:
    """The INSERT of a batch of results, planned once per dialect.

    SQLAlchemy's executemany re-derives every row's parameters from a dict (~20 µs a result on
    the daemon's event loop, bench/README.md). This sends the driver positional rows instead,
    passed through the same bind processors SQLAlchemy would apply (the DATETIME string on
    SQLite, the JSON text everywhere), so the stored values are the ones its own insert writes.
    """

    def __init__(self, dialect: sa.Dialect) -> None:
        columns = [results_table.c[name] for name in INSERT_COLUMNS]
        processors = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
        self._processed = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        place = _PLACEHOLDERS[dialect.paramstyle]
        quote = dialect.identifier_preparer
        names = ", ".join(quote.quote(n) for n in INSERT_COLUMNS)
        marks = ", ".join(place(i, n) for i, n in enumerate(INSERT_COLUMNS, start=1))
        self.sql = f"INSERT INTO {quote.format_table(results_table)} ({names}) VALUES ({marks})"
        self._named = dialect.paramstyle in ("pyformat", "named")

    def rows(self, results: Iterable[CheckResult]) -> list[Any]:
        out: list[Any] = []
        for r in results:
            values = list(to_values(r))
            for i, process in self._processed:
                values[i] = process(values[i])
            out.append(dict(zip(INSERT_COLUMNS, values, strict=True)) if self._named else tuple(values))
        return out


def from_row(row: dict[str, Any]) -> CheckResult:
    started = as_utc(row["started_at"])
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


def as_utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at  # SQLite keeps no zone; we write UTC
