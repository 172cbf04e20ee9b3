"""Window evidence: what readiness judges, reduced from a window of results to counts,
percentiles and a few full results per check, so that judging a day costs per check, not per result.

Built two ways that must agree exactly: `from_results` here (pure: `gate --fresh`, tests, and the
reference) and `Store.window_evidence` (SQL aggregates, so the window is never loaded). Both count
results with `since <= started_at <= until`. Between results with equal started_at the one recorded
later is the newer: later in the list here, the higher row id in the store.

Imports only `model`, so that the store may build it and readiness may judge it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from monitor.model import Category, CheckResult, Outcome

# Latency distribution buckets the report shows (upper bounds, seconds; a last one is unbounded).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 2.5, 5.0, 10.0)
# The percentiles reported for every category.
CATEGORY_PERCENTILES = (50.0, 95.0, 99.0)
# Durations that feed percentiles and the distribution: an error did not answer, a skip did not run.
TIMED = (Outcome.PASS, Outcome.FAIL)
FAILED = (Outcome.FAIL, Outcome.ERROR)

_K = TypeVar("_K")


@dataclass(frozen=True, slots=True)
class CheckCounts:
    """One check's runs in one category over the window."""

    check: str
    category: Category
    passed: int
    failed: int
    errored: int
    skipped: int
    flaky_passes: int
    first: datetime  # an unconfigured check is listed under the category it first ran in
    newest: datetime
    newest_pass: datetime | None

    @property
    def judged(self) -> int:
        return self.passed + self.failed + self.errored


@dataclass(frozen=True)
class IntegrationEvidence:
    """One integration's window. Percentile maps hold a key only where there were durations."""

    checks: tuple[CheckCounts, ...] = ()  # sorted by (check, category)
    category_latency: Mapping[Category, Mapping[float, float]] = field(default_factory=dict)
    latency: Mapping[float, float] = field(default_factory=dict)  # over all its categories
    distribution: tuple[int, ...] = (0,) * (len(LATENCY_BUCKETS) + 1)
    newest: Mapping[str, CheckResult] = field(default_factory=dict)  # per check, skipped or not
    newest_judged: Mapping[str, CheckResult] = field(default_factory=dict)  # per check, not skipped
    last_failure: Mapping[Category, CheckResult] = field(default_factory=dict)  # per category


@dataclass(frozen=True)
class WindowEvidence:
    since: datetime
    until: datetime
    # The integration-level latency percentiles computed (the policies' `latency.percentile`s).
    percentiles: frozenset[float]
    integrations: Mapping[str, IntegrationEvidence]


def nearest_rank(pct: float, n: int) -> int:
    """The 1-based rank of the nearest-rank percentile among n ordered values; the store uses it
    too, so both pick the very same observation."""
    return max(1, math.ceil(pct / 100 * n))


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile: an observed value, never an interpolation between two."""
    if not values:
        return None
    return sorted(values)[nearest_rank(pct, len(values)) - 1]


def bucket_of(duration_s: float) -> int | None:
    """The distribution bucket of a duration: lower bound inclusive, upper exclusive."""
    lower = 0.0
    for i, upper in enumerate((*LATENCY_BUCKETS, math.inf)):
        if lower <= duration_s < upper:
            return i
        lower = upper
    return None


def from_results(
    results: Iterable[CheckResult], *, since: datetime, until: datetime, percentiles: Collection[float]
) -> WindowEvidence:
    by_integration: dict[str, list[CheckResult]] = {}
    for r in results:
        if since <= r.started_at <= until:
            by_integration.setdefault(r.integration, []).append(r)
    wanted = frozenset(percentiles)
    return WindowEvidence(
        since=since,
        until=until,
        percentiles=wanted,
        integrations={name: _integration(rs, wanted) for name, rs in by_integration.items()},
    )


def _integration(rs: list[CheckResult], percentiles: frozenset[float]) -> IntegrationEvidence:
    groups: dict[tuple[str, Category], list[CheckResult]] = {}
    timed: dict[Category, list[float]] = {}
    newest: dict[str, CheckResult] = {}
    judged: dict[str, CheckResult] = {}
    failures: dict[Category, CheckResult] = {}
    for r in rs:  # in recording order, so `>=` lets the later of two equal timestamps win
        groups.setdefault((r.check, r.category), []).append(r)
        if r.outcome in TIMED:
            timed.setdefault(r.category, []).append(r.duration_s)
        _keep_newest(newest, r.check, r)
        if r.outcome is not Outcome.SKIPPED:
            _keep_newest(judged, r.check, r)
        if r.outcome in FAILED:
            _keep_newest(failures, r.category, r)
    every = [d for ds in timed.values() for d in ds]
    return IntegrationEvidence(
        checks=tuple(_counts(check, cat, mine) for (check, cat), mine in sorted(groups.items())),
        category_latency={c: _percentiles(ds, CATEGORY_PERCENTILES) for c, ds in timed.items()},
        latency=_percentiles(every, percentiles) if every else {},
        distribution=_distribution(every),
        newest=newest,
        newest_judged=judged,
        last_failure=failures,
    )


def _keep_newest(newest: dict[_K, CheckResult], key: _K, r: CheckResult) -> None:
    seen = newest.get(key)
    if seen is None or r.started_at >= seen.started_at:
        newest[key] = r


def _counts(check: str, category: Category, rs: list[CheckResult]) -> CheckCounts:
    passes = [r for r in rs if r.outcome is Outcome.PASS]
    return CheckCounts(
        check=check,
        category=category,
        passed=len(passes),
        failed=sum(1 for r in rs if r.outcome is Outcome.FAIL),
        errored=sum(1 for r in rs if r.outcome is Outcome.ERROR),
        skipped=sum(1 for r in rs if r.outcome is Outcome.SKIPPED),
        flaky_passes=sum(1 for r in passes if r.flaky),
        first=min(r.started_at for r in rs),
        newest=max(r.started_at for r in rs),
        newest_pass=max((r.started_at for r in passes), default=None),
    )


def _percentiles(durations: Sequence[float], wanted: Iterable[float]) -> dict[float, float]:
    ordered = sorted(durations)
    return {p: ordered[nearest_rank(p, len(ordered)) - 1] for p in wanted}


def _distribution(durations: Iterable[float]) -> tuple[int, ...]:
    counts = [0] * (len(LATENCY_BUCKETS) + 1)
    for d in durations:
        i = bucket_of(d)
        if i is not None:
            counts[i] += 1
    return tuple(counts)
