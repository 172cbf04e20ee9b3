"""The results table: its one definition, and the conversions between its rows and CheckResults.

Apart from store.py so that the window's SQL (store_window.py) can share it without a cycle.
"""

from __future__ import annotations

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


def to_row(r: CheckResult) -> dict[str, Any]:
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
