"""The store keeps CheckResults and gives them back unchanged, filtered and paged, on SQLite and
on a real PostgreSQL (Debian's postgresql, started for the session on 127.0.0.1)."""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from monitor import store_window
from monitor.config.models import Policy
from monitor.evidence import from_results
from monitor.model import Assertion, Category, CheckResult, Evidence, Outcome, RateLimit, Verdict
from monitor.readiness import assess, assess_evidence, latency_percentiles
from monitor.store import ResultQuery, Store, engine_url
from monitor.store_schema import INSERT_COLUMNS, results_table, to_values
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


async def test_a_written_row_is_the_row_sqlalchemys_own_insert_writes(store: Store) -> None:
    """Store.write's planned positional insert stores exactly what results_table.insert() would:
    same column values, DATETIME text and JSON detail included, on both backends."""
    result = _result(1, "slack", Outcome.FAIL)
    await store.write([result])
    row = to_values(result)
    async with store._engine.begin() as conn:
        await conn.execute(results_table.insert(), [dict(zip(INSERT_COLUMNS, row, strict=True))])
        t = results_table
        # Read back as the database holds them: text for SQLite's DATETIME and JSON columns.
        raw = (await conn.execute(sa.select(*(sa.cast(t.c[n], sa.Text) for n in INSERT_COLUMNS)))).all()
    assert len(raw) == 2 and raw[0] == raw[1]


async def test_prune_removes_only_older_results(store: Store) -> None:
    """Retention pruning deletes results older than the cut-off and keeps the rest."""
    await store.write([_result(i) for i in range(5)])
    assert await store.prune(T0 + timedelta(minutes=3)) == 3
    assert [r.run_id for r in await store.query()] == ["r4", "r3"]


def test_engine_url_picks_async_drivers() -> None:
    """Users write plain SQLAlchemy URLs; the async driver is chosen for them."""
    assert engine_url("sqlite:///./a.db") == "sqlite+aiosqlite:///./a.db"
    assert engine_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"


def _window_dataset(seed: int = 7, n: int = 1500) -> list[CheckResult]:
    """Several integrations, categories and checks (one check in two categories), every outcome,
    flaky runs of every outcome, errors and skips with durations, durations on bucket bounds and
    repeated, timestamps on a 10-minute grid (so ties within a check, a category and across them)
    and on and just beyond both ends of the window."""
    rng = random.Random(seed)
    checks = [(i, c, cat) for i, cs in _WINDOW_CHECKS.items() for c, cat in cs]
    edges = [UNTIL, SINCE, UNTIL + timedelta(microseconds=1), SINCE - timedelta(microseconds=1)]
    out = []
    for k in range(n):
        integration, check, category = rng.choice(checks)
        outcome = rng.choice([Outcome.PASS] * 5 + [Outcome.FAIL, Outcome.ERROR, Outcome.SKIPPED])
        at = (
            rng.choice(edges)
            if rng.random() < 0.03
            else UNTIL - timedelta(minutes=10 * rng.randrange(-3, 150))
        )
        failed = outcome is not Outcome.PASS
        out.append(
            CheckResult(
                run_id=f"r{k}",
                integration=integration,
                check=check,
                category=category,
                outcome=outcome,
                started_at=at,
                duration_s=rng.choice(_DURATIONS) if rng.random() < 0.6 else round(rng.expovariate(3), 4),
                reason=f"row {k}",  # which of several tied rows was picked shows in the reason
                http_status=500 if failed else 200,
                assertions=(Assertion("status", "200", "500" if failed else "200", not failed),),
                evidence=Evidence("GET http://x/y", 500 if failed else 200, {"a": "b"}, f"body {k}"),
                flaky=rng.random() < 0.15,
            )
        )
    return out


A, R, C, E, L = Category.AUTH, Category.RETRIEVAL, Category.CRUD, Category.ERROR, Category.LATENCY
_WINDOW_CHECKS = {
    "github": [("auth_valid", A), ("issues", R), ("crud_issue", C), ("moved", E), ("moved", L)],
    "slack": [("auth_test", A), ("history", R), ("bad_token", E)],
    "jira": [("myself", A), ("search", R), ("p95", L), ("gone", Category.CONTRACT)],
}
_DURATIONS = [0.0, 0.05, 0.049999, 0.1, 0.25, 0.8, 1.0, 10.0, 12.5, 30.0]
UNTIL = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(hours=24)
_POLICY = Policy.model_validate(
    {
        "min_samples": 3,
        "require": {"auth": 0.6, "retrieval": 0.6},
        "overrides": {"jira": {"latency": {"percentile": 90, "budget": "2s"}}},
    }
)


@pytest.mark.parametrize("seed", [7, 8])
async def test_window_evidence_equals_evidence_from_results(store: Store, seed: int) -> None:
    """The store's SQL evidence, and the readiness judged from it, equal what the same results give
    in Python, on each backend."""
    results = _window_dataset(seed)
    await store.write(results)
    covered = {i: {cat for _, cat in cs} | {Category.SECURITY} for i, cs in _WINDOW_CHECKS.items()}
    covered["quiet"] = {A}
    wanted = latency_percentiles(_POLICY, covered)
    sql = await store.window_evidence(SINCE, UNTIL, percentiles=wanted)
    reference = from_results(results, since=SINCE, until=UNTIL, percentiles=wanted)
    assert sql == reference
    checks = {"github": {"auth_valid": A, "never_ran": C}}
    judged = [
        assess_evidence(ev, policy=_POLICY, integrations=covered, checks=checks) for ev in (sql, reference)
    ]
    assert judged[0] == judged[1]
    assert judged[0] == assess(results, policy=_POLICY, now=UNTIL, integrations=covered, checks=checks)


@pytest.mark.parametrize("seed", [7, 8])
async def test_verdicts_without_detail_are_the_verdicts_with_it(store: Store, seed: int) -> None:
    """Evidence read without the results' assertions and evidence (the daemon's gauges) judges
    every integration exactly as the full evidence does: verdict, rule, score, claims."""
    await store.write(_window_dataset(seed))
    covered = {i: {cat for _, cat in cs} | {Category.SECURITY} for i, cs in _WINDOW_CHECKS.items()}
    wanted = latency_percentiles(_POLICY, covered)
    full = await store.window_evidence(SINCE, UNTIL, percentiles=wanted)
    light = await store.window_evidence(SINCE, UNTIL, percentiles=wanted, detail=False)
    newest = [r for ev in light.integrations.values() for r in ev.newest.values()]
    assert newest and all(not r.assertions and r.evidence is None for r in newest)
    judged = [assess_evidence(ev, policy=_POLICY, integrations=covered) for ev in (full, light)]

    def verdicts(j: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
        return {n: (r.verdict, r.rule, r.score, r.samples, r.claim_contradicted) for n, r in j.items()}

    assert verdicts(judged[0]) == verdicts(judged[1])
    assert {v[0] for v in verdicts(judged[0]).values()} != {Verdict.UNKNOWN}  # something was judged


async def test_window_evidence_in_batches_is_the_same(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the ranks or the ids to fetch outgrow one statement, several statements give the same
    evidence as one."""
    monkeypatch.setattr(store_window, "_PARAMS_PER_QUERY", 40)  # one integration per statement
    monkeypatch.setattr(store_window, "_IDS_PER_QUERY", 3)
    results = _window_dataset(9)
    await store.write(results)
    sql = await store.window_evidence(SINCE, UNTIL, percentiles={95, 90})
    assert sql == from_results(results, since=SINCE, until=UNTIL, percentiles={95, 90})


async def test_window_evidence_of_an_empty_window(store: Store) -> None:
    """With nothing in the window there is no integration's evidence, only the window itself."""
    await store.write([_result(1)])
    evidence = await store.window_evidence(T0 + timedelta(hours=1), T0 + timedelta(hours=2), percentiles={95})
    assert evidence.integrations == {} and evidence.percentiles == {95}


async def test_newest_of_tied_results_is_the_later_written(store: Store) -> None:
    """Of results with equal started_at, the one written later is the newest and the last failure."""
    first = dataclasses.replace(_result(1, outcome=Outcome.FAIL), reason="first")
    second = dataclasses.replace(first, run_id="r2", reason="second")
    await store.write([first, second])
    evidence = await store.window_evidence(T0, T0 + timedelta(hours=1))
    github = evidence.integrations["github"]
    assert github.newest["auth_valid"] == second and github.last_failure[Category.AUTH] == second
