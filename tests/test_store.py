"""The store keeps CheckResults and gives them back unchanged, filtered and paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.model import Assertion, Category, CheckResult, Evidence, Outcome, RateLimit
from monitor.store import ResultQuery, Store, engine_url

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _result(i: int, integration: str = "github", outcome: Outcome = Outcome.PASS) -> CheckResult:
    return CheckResult(
        run_id=f"r{i}",
        integration=integration,
        check="auth_valid",
        category=Category.AUTH,
        outcome=outcome,
        started_at=T0 + timedelta(minutes=i),
        duration_s=0.1 * i,
        reason="why",
        http_status=200,
        assertions=(Assertion("status", "200", "200", True),),
        evidence=Evidence("GET http://x/user", 200, {"content-type": "application/json"}, "{}"),
        ratelimit=RateLimit(remaining=10, limit=20, reset_at=1.0),
    )


async def test_round_trip_and_filters(tmp_path: Path) -> None:
    """Results come back equal to what was written, newest first, filterable and paged."""
    store = await Store.open(f"sqlite:///{tmp_path}/sub/r.db")
    written = [_result(1), _result(2, "slack", Outcome.FAIL), _result(3)]
    await store.write(written)
    got = await store.query()
    assert got == list(reversed(written))
    assert await store.query(ResultQuery(integration="slack")) == [written[1]]
    assert await store.query(ResultQuery(outcome=Outcome.PASS, limit=1, offset=1)) == [written[0]]
    assert await store.count(ResultQuery(since=T0 + timedelta(minutes=2))) == 2
    await store.close()


async def test_prune_removes_only_older_results(tmp_path: Path) -> None:
    """Retention pruning deletes results older than the cut-off and keeps the rest."""
    store = await Store.open(f"sqlite:///{tmp_path}/r.db")
    await store.write([_result(i) for i in range(5)])
    assert await store.prune(T0 + timedelta(minutes=3)) == 3
    assert [r.run_id for r in await store.query()] == ["r4", "r3"]
    await store.close()


def test_engine_url_picks_async_drivers() -> None:
    """Users write plain SQLAlchemy URLs; the async driver is chosen for them."""
    assert engine_url("sqlite:///./a.db") == "sqlite+aiosqlite:///./a.db"
    assert engine_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
