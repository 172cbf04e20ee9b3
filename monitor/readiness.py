"""Readiness: a pure function from the window's evidence (monitor/evidence.py: counts,
percentiles and each check's newest results), policy and claims to verdicts.

Rules, in order; the first that applies decides, and its sentence is kept as `rule`:
  1. unknown    no result in the window, or the newest is older than max_evidence_age, or a
                required category has fewer than min_samples judged runs (absence of evidence
                is not evidence: unknown is never ready)
  2. not_ready  a required category's pass ratio is under the policy's requirement
  3. degraded   requirements met, but the latency percentile is over budget, a check outside the
                required categories is failing, or a check passed only after a retry (flaky)
  4. ready      everything above held
A run that errored (timeout, refused) counts as a run that did not pass: a provider that does not
answer is not working. Skipped runs (rate limited) are not evidence either way.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.config.durations import format_duration
from monitor.config.models import Claims, Policy
from monitor.evidence import CheckCounts, IntegrationEvidence, WindowEvidence, from_results
from monitor.model import Category, CheckResult, Outcome, Verdict

# Statuses that say "it works today" (the importer's ClaimedStatus.asserts_working, plus the
# words a hand-written claim may use): evidence of not_ready refutes them.
_PRODUCTION_CLAIMS = {
    "production_ready",
    "operational",
    "complete",
    "completed",
    "ready",
    "ready_for_deployment",
    "ga",
    "live",
    "validated",
}
# Feature values that claim the feature works (not "required", "planned", "partial").
_DONE_FEATURE = {
    "complete",
    "completed",
    "done",
    "available",
    "yes",
    "ready",
    "configured",
    "working",
    "operational",
}
# Claimed features and the categories that measure them; others are unverifiable by probes.
_FEATURE_CATEGORIES: dict[str, tuple[Category, ...]] = {
    "oauth": (Category.AUTH,),
    "auth": (Category.AUTH,),
    "api": (Category.RETRIEVAL, Category.CRUD),
    "enhanced_api": (Category.RETRIEVAL, Category.CRUD),
    "error_handling": (Category.ERROR,),
}


class ClaimVerdict(enum.StrEnum):
    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class CategoryEvidence:
    category: Category
    samples: int  # judged runs: pass + fail + error
    passed: int
    skipped: int
    pass_ratio: float | None
    required: float | None
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    flake_rate: float
    last_pass: datetime | None
    last_failure: CheckResult | None

    @property
    def met(self) -> bool | None:
        if self.required is None or self.pass_ratio is None:
            return None
        return self.pass_ratio >= self.required


@dataclass(frozen=True)
class CheckSummary:
    """One configured check over the window: what a CI test case reports."""

    check: str
    category: Category
    samples: int
    passed: int
    latest: CheckResult | None


@dataclass(frozen=True)
class ClaimJudgement:
    claim: str
    verdict: ClaimVerdict
    because: str


@dataclass(frozen=True)
class IntegrationReadiness:
    integration: str
    verdict: Verdict
    rule: str
    score: float
    samples: int
    newest: datetime | None
    categories: Mapping[Category, CategoryEvidence]
    latency_percentile_s: float | None
    latency_budget_s: float
    failing: tuple[CheckResult, ...] = ()
    claims: tuple[ClaimJudgement, ...] = field(default_factory=tuple)
    checks: tuple[CheckSummary, ...] = ()

    @property
    def claim_contradicted(self) -> bool:
        return any(c.verdict is ClaimVerdict.REFUTED for c in self.claims)


def assess(
    results: Iterable[CheckResult],
    *,
    policy: Policy,
    now: datetime,
    integrations: Mapping[str, set[Category]],
    claims: Mapping[str, Claims | None] | None = None,
    checks: Mapping[str, Mapping[str, Category]] | None = None,
) -> dict[str, IntegrationReadiness]:
    """Judge a list of results: the window's evidence reduced from them, then `assess_evidence`."""
    evidence = from_results(
        results,
        since=now - timedelta(seconds=policy.window),
        until=now,
        percentiles=latency_percentiles(policy, integrations),
    )
    return assess_evidence(evidence, policy=policy, integrations=integrations, claims=claims, checks=checks)


def latency_percentiles(policy: Policy, integrations: Iterable[str]) -> frozenset[float]:
    """The latency percentiles that evidence for these integrations must carry."""
    return frozenset(policy.for_integration(name).latency.percentile for name in integrations)


def assess_evidence(
    evidence: WindowEvidence,
    *,
    policy: Policy,
    integrations: Mapping[str, set[Category]],
    claims: Mapping[str, Claims | None] | None = None,
    checks: Mapping[str, Mapping[str, Category]] | None = None,
) -> dict[str, IntegrationReadiness]:
    """`integrations` maps each integration to the categories its configured checks cover;
    `checks` (optional) to its configured checks, so a check that never ran is still listed.
    The window ends at `evidence.until`, which is "now" for evidence age."""
    missing = latency_percentiles(policy, integrations) - evidence.percentiles
    if missing:
        raise ValueError(f"evidence lacks latency percentiles {sorted(missing)}")
    out = {}
    for name, covered in integrations.items():
        ev = evidence.integrations.get(name, _NOTHING)
        own = policy.for_integration(name)
        judged = _judge(name, ev, own, evidence.until, covered, (claims or {}).get(name))
        out[name] = dataclasses.replace(judged, checks=_check_summaries(ev, (checks or {}).get(name, {})))
    return out


_NOTHING = IntegrationEvidence()


def _check_summaries(ev: IntegrationEvidence, configured: Mapping[str, Category]) -> tuple[CheckSummary, ...]:
    names = dict(configured)
    order = list(Category).index
    by_check: dict[str, list[CheckCounts]] = {}
    for g in sorted(ev.checks, key=lambda g: (g.first, order(g.category))):
        names.setdefault(g.check, g.category)
        by_check.setdefault(g.check, []).append(g)
    out = []
    for check, category in sorted(names.items(), key=lambda kv: (kv[1].value, kv[0])):
        mine = by_check.get(check, [])
        out.append(
            CheckSummary(
                check=check,
                category=category,
                samples=sum(g.judged for g in mine),
                passed=sum(g.passed for g in mine),
                latest=ev.newest.get(check),
            )
        )
    return tuple(out)


def _judge(
    name: str,
    ev: IntegrationEvidence,
    policy: Policy,
    now: datetime,
    covered: set[Category],
    claims: Claims | None,
) -> IntegrationReadiness:
    cats = {c: _category(c, ev, policy) for c in sorted(covered, key=list(Category).index)}
    newest = max((g.newest for g in ev.checks), default=None)
    lat = ev.latency.get(policy.latency.percentile)
    latest = sorted(ev.newest_judged.values(), key=lambda r: (r.category.value, r.check))
    failing = tuple(r for r in latest if r.outcome in (Outcome.FAIL, Outcome.ERROR))
    verdict, rule = _verdict(cats, newest, lat, failing, policy, now)
    ratios = [c.pass_ratio for c in cats.values() if c.pass_ratio is not None]
    score = round(sum(ratios) / len(ratios), 4) if ratios and verdict is not Verdict.UNKNOWN else 0.0
    out = IntegrationReadiness(
        integration=name,
        verdict=verdict,
        rule=rule,
        score=score,
        samples=sum(g.judged for g in ev.checks),
        newest=newest,
        categories=cats,
        latency_percentile_s=lat,
        latency_budget_s=policy.latency.budget,
        failing=failing,
    )
    return out if claims is None else _with_claims(out, claims)


def _verdict(
    cats: Mapping[Category, CategoryEvidence],
    newest: datetime | None,
    latency: float | None,
    failing: Sequence[CheckResult],
    policy: Policy,
    now: datetime,
) -> tuple[Verdict, str]:
    if newest is None:
        return Verdict.UNKNOWN, f"no evidence in the last {format_duration(policy.window)}"
    age = (now - newest).total_seconds()
    if age > policy.max_evidence_age:
        return Verdict.UNKNOWN, (
            f"evidence is stale: newest result is {format_duration(round(age))} old, "
            f"policy allows {format_duration(policy.max_evidence_age)}"
        )
    required = [c for c in cats.values() if c.required is not None]
    for c in required:
        if c.samples < policy.min_samples:
            return (
                Verdict.UNKNOWN,
                f"{c.category} has {c.samples} judged runs, policy needs {policy.min_samples}",
            )
    for c in required:
        if not c.met:
            return Verdict.NOT_READY, (
                f"{c.category} passed {c.passed}/{c.samples} ({_pct(c.pass_ratio)}), "
                f"policy requires {_pct(c.required)}"
            )
    if latency is not None and latency > policy.latency.budget:
        return Verdict.DEGRADED, (
            f"p{policy.latency.percentile:g} latency {latency * 1000:.0f}ms is over the "
            f"{format_duration(policy.latency.budget)} budget"
        )
    soft = [r for r in failing if r.category not in {c.category for c in required}]
    if soft:
        return Verdict.DEGRADED, f"{soft[0].category} check {soft[0].check} is failing: {soft[0].reason}"
    flaky = [c for c in cats.values() if c.flake_rate > 0]
    if flaky:
        return (
            Verdict.DEGRADED,
            f"{flaky[0].category} is flaky: {_pct(flaky[0].flake_rate)} of runs passed only on retry",
        )
    return Verdict.READY, "every required category meets policy with fresh evidence"


def _category(category: Category, ev: IntegrationEvidence, policy: Policy) -> CategoryEvidence:
    mine = [g for g in ev.checks if g.category is category]
    judged = sum(g.judged for g in mine)
    passed = sum(g.passed for g in mine)
    latency = ev.category_latency.get(category, {})
    return CategoryEvidence(
        category=category,
        samples=judged,
        passed=passed,
        skipped=sum(g.skipped for g in mine),
        pass_ratio=passed / judged if judged else None,
        required=policy.require.get(category),
        p50_s=latency.get(50.0),
        p95_s=latency.get(95.0),
        p99_s=latency.get(99.0),
        flake_rate=sum(g.flaky_passes for g in mine) / judged if judged else 0.0,
        last_pass=max((g.newest_pass for g in mine if g.newest_pass is not None), default=None),
        last_failure=ev.last_failure.get(category),
    )


def _with_claims(ir: IntegrationReadiness, claims: Claims) -> IntegrationReadiness:
    judgements = [_judge_status(claims.status, ir)]
    for feature, value in sorted(claims.features.items()):
        judgements.append(_judge_feature(feature, value, ir))
    return dataclasses.replace(ir, claims=tuple(judgements))


def _judge_status(status: str, ir: IntegrationReadiness) -> ClaimJudgement:
    key = status.strip().lower().replace(" ", "_").replace("-", "_")
    claim = f"status: {status}"
    if ir.verdict is Verdict.UNKNOWN:
        return ClaimJudgement(claim, ClaimVerdict.UNVERIFIED, f"nothing measured it yet: {ir.rule}")
    if key in _PRODUCTION_CLAIMS:
        if ir.verdict is Verdict.NOT_READY:
            return ClaimJudgement(claim, ClaimVerdict.REFUTED, f"measured not_ready: {ir.rule}")
        return ClaimJudgement(claim, ClaimVerdict.CONFIRMED, f"measured {ir.verdict}: {ir.rule}")
    # A lesser claim ("partial", "in progress") cannot be contradicted by good evidence.
    return ClaimJudgement(claim, ClaimVerdict.CONFIRMED, f"claims less than ready; measured {ir.verdict}")


def _judge_feature(feature: str, value: str, ir: IntegrationReadiness) -> ClaimJudgement:
    claim = f"{feature}: {value}"
    cats = [ir.categories[c] for c in _FEATURE_CATEGORIES.get(feature.lower(), ()) if c in ir.categories]
    measured = [c for c in cats if c.pass_ratio is not None]
    if not measured:
        return ClaimJudgement(claim, ClaimVerdict.UNVERIFIED, "no check measures this feature")
    claimed_done = value.strip().lower() in _DONE_FEATURE
    broken = [c for c in measured if c.met is False or (c.pass_ratio or 0) == 0]
    if claimed_done and broken:
        c = broken[0]
        return ClaimJudgement(claim, ClaimVerdict.REFUTED, f"{c.category} passed {c.passed}/{c.samples}")
    return ClaimJudgement(
        claim, ClaimVerdict.CONFIRMED, ", ".join(f"{c.category} {_pct(c.pass_ratio)}" for c in measured)
    )


def _pct(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.4g}%"
