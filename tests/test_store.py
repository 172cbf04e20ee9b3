"""The store keeps CheckResults and gives them back unchanged, filtered and paged, on SQLite and
on a real PostgreSQL (Debian's postgresql, started for the session on 127.0.0.1)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.model import Assertion, Category, CheckResult, Evidence, Outcome, RateLimit
from monitor.store import ResultQuery, Store, engine_url
from tests.conftest import free_port

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


def _pg_bin() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free 127.0.0.1 port; yields a URL to its `postgres` db."""
    bindir = _pg_bin()
    if bindir is None or shutil.which("runuser") is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (Debian package postgresql); .ci/run installs it")
        pytest.skip("PostgreSQL not installed")
    root = Path(tempfile.mkdtemp(prefix="atom-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    shutil.chown(root, "postgres")
    shutil.chown(sock, "postgres")
    port = free_port()

    def as_postgres(*cmd: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, timeout=60)

    as_postgres(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={sock}"
    # -l: the server must not inherit our pipes, or capturing pg_ctl's output waits for it forever.
    log = root / "server.log"
    as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: Any, tmp_path: Path) -> Any:
    """An empty store on each backend: the same SQLAlchemy Core code must work on both."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/sub/r.db"
    else:
        url = request.getfixturevalue("postgres")
    s = await Store.open(url)
    await s.prune(datetime(2100, 1, 1, tzinfo=UTC))  # the session's cluster is shared: start empty
    yield s
    await s.close()


async def test_round_trip_and_filters(store: Store) -> None:
    """Results come back equal to what was written, newest first, filterable and paged."""
    written = [_result(1), _result(2, "slack", Outcome.FAIL), _result(3)]
    await store.write(written)
    got = await store.query()
    assert got == list(reversed(written))
    assert await store.query(ResultQuery(integration="slack")) == [written[1]]
    assert await store.query(ResultQuery(outcome=Outcome.PASS, limit=1, offset=1)) == [written[0]]
    assert await store.count(ResultQuery(since=T0 + timedelta(minutes=2))) == 2


async def test_prune_removes_only_older_results(store: Store) -> None:
    """Retention pruning deletes results older than the cut-off and keeps the rest."""
    await store.write([_result(i) for i in range(5)])
    assert await store.prune(T0 + timedelta(minutes=3)) == 3
    assert [r.run_id for r in await store.query()] == ["r4", "r3"]


def test_engine_url_picks_async_drivers() -> None:
    """Users write plain SQLAlchemy URLs; the async driver is chosen for them."""
    assert engine_url("sqlite:///./a.db") == "sqlite+aiosqlite:///./a.db"
    assert engine_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"


async def test_light_query_and_latest_per_check(store: Store) -> None:
    """Without detail the rows carry outcomes and durations only; `latest` gives each check's
    newest result (or newest failure) in full."""
    written = [_result(1), _result(2, outcome=Outcome.FAIL), _result(3), _result(4, "slack", Outcome.ERROR)]
    await store.write(written)
    light = await store.query(detail=False)
    assert [(r.run_id, r.outcome, r.duration_s) for r in light] == [
        (w.run_id, w.outcome, w.duration_s) for w in reversed(written)
    ]
    assert all(r.assertions == () and r.evidence is None for r in light)
    newest = sorted(await store.latest(T0), key=lambda r: r.run_id)
    assert newest == [written[2], written[3]]
    failures = sorted(await store.latest(T0, failures_only=True), key=lambda r: r.run_id)
    assert failures == [written[1], written[3]]
