"""Metrics: the compact per-check series read like prometheus_client's, the fast text equals
generate_latest, declare() keeps and drops series, memory stays small, and a scrape yields."""

from __future__ import annotations

import asyncio
import gc
import gzip
import math
import random
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.utils import floatToGoString

from monitor import metrics_render
from monitor.metrics import Metrics
from monitor.metrics_render import SLICE, accepts_text_004, float_text
from monitor.model import Category, CheckResult, Outcome, RateLimit, Verdict
from monitor.server import metrics_handler

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
ODD = 'we"ird\\na\nme'  # a quote, a backslash and a newline: every character the format escapes
STARTED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class _Check:
    """The three fields of a ResolvedCheck that Metrics.declare reads."""

    integration: str
    name: str
    category: Category


def _result(
    check: _Check, outcome: Outcome, duration: float = 0.05, *, flaky: bool = False, rl: Any = None
) -> CheckResult:
    return CheckResult(
        "run", check.integration, check.name, check.category, outcome, STARTED, duration, "why",
        ratelimit=rl, flaky=flaky,
    )  # fmt: skip


def _labels(check: _Check, **extra: str) -> dict[str, str]:
    return {"integration": check.integration, "check": check.name, "category": check.category.value, **extra}


def _sample(m: Metrics, name: str, labels: dict[str, str]) -> float | None:
    return m.registry.get_sample_value(name, labels)


async def _same_as_library(m: Metrics) -> str:
    fast = await m.render_text()
    assert fast == generate_latest(m.registry)
    return fast.decode()


GITHUB_AUTH = _Check("github", "auth_valid", Category.AUTH)
GITHUB_CONTRACT = _Check("github", "contract_get_issue", Category.CONTRACT)
ODD_CHECK = _Check(ODD, ODD, Category.RETRIEVAL)
CAFE = _Check("café", "latency_me", Category.LATENCY)
SLACK = _Check("slack", "contract_auth_test", Category.CONTRACT)
# What declare() owns; readiness and rate-limit gauges follow forget_integrations() instead.
DECLARED_FAMILIES = ("integration_check_", "monitor_schedule_lag_", "integration_contract_conformant")


async def test_render_text_equals_generate_latest() -> None:
    """render_text() is byte-identical to generate_latest(registry) before any run, after runs of
    every outcome in several buckets (escaped and non-ASCII labels, contract checks, flaky,
    skipped, rate limits, verdicts, lag), and after a declare() that drops checks."""
    m = Metrics()
    checks = [GITHUB_AUTH, GITHUB_CONTRACT, ODD_CHECK, CAFE, SLACK]
    m.declare(checks)
    await _same_as_library(m)

    durations = [0.001, 0.005, 0.03, 0.8, 0.81, 29.0, 45.0, 1e-9, 123.456]  # bounds are inclusive
    for i, duration in enumerate(durations):
        for check in checks:
            outcome = list(Outcome)[(i + len(check.name)) % 4]
            m.observe(
                _result(check, outcome, duration, flaky=i % 3 == 0, rl=RateLimit(remaining=i, limit=50))
            )
    m.observe(_result(GITHUB_CONTRACT, Outcome.PASS))
    m.set_verdict("github", Verdict.READY, 0.97)
    m.set_verdict(ODD, Verdict.NOT_READY, 0.25)
    m.claim_contradicted.labels(ODD).set(1)
    for lag in (0.0001, 0.0005, 0.004, 0.3, 7.5):
        m.observe_lag("github", lag)
        m.observe_lag(ODD, lag * 2)
    text = await _same_as_library(m)
    assert 'integration="we\\"ird\\\\na\\nme"' in text
    assert 'integration_contract_conformant{integration="github",operation="get_issue"} 1.0' in text

    m.declare([GITHUB_AUTH, CAFE])
    text = await _same_as_library(m)
    per_check = [line for line in text.splitlines() if line.startswith(DECLARED_FAMILIES)]
    assert per_check and not [line for line in per_check if "we\\" in line or "slack" in line]
    assert "contract_get_issue" not in text and 'operation="get_issue"' not in text
    assert 'monitor_schedule_lag_seconds_count{integration="github"} 5.0' in text


async def test_large_counts_and_odd_floats_render_like_the_library() -> None:
    """Counts past 10**6 switch to Go's exponent form, and sums and timestamps of any size print
    as floatToGoString prints them."""
    m = Metrics()
    m.declare([GITHUB_AUTH])
    m.observe(_result(GITHUB_AUTH, Outcome.PASS, 1e7))
    series = m._series.check(("github", "auth_valid", "auth"))  # no test can run 10**6 checks
    series.runs[:] = [999_999, 1_000_000, 123_456_789, 10**17]
    series.counts[0] = 2_500_000
    series.flaky = 10**6
    await _same_as_library(m)


def test_float_text_matches_float_to_go_string() -> None:
    """float_text, the renderer's fast path, agrees with prometheus_client's floatToGoString."""
    rng = random.Random(7)
    values = [0.0, -0.0, 1.0, 0.1, 1e-7, 5e-324, 123456.789, 999999.9, 1234567.0, 1763712345.123,
              1e16, 1.5e22, -1234567.5, -0.25, math.inf, -math.inf, math.nan, 1.797e308]  # fmt: skip
    values += [rng.uniform(0, 10) ** rng.randint(-30, 30) for _ in range(5000)]
    values += [-v for v in values[-500:]]
    for v in values:
        assert float_text(v) == floatToGoString(v), v


async def test_declare_keeps_series_at_zero_and_drops_removed_checks() -> None:
    """Before any run every check's runs, flaky and duration series exist at 0 (success and last
    run wait for a judged run, as before); a later declare() removes checks, contract series and
    lag series of integrations no longer configured."""
    m = Metrics()
    assert m.registry is not REGISTRY
    m.declare([GITHUB_AUTH, GITHUB_CONTRACT, SLACK])
    for check in (GITHUB_AUTH, GITHUB_CONTRACT, SLACK):
        for outcome in Outcome:
            assert _sample(m, "integration_check_runs_total", _labels(check, outcome=outcome.value)) == 0
        assert _sample(m, "integration_check_flaky_total", _labels(check)) == 0
        assert _sample(m, "integration_check_duration_seconds_count", _labels(check)) == 0
        assert _sample(m, "integration_check_duration_seconds_bucket", _labels(check, le="+Inf")) == 0
        assert _sample(m, "integration_check_success", _labels(check)) is None
    for integration in ("github", "slack"):
        assert _sample(m, "monitor_schedule_lag_seconds_count", {"integration": integration}) == 0

    m.observe(_result(SLACK, Outcome.PASS))
    m.observe(_result(GITHUB_CONTRACT, Outcome.FAIL))
    m.declare([GITHUB_AUTH])
    assert _sample(m, "integration_check_runs_total", _labels(GITHUB_AUTH, outcome="pass")) == 0
    for gone in (GITHUB_CONTRACT, SLACK):
        assert _sample(m, "integration_check_runs_total", _labels(gone, outcome="pass")) is None
        assert _sample(m, "integration_check_success", _labels(gone)) is None
    conformant = "integration_contract_conformant"
    assert _sample(m, conformant, {"integration": "slack", "operation": "auth_test"}) is None
    assert _sample(m, conformant, {"integration": "github", "operation": "get_issue"}) is None
    assert _sample(m, "monitor_schedule_lag_seconds_count", {"integration": "slack"}) is None
    assert _sample(m, "monitor_schedule_lag_seconds_count", {"integration": "github"}) == 0


def test_observe_updates_the_right_samples() -> None:
    """pass, fail and error set success, latency and last run; skipped counts the run and keeps
    the rest; flaky counts; contract drift follows pass and fail but not error."""
    m = Metrics()
    m.declare([GITHUB_AUTH, GITHUB_CONTRACT])
    labels = _labels(GITHUB_AUTH)

    def runs(outcome: str) -> float | None:
        return _sample(m, "integration_check_runs_total", {**labels, "outcome": outcome})

    m.observe(_result(GITHUB_AUTH, Outcome.PASS, 0.2, flaky=True))
    assert runs("pass") == 1 and runs("fail") == 0
    assert _sample(m, "integration_check_success", labels) == 1
    assert _sample(m, "integration_check_flaky_total", labels) == 1
    assert _sample(m, "integration_check_duration_seconds_bucket", {**labels, "le": "0.1"}) == 0
    assert _sample(m, "integration_check_duration_seconds_bucket", {**labels, "le": "0.25"}) == 1
    assert _sample(m, "integration_check_last_run_timestamp_seconds", labels) == STARTED.timestamp() + 0.2

    m.observe(_result(GITHUB_AUTH, Outcome.FAIL, 3.0))
    assert runs("fail") == 1 and _sample(m, "integration_check_success", labels) == 0
    m.observe(_result(GITHUB_AUTH, Outcome.PASS, 0.01))
    m.observe(_result(GITHUB_AUTH, Outcome.ERROR, 0.5))
    assert runs("error") == 1 and _sample(m, "integration_check_success", labels) == 0
    m.observe(_result(GITHUB_AUTH, Outcome.SKIPPED, 9.0, rl=RateLimit(remaining=0, limit=60)))
    assert runs("skipped") == 1 and runs("pass") == 2
    assert _sample(m, "integration_check_success", labels) == 0  # unchanged by the skip
    assert _sample(m, "integration_check_duration_seconds_count", labels) == 4
    assert _sample(m, "integration_check_duration_seconds_sum", labels) == pytest.approx(3.71)
    assert _sample(m, "integration_check_last_run_timestamp_seconds", labels) == STARTED.timestamp() + 0.5
    assert _sample(m, "integration_ratelimit_remaining", {"integration": "github"}) == 0
    assert _sample(m, "integration_ratelimit_limit", {"integration": "github"}) == 60
    assert _sample(m, "integration_check_flaky_total", labels) == 1

    operation = {"integration": "github", "operation": "get_issue"}
    m.observe(_result(GITHUB_CONTRACT, Outcome.FAIL))
    assert _sample(m, "integration_contract_conformant", operation) == 0
    m.observe(_result(GITHUB_CONTRACT, Outcome.PASS))
    m.observe(_result(GITHUB_CONTRACT, Outcome.ERROR))
    assert _sample(m, "integration_contract_conformant", operation) == 1


def test_observe_lag_fills_cumulative_buckets() -> None:
    """observe_lag puts each value in the first bucket whose bound it does not exceed (bounds are
    inclusive, past the last is +Inf) and keeps count and sum, like a prometheus_client Histogram."""
    m = Metrics()
    for seconds in (0.0, 0.0005, 0.0006, 0.003, 0.003, 4.9, 12.0):
        m.observe_lag("github", seconds)

    def bucket(le: str) -> float | None:
        return _sample(m, "monitor_schedule_lag_seconds_bucket", {"integration": "github", "le": le})

    assert [bucket(le) for le in ("0.0005", "0.001", "0.0025", "0.005", "1.0", "5.0", "+Inf")] == [
        2, 3, 3, 5, 5, 6, 7,
    ]  # fmt: skip
    assert _sample(m, "monitor_schedule_lag_seconds_count", {"integration": "github"}) == 7
    assert _sample(m, "monitor_schedule_lag_seconds_sum", {"integration": "github"}) == pytest.approx(16.9071)


def test_declare_allocates_under_one_kilobyte_per_check() -> None:
    """declare() of 10,000 checks keeps under 1,000 bytes per check (tracemalloc).

    Measured ~590 B a check with Python 3.11 (a __slots__ object, its label string, two small
    int lists, its dict entry, plus one lag series per 10 checks); prometheus_client children
    took ~6,900 B. The bound leaves room for longer names and other Python versions, and fails on
    any return to an object per bucket or per outcome."""
    categories = list(Category)
    checks = [_Check(f"integration-{i // 10}", f"check_{i % 10}", categories[i % 7]) for i in range(10_000)]
    m = Metrics()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        m.declare(checks)
        gc.collect()
        per_check = (tracemalloc.get_traced_memory()[0] - before) / len(checks)
    finally:
        tracemalloc.stop()
    assert per_check < 1000, per_check


async def test_render_text_yields_to_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scrape of 2,000 checks yields to the event loop at least once per SLICE checks."""
    m = Metrics()
    m.declare([_Check(f"i{n // 10}", f"c{n}", Category.AUTH) for n in range(2000)])
    real_sleep = asyncio.sleep
    yields = 0

    async def counting_sleep(delay: float, *args: Any) -> Any:
        nonlocal yields
        yields += delay == 0
        return await real_sleep(delay, *args)

    monkeypatch.setattr(metrics_render.asyncio, "sleep", counting_sleep)
    await m.render_text()
    assert yields >= 2000 // SLICE


@pytest.mark.parametrize(
    ("accept", "fast"),
    [
        ("", True),
        ("*/*", True),
        ("text/plain", True),
        ("text/plain; version=0.0.4; charset=utf-8", True),
        (PROMETHEUS_ACCEPT, True),
        ("application/openmetrics-text; version=1.0.0", False),
        ("text/plain;version=1.0.0;escaping=allow-utf-8", False),
        ("text/plain;q=0, application/openmetrics-text", False),
        ("application/json", False),
    ],
)
def test_accepts_text_004(accept: str, fast: bool) -> None:
    """The fast path serves clients that accept text 0.0.4, Prometheus' own Accept header included."""
    assert accepts_text_004(accept) is fast


async def test_metrics_route_negotiates(aiohttp_client: Any) -> None:
    """GET /metrics serves the fast text (gzipped on request) to ordinary scrapes, and the
    library's output to OpenMetrics-only clients and `name[]` filters."""
    m = Metrics()
    m.declare([GITHUB_AUTH, ODD_CHECK])
    m.observe(_result(ODD_CHECK, Outcome.PASS))
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(m))
    client = await aiohttp_client(app)

    plain = await client.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"})
    assert plain.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert plain.headers["Content-Encoding"] == "gzip"
    assert await plain.read() == generate_latest(m.registry)  # the client unzipped it
    raw = await client.get("/metrics", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert gzip.decompress(await raw.read()) == generate_latest(m.registry)

    om = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.headers["Content-Type"].startswith("application/openmetrics-text")
    assert (await om.text()).endswith("# EOF\n")

    only = await client.get("/metrics", params={"name[]": "monitor_build_info"})
    assert (await only.text()).count("# TYPE") == 1


def test_forgetting_an_integration_drops_its_readiness_and_quota_series() -> None:
    """After a reload removes an integration, its verdict, readiness, claim and rate-limit series
    are gone, and those of the integrations kept stay."""
    m = Metrics()
    for name in ("github", "slack"):
        m.set_verdict(name, Verdict.READY, 1.0)
        m.claim_contradicted.labels(name).set(0)
        m.observe_ratelimit(name, RateLimit(remaining=10, limit=100))
    m.forget_integrations({"github"})
    r = m.registry
    for metric in (
        "integration_ratelimit_remaining",
        "integration_ratelimit_limit",
        "integration_readiness_score",
    ):
        assert r.get_sample_value(metric, {"integration": "github"}) is not None, metric
        assert r.get_sample_value(metric, {"integration": "slack"}) is None, metric
    assert r.get_sample_value("integration_verdict", {"integration": "slack", "verdict": "ready"}) is None
