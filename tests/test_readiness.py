"""Verdict rules, table-driven over synthetic result sets, including the edges: no samples,
stale samples, exactly at thresholds; and claims judged against the evidence."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config.models import Claims, Policy
from monitor.evidence import percentile
from monitor.model import Category, CheckResult, Outcome, Verdict
from monitor.readiness import ClaimVerdict, assess

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
POLICY = Policy.model_validate(
    {
        "window": "24h",
        "min_samples": 3,
        "max_evidence_age": "1h",
        "require": {"auth": 1.0, "retrieval": 0.9},
        "latency": {"percentile": 95, "budget": "800ms"},
    }
)
A, R, E = Category.AUTH, Category.RETRIEVAL, Category.ERROR


def run(
    cat: Category,
    outcome: str,
    minutes_ago: float = 5,
    duration: float = 0.1,
    check: str | None = None,
    flaky: bool = False,
) -> CheckResult:
    return CheckResult(
        run_id="r",
        integration="gh",
        check=check or f"{cat.value}_check",
        category=cat,
        outcome=Outcome(outcome),
        started_at=NOW - timedelta(minutes=minutes_ago),
        duration_s=duration,
        reason=f"{outcome} reason",
        flaky=flaky,
    )


def many(cat: Category, passes: int, fails: int = 0, **kw: object) -> list[CheckResult]:
    return [run(cat, "pass", minutes_ago=10 + i, **kw) for i in range(passes)] + [  # type: ignore[arg-type]
        run(cat, "fail", minutes_ago=50 + i, **kw)
        for i in range(fails)  # type: ignore[arg-type]
    ]


CASES = [
    ("no samples at all", [], Verdict.UNKNOWN, "no evidence in the last 1d"),
    (
        "only stale samples (2h old)",
        [run(A, "pass", 120)] * 3 + [run(R, "pass", 120)] * 3,
        Verdict.UNKNOWN,
        "evidence is stale",
    ),
    (
        "evidence exactly at max age is fresh",
        [run(A, "pass", 60)] * 3 + [run(R, "pass", 60)] * 3,
        Verdict.READY,
        "every required",
    ),
    (
        "too few samples in a required category",
        many(A, 3) + many(R, 2),
        Verdict.UNKNOWN,
        "retrieval has 2 judged runs, policy needs 3",
    ),
    ("exactly min_samples, all passing", many(A, 3) + many(R, 3), Verdict.READY, "every required category"),
    (
        "one auth failure under a 100% requirement",
        many(A, 9, 1) + many(R, 10),
        Verdict.NOT_READY,
        "auth passed 9/10 (90%), policy requires 100%",
    ),
    ("retrieval exactly at 90%", many(A, 3) + many(R, 9, 1), Verdict.READY, "every required"),
    ("retrieval just under 90%", many(A, 3) + many(R, 8, 1), Verdict.NOT_READY, "retrieval passed 8/9"),
    (
        "errors count as not passing",
        many(A, 3) + many(R, 3) + [run(R, "error")],
        Verdict.NOT_READY,
        "retrieval passed 3/4",
    ),
    (
        "skipped runs are no evidence",
        many(A, 3) + [run(R, "skipped")] * 5,
        Verdict.UNKNOWN,
        "retrieval has 0 judged runs",
    ),
    (
        "latency over budget degrades",
        many(A, 3, duration=0.9) + many(R, 3, duration=0.9),
        Verdict.DEGRADED,
        "p95 latency 900ms is over the 800ms budget",
    ),
    (
        "latency exactly at budget is fine",
        many(A, 3, duration=0.8) + many(R, 3, duration=0.8),
        Verdict.READY,
        "every required",
    ),
    (
        "failing non-required category degrades",
        many(A, 3) + many(R, 3) + [run(E, "fail", 1)],
        Verdict.DEGRADED,
        "error check error_check is failing",
    ),
    ("flaky passes degrade", many(A, 3) + many(R, 3, flaky=True), Verdict.DEGRADED, "retrieval is flaky"),
]


@pytest.mark.parametrize(("name", "results", "verdict", "rule"), CASES, ids=[c[0] for c in CASES])
def test_verdict_rules(name: str, results: list[CheckResult], verdict: Verdict, rule: str) -> None:
    """Each rule decides exactly the verdict the policy says, and names itself."""
    out = assess(results, policy=POLICY, now=NOW, integrations={"gh": {A, R, E}})["gh"]
    assert out.verdict is verdict, out.rule
    assert rule in out.rule


def test_results_outside_window_or_other_integrations_are_ignored() -> None:
    """Only this integration's results inside the window count."""
    old = [run(A, "fail", minutes_ago=60 * 25)] * 5
    other = [dataclasses.replace(run(A, "fail"), integration="slack")]
    out = assess(many(A, 3) + many(R, 3) + old + other, policy=POLICY, now=NOW, integrations={"gh": {A, R}})[
        "gh"
    ]
    assert out.verdict is Verdict.READY and out.categories[A].samples == 3


def test_category_statistics() -> None:
    """Per category: samples, pass ratio, percentiles, last pass and the last failure with its evidence."""
    rs = [*many(R, 9, 1), run(R, "skipped")]
    cat = assess(rs, policy=POLICY, now=NOW, integrations={"gh": {R}})["gh"].categories[R]
    assert (cat.samples, cat.passed, cat.skipped, cat.pass_ratio) == (10, 9, 1, 0.9)
    assert cat.last_pass == NOW - timedelta(minutes=10)
    assert cat.last_failure is not None and cat.last_failure.outcome is Outcome.FAIL
    assert cat.p50_s == 0.1


@pytest.mark.parametrize(
    ("results", "claim", "expected"),
    [
        (many(A, 9, 1) + many(R, 10), "production_ready", ClaimVerdict.REFUTED),
        (many(A, 3) + many(R, 3), "Production Ready", ClaimVerdict.CONFIRMED),
        ([], "production_ready", ClaimVerdict.UNVERIFIED),
        (many(A, 9, 1) + many(R, 10), "partial", ClaimVerdict.CONFIRMED),
    ],
)
def test_claims_against_evidence(results: list[CheckResult], claim: str, expected: ClaimVerdict) -> None:
    """ "Production ready" is refuted by not_ready and unverified by unknown; lesser claims stand."""
    out = assess(
        results, policy=POLICY, now=NOW, integrations={"gh": {A, R}}, claims={"gh": Claims(status=claim)}
    )["gh"]
    assert out.claims[0].verdict is expected
    assert out.claim_contradicted is (expected is ClaimVerdict.REFUTED)


def test_feature_claims() -> None:
    """OAuth is judged by auth checks, API by retrieval and CRUD, a database claim is unverifiable."""
    claims = Claims(
        status="production_ready", features={"oauth": "complete", "api": "complete", "database": "complete"}
    )
    out = assess(
        many(A, 0, 3) + many(R, 3), policy=POLICY, now=NOW, integrations={"gh": {A, R}}, claims={"gh": claims}
    )["gh"]
    got = {j.claim: j.verdict for j in out.claims}
    assert got == {
        "status: production_ready": ClaimVerdict.REFUTED,
        "api: complete": ClaimVerdict.CONFIRMED,
        "database: complete": ClaimVerdict.UNVERIFIED,
        "oauth: complete": ClaimVerdict.REFUTED,
    }


def test_percentile_is_nearest_rank() -> None:
    """Percentiles pick an observed value by nearest rank."""
    assert percentile([0.3, 0.1, 0.2, 0.4], 50) == 0.2
    assert percentile([0.3, 0.1, 0.2, 0.4], 95) == 0.4
    assert percentile([], 95) is None


def test_per_integration_policy_override() -> None:
    """An override loosens or tightens one integration's policy and leaves the others on the
    defaults: 85% retrieval is not_ready by default, ready where the override asks 80%."""
    results = many(A, 5) + many(R, 17, 3)
    beta = [dataclasses.replace(r, integration="beta") for r in results]
    policy = POLICY.model_copy(
        update={
            "overrides": Policy.model_validate(
                {"overrides": {"beta": {"require": {"retrieval": 0.8}}}}
            ).overrides
        }
    )
    out = assess(results + beta, policy=policy, now=NOW, integrations={"gh": {A, R}, "beta": {A, R}})
    assert out["gh"].verdict is Verdict.NOT_READY
    assert out["beta"].verdict is Verdict.READY, out["beta"].rule
