"""A window's evidence (monitor/evidence.py) computed by the database, for Store.window_evidence.

Two passes over the window, both served by ix_results_window without reading the wide rows:
counts and timestamps by GROUP BY, with each group's newest row looked up beside it; then the
durations at the nearest ranks those counts call for, by ROW_NUMBER (window functions and row
values: SQLite 3.25+, any PostgreSQL). Then the few results a report shows in full are fetched
by id. The window's rows never come into Python: a day of a thousand checks is 1.44M of them.
The result equals monitor.evidence.from_results over the same results (tests/test_store.py
checks both backends).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.evidence import (
    CATEGORY_PERCENTILES,
    FAILED,
    LATENCY_BUCKETS,
    TIMED,
    CheckCounts,
    IntegrationEvidence,
    WindowEvidence,
    nearest_rank,
)
from monitor.model import Category, CheckResult, Outcome
from monitor.store_schema import as_utc, from_row, results_table

# Bound parameters per statement, under SQLite's (32,766) and asyncpg's (32,767) limits: the
# ranks of some 600 integrations of five categories.
_PARAMS_PER_QUERY = 30_000
# Results read in full per statement: expanding a thousand ids into one statement held the event
# loop for a few milliseconds each time; a quarter of that, with a yield between, does not.
_IDS_PER_QUERY = 250

_Group = tuple[str, str, str]  # check, category, outcome
_Latencies = tuple[dict[Category, dict[float, float]], dict[float, float]]


class _Ranks(NamedTuple):
    """Which percentiles sit at which nearest rank: per (category, rank), and over the integration."""

    category: dict[tuple[str, int], list[float]]
    overall: dict[int, list[float]]


class _Picks(NamedTuple):
    """Ids of the results shown in full: per check its newest and newest judged, per category
    its newest failure."""

    newest: dict[str, int]
    judged: dict[str, int]
    failure: dict[str, int]


async def window_evidence(
    conn: AsyncConnection,
    since: datetime,
    until: datetime,
    percentiles: frozenset[float],
    *,
    detail: bool = True,
) -> WindowEvidence:
    """See the module's docstring. Without `detail`, the results shown in full come without
    their assertions, evidence and rate limit: all a verdict needs, at a fraction of the cost."""
    t = results_table
    # The ranks come from the counts: rows written between the statements must not shift them.
    # Bounding ids is exact with one writer (SQLite always; PostgreSQL unless several replicas
    # commit out of id order, when a percentile may be off by one rank for one assessment).
    top = (await conn.execute(sa.select(sa.func.max(t.c.id)))).scalar()
    if top is None:
        return WindowEvidence(since, until, percentiles, {})
    window = (t.c.started_at >= since, t.c.started_at <= until, t.c.id <= top)
    groups = _newest_of_groups((await conn.execute(_groups(window, top))).mappings().all())
    latencies = await _latencies(conn, window, {n: _wanted_ranks(g, percentiles) for n, g in groups.items()})
    picks = {name: _picks(rows) for name, rows in groups.items()}
    full = await _full(conn, {i for p in picks.values() for role in p for i in role.values()}, detail)
    integrations = {}
    for name, rows in groups.items():
        integrations[name] = _integration(rows, picks[name], full, latencies.get(name, ({}, {})))
        await asyncio.sleep(0)  # ~0.5 ms an integration of ten checks: let due checks start
    return WindowEvidence(since, until, percentiles, integrations)


def _groups(window: Sequence[Any], top: int) -> sa.Select[Any]:
    """Per check, category and outcome: runs, flaky runs, first and newest start, runs per latency
    bucket (lower bound inclusive, as evidence.bucket_of), and the id of its newest run (of equal
    started_at, every one). A check's newest, newest judged and its category's newest failure are
    each the newest run of one of these groups."""
    t = results_table
    d = t.c.duration_s
    bounds = zip((0.0, *LATENCY_BUCKETS), (*LATENCY_BUCKETS, None), strict=True)
    bands = [d >= lo if hi is None else sa.and_(d >= lo, d < hi) for lo, hi in bounds]
    group = (t.c.integration, t.c.check_name, t.c.category, t.c.outcome)
    agg = (
        sa.select(
            *group,
            sa.func.count().label("runs"),
            _tally(t.c.flaky).label("flaky_runs"),
            sa.func.min(t.c.started_at).label("first"),
            sa.func.max(t.c.started_at).label("newest"),
            *(_tally(band).label(f"b{i}") for i, band in enumerate(bands)),
        )
        .where(*window)
        .group_by(*group)
        .subquery()
    )
    newest_run = sa.and_(t.c.started_at == agg.c.newest, *(t.c[c.name] == agg.c[c.name] for c in group))
    # Only the snapshot bound on the lookup: a started_at range beside the equality makes SQLite
    # walk each check's window instead of looking its newest run up.
    return sa.select(agg, t.c.id).join_from(agg, t, newest_run).where(t.c.id <= top)


def _tally(condition: Any) -> Any:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _ranked(window: Sequence[Any], ranks: dict[str, _Ranks], *, restrict: bool) -> sa.Select[Any]:
    """The pass and fail durations at the wanted ranks, per category and per integration, of the
    integrations in `ranks`: ranked in SQL by window functions, the ranks chosen in Python, so both
    builders pick the same observation (and no float arithmetic happens in SQL). `restrict`
    ranks only those integrations' runs: needed when one statement cannot hold every rank, and
    avoided otherwise, for SQLite then reads the rows through ix_results_integration_check_time
    instead of the covering ix_results_window (measured: about half as fast)."""
    t = results_table
    mine = [t.c.integration.in_(list(ranks))] if restrict else []

    # One sort serves both ranks: a run's rank in its category is the running count of its
    # category's runs in the integration's order. Two ROW_NUMBERs of different partitions were two
    # sorts of the window, the costliest statement of an assessment (20,000 results on SQLite:
    # 98 -> 65 ms in one category, 123 -> 90 ms over five). ROWS, not the default RANGE frame, so
    # that equal durations take successive ranks, as ROW_NUMBER gives them.
    def in_order(fn: Any) -> Any:
        return fn.over(partition_by=t.c.integration, order_by=t.c.duration_s, rows=(None, 0))

    categories = sorted({category for r in ranks.values() for category, _ in r.category})
    in_category = sa.case(
        *((t.c.category == c, in_order(_tally(t.c.category == c))) for c in categories),
        else_=None,
    )
    ranked = (
        sa.select(
            t.c.integration,
            t.c.category,
            t.c.duration_s,
            in_category.label("rc"),
            in_order(sa.func.row_number()).label("ri"),
        )
        .where(*window, t.c.outcome.in_([o.value for o in TIMED]), *mine)
        .subquery()
    )
    per_category = [(name, cat, rank) for name, r in ranks.items() for cat, rank in r.category]
    overall = [(name, rank) for name, r in ranks.items() for rank in r.overall]
    at: sa.ColumnElement[bool] = sa.tuple_(ranked.c.integration, ranked.c.category, ranked.c.rc).in_(
        per_category
    )
    if overall:
        at = sa.or_(at, sa.tuple_(ranked.c.integration, ranked.c.ri).in_(overall))
    return sa.select(ranked).where(at)


def _newest_of_groups(rows: Sequence[Any]) -> dict[str, dict[_Group, Any]]:
    """Per integration, one row per group: of tied newest runs, the later written."""
    out: dict[str, dict[_Group, Any]] = {}
    for row in rows:
        mine = out.setdefault(row["integration"], {})
        key = (row["check_name"], row["category"], row["outcome"])
        if key not in mine or row["id"] > mine[key]["id"]:
            mine[key] = row
    return out


def _wanted_ranks(rows: dict[_Group, Any], wanted: frozenset[float]) -> _Ranks:
    """The nearest ranks of each percentile, from the group counts: what `_ranked` looks up."""
    timed: dict[str, int] = {}
    for (_, category, outcome), row in rows.items():
        if Outcome(outcome) in TIMED:
            timed[category] = timed.get(category, 0) + int(row["runs"])
    per_category: dict[tuple[str, int], list[float]] = {}
    for category, n in timed.items():
        for p in CATEGORY_PERCENTILES:
            per_category.setdefault((category, nearest_rank(p, n)), []).append(p)
    overall: dict[int, list[float]] = {}
    if timed:
        n = sum(timed.values())
        for p in wanted:
            overall.setdefault(nearest_rank(p, n), []).append(p)
    return _Ranks(per_category, overall)


async def _latencies(
    conn: AsyncConnection, window: Sequence[Any], ranks: dict[str, _Ranks]
) -> dict[str, _Latencies]:
    """Per integration, its categories' percentiles and its own, a batch of integrations per
    statement so that the ranks' parameters stay within every backend's limit."""
    out: dict[str, _Latencies] = {name: ({}, {}) for name in ranks}
    batches = list(_batches({n: r for n, r in ranks.items() if r.category}))
    for batch in batches:
        rows = (await conn.execute(_ranked(window, batch, restrict=len(batches) > 1))).mappings()
        for n, row in enumerate(rows):
            if n % 200 == 199:
                await asyncio.sleep(0)  # a thousand checks' ranks are ~2,000 rows: let due checks start
            per_category, overall = out[row["integration"]]
            mine = batch[row["integration"]]
            for p in mine.category.get((row["category"], row["rc"]), ()):
                per_category.setdefault(Category(row["category"]), {})[p] = row["duration_s"]
            for p in mine.overall.get(row["ri"], ()):
                overall[p] = row["duration_s"]
    return out


def _batches(ranks: dict[str, _Ranks]) -> Iterable[dict[str, _Ranks]]:
    batch: dict[str, _Ranks] = {}
    params = 0
    for name, r in sorted(ranks.items()):
        cost = 1 + 3 * len(r.category) + 2 * len(r.overall)
        if batch and params + cost > _PARAMS_PER_QUERY:
            yield batch
            batch, params = {}, 0
        batch[name] = r
        params += cost
    if batch:
        yield batch


def _picks(rows: dict[_Group, Any]) -> _Picks:
    runs = list(rows.values())
    return _Picks(
        newest=_newest_id(runs, "check_name"),
        judged=_newest_id((r for r in runs if r["outcome"] != Outcome.SKIPPED.value), "check_name"),
        failure=_newest_id((r for r in runs if Outcome(r["outcome"]) in FAILED), "category"),
    )


def _newest_id(rows: Iterable[Any], key: str) -> dict[str, int]:
    """Per value of `key`, the id of the newest run: of equal started_at, the later written."""
    best: dict[str, Any] = {}
    for row in rows:
        seen = best.get(row[key])
        if seen is None or (row["newest"], row["id"]) > (seen["newest"], seen["id"]):
            best[row[key]] = row
    return {k: row["id"] for k, row in best.items()}


async def _full(conn: AsyncConnection, ids: set[int], detail: bool) -> dict[int, CheckResult]:
    t = results_table
    columns = list(t.c) if detail else [c for c in t.c if c.name != "detail"]
    ordered = sorted(ids)
    out: dict[int, CheckResult] = {}
    for i in range(0, len(ordered), _IDS_PER_QUERY):
        stmt = sa.select(*columns).where(t.c.id.in_(ordered[i : i + _IDS_PER_QUERY]))
        for n, row in enumerate((await conn.execute(stmt)).mappings()):
            out[row["id"]] = from_row(dict(row))
            if n % 20 == 19:
                # Decoding a full row (its JSON detail, its datetime) is 20-50 µs on a busy
                # loop: every 100 rows held due checks for 2-5 ms, the largest single cause of
                # late starts at 1,000 checks/s (bench/README.md).
                await asyncio.sleep(0)
    return out


def _integration(
    rows: dict[_Group, Any], picks: _Picks, full: dict[int, CheckResult], latencies: _Latencies
) -> IntegrationEvidence:
    by_check: dict[tuple[str, str], dict[str, Any]] = {}
    for (check, category, outcome), row in rows.items():
        by_check.setdefault((check, category), {})[outcome] = row
    timed = [row for row in rows.values() if Outcome(row["outcome"]) in TIMED]
    return IntegrationEvidence(
        checks=tuple(_counts(check, cat, outcomes) for (check, cat), outcomes in sorted(by_check.items())),
        category_latency=latencies[0],
        latency=latencies[1],
        distribution=tuple(sum(int(r[f"b{i}"]) for r in timed) for i in range(len(LATENCY_BUCKETS) + 1)),
        newest=_shown(picks.newest, full),
        newest_judged=_shown(picks.judged, full),
        last_failure={Category(c): r for c, r in _shown(picks.failure, full).items()},
    )


def _shown(ids: dict[str, int], full: dict[int, CheckResult]) -> dict[str, CheckResult]:
    # A row pruned since it was counted (retention shorter than the window) is left out.
    return {key: full[i] for key, i in ids.items() if i in full}


def _counts(check: str, category: str, outcomes: dict[str, Any]) -> CheckCounts:
    def runs(outcome: Outcome) -> int:
        row = outcomes.get(outcome.value)
        return int(row["runs"]) if row else 0

    passes = outcomes.get(Outcome.PASS.value)
    return CheckCounts(
        check=check,
        category=Category(category),
        passed=runs(Outcome.PASS),
        failed=runs(Outcome.FAIL),
        errored=runs(Outcome.ERROR),
        skipped=runs(Outcome.SKIPPED),
        flaky_passes=int(passes["flaky_runs"]) if passes else 0,
        first=min(as_utc(row["first"]) for row in outcomes.values()),
        newest=max(as_utc(row["newest"]) for row in outcomes.values()),
        newest_pass=as_utc(passes["newest"]) if passes else None,
    )
