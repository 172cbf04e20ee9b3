"""Compact state for the per-check series and the per-integration schedule lag, and the collector
that shows it to prometheus_client.

prometheus_client keeps one child object per label set: a 13-bucket histogram child holds a lock
and a value object per bucket, and each of the four `runs_total` outcomes is a child of its own —
~7 KB per configured check, 70 MB at 10,000 checks (bench/README.md, round 1, finding 4). Here a
check is one `__slots__` object holding plain ints and floats, and its label string is formatted
once.

This module is the one source of truth for those series: `SeriesTable.collect()` (what
`registry.get_sample_value`, the OpenMetrics fallback and `generate_latest` read) and
monitor/metrics_render.py (what an ordinary scrape reads) both walk the same objects, with the
names, HELP texts and bucket bounds of `FAMILIES` below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from prometheus_client import utils as _prom_utils
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from monitor.model import Outcome

# The library's own float formatting, so both paths print a value identically.
go_float: Callable[[float], str] = _prom_utils.floatToGoString

CHECK_LABELS = ("integration", "check", "category")
CheckKey = tuple[str, str, str]  # label values in CHECK_LABELS order
# Latency buckets sized for API calls: most answer in 50-800 ms; budgets sit around 800 ms.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
OUTCOMES = tuple(Outcome)  # the order of a check's `runs_total` samples
# `le` label values exactly as prometheus_client's Histogram writes them.
DURATION_LE = (*(go_float(b) for b in DURATION_BUCKETS), "+Inf")
LAG_LE = (*(go_float(b) for b in LAG_BUCKETS), "+Inf")


class Family(NamedTuple):
    name: str  # as exposed: a counter's name carries its `_total`
    help: str
    type: str


SUCCESS = Family("integration_check_success", "1 if the check's last run passed, else 0.", "gauge")
DURATION = Family(
    "integration_check_duration_seconds", "Duration of check runs, as measured by the runner.", "histogram"
)
RUNS = Family(
    "integration_check_runs_total", "Check runs by outcome (pass, fail, error, skipped).", "counter"
)
FLAKY = Family(
    "integration_check_flaky_total",
    "Check runs that passed only after a retry of a network error.",
    "counter",
)
LAST_RUN = Family(
    "integration_check_last_run_timestamp_seconds", "Unix time the check last finished.", "gauge"
)
LAG = Family(
    "monitor_schedule_lag_seconds",
    "How late each scheduled check run started, per integration (a hang shows where it is).",
    "histogram",
)
# The order collect() yields them in, and so the order of the text.
FAMILIES = (SUCCESS, DURATION, RUNS, FLAKY, LAST_RUN, LAG)


def label_text(pairs: Sequence[tuple[str, str]]) -> str:
    """`k="v",...` sorted by name and escaped as prometheus_client's text exposition does."""
    return ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(pairs))


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class CheckSeries:
    """One configured check: the state behind its five families (~0.6 KB with its dict entry)."""

    __slots__ = ("counts", "duration_sum", "flaky", "labels", "last_run", "runs", "success", "text")

    def __init__(self, labels: CheckKey) -> None:
        self.labels = labels  # (integration, check, category), as CHECK_LABELS
        self.text = label_text(list(zip(CHECK_LABELS, labels, strict=True)))
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)  # per bucket, not cumulative; last is +Inf
        self.duration_sum = 0.0
        self.runs = [0] * len(OUTCOMES)
        self.flaky = 0
        # 1.0 or 0.0; None until the first judged run (a skip says nothing of success or latency).
        self.success: float | None = None
        self.last_run: float | None = None


class LagSeries:
    """One integration's schedule-lag histogram."""

    __slots__ = ("counts", "integration", "text", "total")

    def __init__(self, integration: str) -> None:
        self.integration = integration
        self.text = label_text([("integration", integration)])
        self.counts = [0] * (len(LAG_BUCKETS) + 1)
        self.total = 0.0


class SeriesTable(Collector):
    """Every per-check and per-integration lag series, as a prometheus_client collector."""

    def __init__(self) -> None:
        self.checks: dict[CheckKey, CheckSeries] = {}
        self.lags: dict[str, LagSeries] = {}

    def check(self, key: CheckKey) -> CheckSeries:
        series = self.checks.get(key)
        if series is None:
            series = self.checks[key] = CheckSeries(key)
        return series

    def lag(self, integration: str) -> LagSeries:
        series = self.lags.get(integration)
        if series is None:
            series = self.lags[integration] = LagSeries(integration)
        return series

    def keep(self, wanted: Sequence[CheckKey], integrations: set[str]) -> list[CheckKey]:
        """Create `wanted` at zero (in config order), drop everything else; returns the dropped keys."""
        keys = set(wanted)
        dropped = [k for k in self.checks if k not in keys]
        for key in dropped:
            del self.checks[key]
        for gone in [i for i in self.lags if i not in integrations]:
            del self.lags[gone]
        for key in wanted:
            self.check(key)
        for integration in sorted(integrations):
            self.lag(integration)
        return dropped

    def describe(self) -> Iterator[Metric]:
        """The families without samples: what the registry checks for clashing names."""
        yield from _empty_families()

    def collect(self) -> Iterator[Metric]:
        # Snapshots: a scrape in another thread must not see a dict change size under it.
        success, duration, runs, flaky, last_run, _ = _empty_families()
        for s in list(self.checks.values()):
            labels = list(s.labels)
            if s.success is not None:
                success.add_metric(labels, s.success)
            duration.add_metric(labels, _buckets(s.counts, DURATION_LE), s.duration_sum)
            for outcome, n in zip(OUTCOMES, s.runs, strict=True):
                runs.add_metric([*labels, outcome.value], float(n))
            flaky.add_metric(labels, float(s.flaky))
            if s.last_run is not None:
                last_run.add_metric(labels, s.last_run)
        yield from (success, duration, runs, flaky, last_run, self.lag_family())

    def lag_family(self) -> HistogramMetricFamily:
        lag = _empty_families()[-1]
        for g in list(self.lags.values()):
            lag.add_metric([g.integration], _buckets(g.counts, LAG_LE), g.total)
        return lag


def _buckets(counts: Sequence[int], les: Sequence[str]) -> list[tuple[str, float]]:
    out, total = [], 0
    for le, n in zip(les, counts, strict=True):
        total += n
        out.append((le, float(total)))
    return out


_Families = tuple[
    GaugeMetricFamily,
    HistogramMetricFamily,
    CounterMetricFamily,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
]


def _empty_families() -> _Families:
    return (
        GaugeMetricFamily(SUCCESS.name, SUCCESS.help, labels=CHECK_LABELS),
        HistogramMetricFamily(DURATION.name, DURATION.help, labels=CHECK_LABELS),
        CounterMetricFamily(RUNS.name, RUNS.help, labels=(*CHECK_LABELS, "outcome")),
        CounterMetricFamily(FLAKY.name, FLAKY.help, labels=CHECK_LABELS),
        GaugeMetricFamily(LAST_RUN.name, LAST_RUN.help, labels=CHECK_LABELS),
        HistogramMetricFamily(LAG.name, LAG.help, labels=("integration",)),
    )
