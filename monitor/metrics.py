"""Prometheus metrics on our own CollectorRegistry (never the global one).

Metric names are public API (DESIGN.md). Labels come only from config (integration, check,
category, operation) and from our enums (outcome, verdict) — never from URLs, users or
provider messages, so a provider cannot explode our series count.

The per-check series and the schedule-lag histogram live in compact state
(monitor/metrics_series.py) and are rendered by monitor/metrics_render.py: prometheus_client's
child objects cost ~7 KB per check and ~256 µs per check per scrape (bench/README.md). The
low-cardinality per-integration series stay ordinary prometheus_client Gauges.
"""

from __future__ import annotations

import contextlib
from bisect import bisect_left
from collections.abc import Iterable
from types import MappingProxyType

from prometheus_client import CollectorRegistry, Gauge

from monitor import __version__
from monitor.config import ResolvedCheck
from monitor.config.resolved import CONTRACT_CHECK_PREFIX
from monitor.metrics_render import render
from monitor.metrics_series import DURATION_BUCKETS, LAG_BUCKETS, OUTCOMES, SeriesTable
from monitor.model import Category, CheckResult, Outcome, RateLimit, Verdict

_OUTCOME_INDEX = MappingProxyType({outcome: i for i, outcome in enumerate(OUTCOMES)})


class Metrics:
    """All of atom-monitor's series. One instance per process, hung off the app."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._plain: list[Gauge] = []  # in registration order, as generate_latest walks them
        self.readiness = self._gauge(
            "integration_readiness_score", "Readiness score 0..1 over the policy window.", ("integration",)
        )
        self.verdict = self._gauge(
            "integration_verdict", "1 on the integration's current verdict.", ("integration", "verdict")
        )
        self.claim_contradicted = self._gauge(
            "integration_claim_contradicted",
            "1 when the measured evidence refutes the integration's claimed status.",
            ("integration",),
        )
        self.contract_conformant = self._gauge(
            "integration_contract_conformant",
            "1 when the provider's live responses satisfy the contract operation.",
            ("integration", "operation"),
        )
        self.ratelimit_remaining = self._gauge(
            "integration_ratelimit_remaining", "Requests left in the provider's window.", ("integration",)
        )
        self.ratelimit_limit = self._gauge(
            "integration_ratelimit_limit", "The provider's request limit per window.", ("integration",)
        )
        self.reload_success = self._gauge(
            "monitor_config_reload_success", "1 if the last config (re)load succeeded."
        )
        self.reload_timestamp = self._gauge(
            "monitor_config_reload_timestamp_seconds", "Unix time of the last successful config load."
        )
        build = self._gauge("monitor_build_info", "atom-monitor build information.", ("version",))
        build.labels(version=__version__).set(1)
        self.reload_success.set(1)
        self._series = SeriesTable()
        self.registry.register(self._series)

    def _gauge(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        gauge = Gauge(name, documentation, labels, registry=self.registry)
        self._plain.append(gauge)
        return gauge

    def declare(self, checks: Iterable[ResolvedCheck]) -> None:
        """Create every known series at zero so they exist before the first run and never vanish
        while configured; drop the series of checks no longer configured."""
        configured = list(checks)
        wanted = [(c.integration, c.name, c.category.value) for c in configured]
        for integration, check, category in self._series.keep(wanted, {c.integration for c in configured}):
            if (operation := _operation(check, category)) is not None:
                _remove(self.contract_conformant, (integration, operation))

    def observe(self, result: CheckResult) -> None:
        series = self._series.check((result.integration, result.check, result.category.value))
        series.runs[_OUTCOME_INDEX[result.outcome]] += 1
        if result.flaky:
            series.flaky += 1
        if result.ratelimit is not None:
            self.observe_ratelimit(result.integration, result.ratelimit)
        if result.outcome is Outcome.SKIPPED:
            return  # nothing was judged: keep the last known success and latency
        passed = result.outcome is Outcome.PASS
        series.success = 1.0 if passed else 0.0
        operation = _operation(result.check, result.category.value)
        if operation is not None and result.outcome in (Outcome.PASS, Outcome.FAIL):
            # Drift is judged only on an answer: a provider that is down (error) is not drift.
            self.contract_conformant.labels(result.integration, operation).set(1 if passed else 0)
        duration = result.duration_s
        series.counts[bisect_left(DURATION_BUCKETS, duration)] += 1
        series.duration_sum += duration
        series.last_run = result.started_at.timestamp() + duration

    def observe_lag(self, integration: str, seconds: float) -> None:
        """How late a scheduled run of one of `integration`'s checks started."""
        series = self._series.lag(integration)
        series.counts[bisect_left(LAG_BUCKETS, seconds)] += 1
        series.total += seconds

    def observe_ratelimit(self, integration: str, rl: RateLimit) -> None:
        if rl.remaining is not None:
            self.ratelimit_remaining.labels(integration).set(rl.remaining)
        if rl.limit is not None:
            self.ratelimit_limit.labels(integration).set(rl.limit)

    def forget_integrations(self, keep: set[str]) -> None:
        """Drop readiness and rate-limit series of integrations no longer configured (after a
        reload): a removed integration must not keep showing its last quota or verdict."""
        per_integration = (
            self.readiness,
            self.claim_contradicted,
            self.ratelimit_remaining,
            self.ratelimit_limit,
        )
        for metric in per_integration:
            for labels in {s.labels["integration"] for m in metric.collect() for s in m.samples}:
                if labels not in keep:
                    _remove(metric, (labels,))
                    for v in Verdict:
                        _remove(self.verdict, (labels, v.value))

    def set_verdict(self, integration: str, verdict: Verdict, score: float) -> None:
        self.readiness.labels(integration).set(score)
        for v in Verdict:
            self.verdict.labels(integration, v.value).set(1 if v is verdict else 0)

    async def render_text(self) -> bytes:
        """The text exposition (0.0.4, UTF-8) of every series here, byte for byte what
        `generate_latest(self.registry)` gives when the registry holds only ours, rendered with
        yields to the event loop so a scrape of 10,000 checks never holds it for long."""
        return await render(self._plain, self._series)


def _operation(check: str, category: str) -> str | None:
    """The contract operation a `contract_<operation>` check verifies (None for other checks)."""
    if category == Category.CONTRACT.value and check.startswith(CONTRACT_CHECK_PREFIX):
        return check.removeprefix(CONTRACT_CHECK_PREFIX)
    return None


def _remove(metric: Gauge, labels: tuple[str, ...]) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
