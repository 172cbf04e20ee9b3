"""Window evidence from a list of results: the reference the store's SQL must match, so each of
its choices (window ends, ties, which runs are latency samples, buckets) is pinned here."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config.models import Policy
from monitor.evidence import LATENCY_BUCKETS, bucket_of, from_results, nearest_rank, percentile
from monitor.model import Category, CheckResult, Outcome
from monitor.readiness import assess_evidence

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(hours=1)


def _run(outcome: Outcome, at: datetime = NOW, duration: float = 0.1, **kw: object) -> CheckResult:
    base = CheckResult(
        run_id="r",
        integration="gh",
        check="issues",
        category=Category.RETRIEVAL,
        outcome=outcome,
        started_at=at,
        duration_s=duration,
        reason=outcome.value,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_window_ends_are_inclusive() -> None:
    """Results at exactly `since` and `until` count; a microsecond beyond either end does not."""
    tick = timedelta(microseconds=1)
    rs = [_run(Outcome.PASS, at) for at in (SINCE - tick, SINCE, NOW, NOW + tick)]
    [counts] = from_results(rs, since=SINCE, until=NOW, percentiles=()).integrations["gh"].checks
    assert (counts.passed, counts.first, counts.newest) == (2, SINCE, NOW)


def test_of_equal_timestamps_the_later_recorded_is_newest() -> None:
    """Ties in started_at go to the result later in the list, as they go to the later row in the store."""
    rs = [_run(Outcome.FAIL, reason="first"), _run(Outcome.ERROR, reason="second"), _run(Outcome.SKIPPED)]
    ev = from_results(rs, since=SINCE, until=NOW, percentiles=()).integrations["gh"]
    assert ev.newest["issues"].outcome is Outcome.SKIPPED
    assert ev.newest_judged["issues"].reason == "second"
    assert ev.last_failure[Category.RETRIEVAL].reason == "second"


def test_only_passes_and_failures_are_latency_samples() -> None:
    """An error's duration (a timeout) and a skip's are not latencies: percentiles and the
    distribution count passes and failures only."""
    rs = [
        _run(Outcome.PASS, duration=0.1),
        _run(Outcome.FAIL, duration=0.3),
        _run(Outcome.ERROR, duration=30.0),
        _run(Outcome.SKIPPED, duration=20.0),
    ]
    ev = from_results(rs, since=SINCE, until=NOW, percentiles={95}).integrations["gh"]
    assert ev.latency == {95: 0.3}
    assert ev.category_latency[Category.RETRIEVAL] == {50: 0.1, 95: 0.3, 99: 0.3}
    assert sum(ev.distribution) == 2


@pytest.mark.parametrize(
    ("duration", "bucket"), [(0.0, 0), (0.049999, 0), (0.05, 1), (0.8, 5), (10.0, len(LATENCY_BUCKETS))]
)
def test_buckets_include_their_lower_bound(duration: float, bucket: int) -> None:
    """A duration on a bucket bound belongs to the bucket above it; the last bucket is unbounded."""
    assert bucket_of(duration) == bucket


def test_nearest_rank_is_the_rank_percentile_picks() -> None:
    """The rank the store asks SQL for is the one `percentile` takes, small windows included."""
    values = [0.5, 0.1, 0.4, 0.2, 0.3]
    for pct in (1, 50, 90, 95, 99, 100):
        assert percentile(values, pct) == sorted(values)[nearest_rank(pct, len(values)) - 1]
    assert nearest_rank(95, 1) == 1 and nearest_rank(50, 4) == 2


def test_evidence_without_the_policy_percentile_is_refused() -> None:
    """Judging evidence that lacks the policy's latency percentile is an error, not a silent pass."""
    ev = from_results([_run(Outcome.PASS)], since=SINCE, until=NOW, percentiles={90})
    with pytest.raises(ValueError, match="lacks latency percentiles"):
        assess_evidence(ev, policy=Policy(), integrations={"gh": {Category.RETRIEVAL}})
