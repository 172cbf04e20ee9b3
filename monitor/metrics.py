"""Prometheus metrics on our own CollectorRegistry (never the global one).

Metric names are public API (DESIGN.md). Labels come only from config (integration, check,
category, operation) and from our enums (outcome, verdict) — never from URLs, users or
provider messages, so a provider cannot explode our series count.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from monitor import __version__
from monitor.config import ResolvedCheck
from monitor.config.resolved import CONTRACT_CHECK_PREFIX
from monitor.model import Category, CheckResult, Outcome, RateLimit, Verdict

_CHECK_LABELS = ("integration", "check", "category")
# Latency buckets sized for API calls: most answer in 50-800 ms; budgets sit around 800 ms.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 2.5, 5.0, 10.0, 30.0)
_LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class Metrics:
    """All of atom-monitor's series. One instance per process, hung off the app."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # `_created` series double every counter and histogram and nobody graphs them: a third of
        # the /metrics body and its render time (bench/README.md). The switch is the library's own.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.success = Gauge(
            "integration_check_success",
            "1 if the check's last run passed, else 0.",
            _CHECK_LABELS,
            registry=r,
        )
        self.duration = Histogram(
            "integration_check_duration_seconds",
            "Duration of check runs, as measured by the runner.",
            _CHECK_LABELS,
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.runs = Counter(
            "integration_check_runs",
            "Check runs by outcome (pass, fail, error, skipped).",
            (*_CHECK_LABELS, "outcome"),
            registry=r,
        )
        self.flaky = Counter(
            "integration_check_flaky",
            "Check runs that passed only after a retry of a network error.",
            _CHECK_LABELS,
            registry=r,
        )
        self.last_run = Gauge(
            "integration_check_last_run_timestamp_seconds",
            "Unix time the check last finished.",
            _CHECK_LABELS,
            registry=r,
        )
        self.readiness = Gauge(
            "integration_readiness_score",
            "Readiness score 0..1 over the policy window.",
            ["integration"],
            registry=r,
        )
        self.verdict = Gauge(
            "integration_verdict",
            "1 on the integration's current verdict.",
            ["integration", "verdict"],
            registry=r,
        )
        self.claim_contradicted = Gauge(
            "integration_claim_contradicted",
            "1 when the measured evidence refutes the integration's claimed status.",
            ["integration"],
            registry=r,
        )
        self.contract_conformant = Gauge(
            "integration_contract_conformant",
            "1 when the provider's live responses satisfy the contract operation.",
            ["integration", "operation"],
            registry=r,
        )
        self.ratelimit_remaining = Gauge(
            "integration_ratelimit_remaining",
            "Requests left in the provider's window.",
            ["integration"],
            registry=r,
        )
        self.ratelimit_limit = Gauge(
            "integration_ratelimit_limit",
            "The provider's request limit per window.",
            ["integration"],
            registry=r,
        )
        self.schedule_lag = Histogram(
            "monitor_schedule_lag_seconds",
            "How late each scheduled check run started, per integration (a hang shows where it is).",
            ["integration"],
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.reload_success = Gauge(
            "monitor_config_reload_success", "1 if the last config (re)load succeeded.", registry=r
        )
        self.reload_timestamp = Gauge(
            "monitor_config_reload_timestamp_seconds",
            "Unix time of the last successful config load.",
            registry=r,
        )
        build = Gauge("monitor_build_info", "atom-monitor build information.", ["version"], registry=r)
        build.labels(version=__version__).set(1)
        self.reload_success.set(1)
        self._known: set[tuple[str, str, str]] = set()

    def declare(self, checks: Iterable[ResolvedCheck]) -> None:
        """Create every known series at zero so they exist before the first run and never vanish
        while configured; drop the series of checks no longer configured."""
        wanted = {(c.integration, c.name, c.category.value) for c in checks}
        integrations = {c.integration for c in checks}
        for gone in {k[0] for k in self._known} - integrations:
            _remove(self.schedule_lag, (gone,))
        for name in integrations:
            self.schedule_lag.labels(name)
        for labels in self._known - wanted:
            if (operation := _operation(labels[1], labels[2])) is not None:
                _remove(self.contract_conformant, (labels[0], operation))
            for metric in (self.success, self.duration, self.last_run, self.flaky):
                _remove(metric, labels)
            for outcome in Outcome:
                _remove(self.runs, (*labels, outcome.value))
        for labels in wanted - self._known:
            self.duration.labels(*labels)
            self.flaky.labels(*labels)
            for outcome in Outcome:
                self.runs.labels(*labels, outcome.value)
        self._known = wanted

    def observe(self, result: CheckResult) -> None:
        labels = (result.integration, result.check, result.category.value)
        self.runs.labels(*labels, result.outcome.value).inc()
        if result.flaky:
            self.flaky.labels(*labels).inc()
        if result.ratelimit is not None:
            self.observe_ratelimit(result.integration, result.ratelimit)
        if result.outcome is Outcome.SKIPPED:
            return  # nothing was judged: keep the last known success and latency
        self.success.labels(*labels).set(1 if result.outcome is Outcome.PASS else 0)
        operation = _operation(result.check, result.category.value)
        if operation is not None and result.outcome in (Outcome.PASS, Outcome.FAIL):
            # Drift is judged only on an answer: a provider that is down (error) is not drift.
            self.contract_conformant.labels(result.integration, operation).set(
                1 if result.outcome is Outcome.PASS else 0
            )
        self.duration.labels(*labels).observe(result.duration_s)
        self.last_run.labels(*labels).set(result.started_at.timestamp() + result.duration_s)

    def observe_ratelimit(self, integration: str, rl: RateLimit) -> None:
        if rl.remaining is not None:
            self.ratelimit_remaining.labels(integration).set(rl.remaining)
        if rl.limit is not None:
            self.ratelimit_limit.labels(integration).set(rl.limit)

    def forget_integrations(self, keep: set[str]) -> None:
        """Drop readiness series of integrations no longer configured (after a reload)."""
        for metric in (self.readiness, self.claim_contradicted):
            for labels in {s.labels["integration"] for m in metric.collect() for s in m.samples}:
                if labels not in keep:
                    _remove(metric, (labels,))
                    for v in Verdict:
                        _remove(self.verdict, (labels, v.value))

    def set_verdict(self, integration: str, verdict: Verdict, score: float) -> None:
        self.readiness.labels(integration).set(score)
        for v in Verdict:
            self.verdict.labels(integration, v.value).set(1 if v is verdict else 0)


def _operation(check: str, category: str) -> str | None:
    """The contract operation a `contract_<operation>` check verifies (None for other checks)."""
    if category == Category.CONTRACT.value and check.startswith(CONTRACT_CHECK_PREFIX):
        return check.removeprefix(CONTRACT_CHECK_PREFIX)
    return None


def _remove(metric: Gauge | Counter | Histogram, labels: tuple[str, ...]) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
