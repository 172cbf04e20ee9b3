"""The Grafana dashboard and the Prometheus rules against a real Prometheus (Debian's package)
scraping a real daemon whose sandbox injects one fault per provider: every panel's PromQL
returns data, the alert for each fault fires, and the healthy provider raises none.

The stack (started once for the module):
  - `atom-monitor serve` with the in-process sandbox and faults from config.yaml:
      github  expired_token                    -> every credential refused: auth fails
      slack   drift of `user_id` (auth.test's schema requires it), and a latency of 1.5 s on
              /api.test (its latency check's budget is 1 s)  -> the drifted and the slow one
      jira    rate_limit (429, Retry-After 30, X-RateLimit-Remaining 0)  -> checks skipped
  - `github_healthy`: the github pack against a second, fault-free `atom-monitor sandbox`
    process (faults apply per provider, so a healthy provider needs its own sandbox);
  - Prometheus scraping the daemon every 1 s, loading a copy of rules.yml evaluated every 1 s.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, ROOT, free_port, http_get, need_binary, wait_for
from tests.dashboards import DASHBOARD, RULES, iter_panels, metric_names, substitute

pytestmark = pytest.mark.e2e

# Produced by the contract-conformance work of a later issue; until then a panel on it is empty.
NOT_YET_PRODUCED = {"integration_contract_conformant"}
# The readiness panel's codes (see the dashboard's value mappings).
READY, DEGRADED, NOT_READY, UNKNOWN = 3.0, 2.0, 1.0, 0.0

CONFIG = """\
monitor:
  store: sqlite:///{tmp}/results.db
  admin_token: ${{ATOM_MONITOR_ADMIN_TOKEN}}
  log_level: info
  shutdown_grace: 2s
  packs_dir: {packs}
sandbox:
  enabled: true
  faults:
    github: [{{kind: expired_token}}]
    slack:
      - {{kind: drift, params: {{field: user_id}}}}
      - {{kind: latency, params: {{ms: 1500, path: /api.test}}}}
    jira: [{{kind: rate_limit, params: {{retry_after: 30}}}}]
policy:
  window: 1h
  min_samples: 3
  max_evidence_age: 5m
  require: {{auth: 1.0, retrieval: 0.99, crud: 0.99, error: 0.95, contract: 1.0}}
  latency: {{percentile: 95, budget: 800ms}}
integrations:
  github:
    pack: github
    interval: 1s
    timeout: 2s
    auth: {{kind: bearer, token: sandbox-github-token}}
    vars: {{owner: acme, repo: integration-sandbox, issue_number: 1}}
    claims: {{status: production_ready}}
  slack:
    pack: slack
    interval: 1s
    timeout: 3s
    auth: {{kind: bearer, token: sandbox-slack-token}}
    vars: {{channel: C0SANDBOX01}}
    claims: {{status: production_ready}}
  jira:
    pack: jira
    interval: 1s
    timeout: 2s
    auth: {{kind: basic, username: monitor@example.com, password: sandbox-jira-token}}
    vars: {{issue_key: SBX-1, project_key: SBX}}
    claims: {{status: production_ready}}
  github_healthy:
    pack: github
    base_url: {healthy}/github
    interval: 1s
    timeout: 2s
    auth: {{kind: bearer, token: sandbox-github-token}}
    vars: {{owner: acme, repo: integration-sandbox, issue_number: 1}}
    claims: {{status: production_ready}}
"""


def _start(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    # Output goes to a file: a pipe nobody reads would fill up and block the process.
    with log.open("w") as sink:
        return subprocess.Popen(args, stdout=sink, stderr=sink, env=env)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    prometheus = need_binary("prometheus")
    tmp = tmp_path_factory.mktemp("dashboards")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sandbox_port = free_port()
        healthy = f"http://127.0.0.1:{sandbox_port}"
        procs.append(
            _start(
                [sys.executable, "-m", "monitor", "sandbox", "--listen", f"127.0.0.1:{sandbox_port}"],
                tmp / "sandbox.log",
            )
        )
        config = tmp / "config.yaml"
        config.write_text(CONFIG.format(tmp=tmp, packs=ROOT / "checks", healthy=healthy))
        daemon_port = free_port()
        daemon = f"http://127.0.0.1:{daemon_port}"
        env = {**os.environ, "ATOM_MONITOR_ADMIN_TOKEN": ADMIN}
        serve = ["serve", "--config", str(config), "--listen", f"127.0.0.1:{daemon_port}"]
        procs.append(_start([sys.executable, "-m", "monitor", *serve], tmp / "daemon.log", env))

        # A test copy of rules.yml: every `for:` shortened to 1s so that alerts fire within seconds
        # of their condition holding (the real durations are proven by the promtool unit tests).
        rules = tmp / "rules.yml"
        rules.write_text(re.sub(r"(?m)^(\s+)for: \S+$", r"\1for: 1s", RULES.read_text()))
        prom_port = free_port()
        prom = f"http://127.0.0.1:{prom_port}"
        (tmp / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: ['{rules}']\n"
            "scrape_configs:\n"
            "  - job_name: atom-monitor\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{daemon_port}']}}]\n"
        )
        procs.append(
            _start(
                [
                    prometheus,
                    f"--config.file={tmp / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                tmp / "prometheus.log",
            )
        )
        wait_for(lambda: http_get(f"{healthy}/_sandbox/healthz")[0] == 200, 30, "the healthy sandbox")
        wait_for(lambda: http_get(f"{daemon}/readyz")[0] == 200, 30, "the daemon to be ready")
        wait_for(lambda: http_get(f"{prom}/-/ready")[0] == 200, 30, "prometheus to be ready")
        wait_for(lambda: _query(prom, 'up{job="atom-monitor"} == 1'), 30, "the first scrape of the daemon")
        yield {"prom": prom, "daemon": daemon, "logs": str(tmp)}
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _query(prom: str, expr: str) -> list[dict[str, Any]]:
    status, body = http_get(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    assert status == 200, f"{expr}: {body}"
    result: list[dict[str, Any]] = json.loads(body)["data"]["result"]
    return result


def _by(result: list[dict[str, Any]], *labels: str) -> dict[Any, float]:
    """{label value (or tuple of values): sample value} of an instant vector."""
    out: dict[Any, float] = {}
    for s in result:
        key = tuple(s["metric"].get(label, "") for label in labels)
        out[key[0] if len(key) == 1 else key] = float(s["value"][1])
    return out


def _eventually(check: Callable[[], None], timeout: float, what: str) -> None:
    """Retry `check` (which asserts) until it passes or `timeout` runs out; then raise its error."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: {exc}") from exc
        time.sleep(0.5)


def _panels() -> dict[str, list[str]]:
    """{panel title: [PromQL of each target, template variables substituted]}."""
    dashboard = json.loads(DASHBOARD.read_text())
    return {
        p["title"]: [substitute(t["expr"]) for t in p["targets"]]
        for p in iter_panels(dashboard["panels"])
        if p.get("targets")
    }


def _panel_query(prom: str, title: str, index: int = 0) -> list[dict[str, Any]]:
    return _query(prom, _panels()[title][index])


def _alerts(prom: str) -> list[dict[str, Any]]:
    status, body = http_get(f"{prom}/api/v1/alerts")
    assert status == 200, body
    alerts: list[dict[str, Any]] = json.loads(body)["data"]["alerts"]
    return alerts


def _firing(prom: str) -> set[tuple[str, str]]:
    return {
        (a["labels"]["alertname"], a["labels"].get("integration", ""))
        for a in _alerts(prom)
        if a["state"] == "firing"
    }


def _assert_healthy_provider_is_quiet(prom: str) -> None:
    noisy = [a for a in _alerts(prom) if a["labels"].get("integration") == "github_healthy"]
    assert not noisy, f"alerts for the healthy provider: {noisy}"
    firing = {name for name, _ in _firing(prom)}
    assert "AtomMonitorDown" not in firing and "AtomMonitorConfigReloadFailed" not in firing, firing


def test_every_panel_query_returns_data(stack: dict[str, str]) -> None:
    """Every panel's PromQL (variables substituted: all integrations and categories, 1m windows)
    returns data from Prometheus; only contract conformance may be empty, until a later issue's
    contract checks produce its metric."""
    prom = stack["prom"]
    panels = _panels()

    def all_have_data() -> None:
        empty = [
            f"{title}: {expr}"
            for title, exprs in panels.items()
            for expr in exprs
            if not metric_names(expr) & NOT_YET_PRODUCED and not _query(prom, expr)
        ]
        assert not empty, "no data for:\n" + "\n".join(empty)

    _eventually(all_have_data, 40, "every panel to return data")

    # Contract conformance: integration_contract_conformant comes from the contract checks of a
    # later issue; tolerate "no data" until they exist. When there is data, it is 0/1 per
    # integration and operation, the healthy provider conforms everywhere, and slack's auth.test
    # (whose `user_id` drifted away) does not.
    def conformance() -> None:
        seen = _by(_panel_query(prom, "Contract conformance"), "integration", "operation")
        if seen:
            assert set(seen.values()) <= {0.0, 1.0}, seen
            healthy = [v for (i, _), v in seen.items() if i == "github_healthy"]
            assert healthy and all(v == 1.0 for v in healthy), seen
            assert any(v == 0.0 for (i, _), v in seen.items() if i == "slack"), seen

    _eventually(conformance, 15, "contract conformance")


def test_panels_show_each_fault(stack: dict[str, str]) -> None:
    """The panels tell the faults apart: the healthy provider is at 100% with no skips and fast
    checks; github and slack fail auth; slack's p99 is over its 1 s budget; jira has no quota
    left and skips its checks; the monitor itself is up with its config loaded."""
    prom = stack["prom"]

    def success_ratios() -> None:
        ratio = _by(
            _panel_query(prom, "Success ratio by integration and category (dashboard range)"),
            "integration",
            "category",
        )
        healthy = {c: v for (i, c), v in ratio.items() if i == "github_healthy"}
        assert set(healthy) >= {"auth", "retrieval", "crud", "error", "latency"}, ratio
        assert all(v == 1.0 for v in healthy.values()), healthy
        assert ratio[("github", "auth")] < 1.0 and ratio[("github", "retrieval")] == 0.0, ratio
        assert ratio[("slack", "auth")] < 1.0 and ratio[("slack", "latency")] == 0.0, ratio
        # Every jira run was skipped: nothing judged, so no ratio (NaN), never a false 0 or 1.
        assert all(math.isnan(v) for (i, _), v in ratio.items() if i == "jira"), ratio

    def latency() -> None:
        p99 = _by(_panel_query(prom, "Latency p50 / p95 / p99", 2), "integration")
        assert p99["slack"] > 1.0, p99
        assert p99["github_healthy"] < 1.0, p99
        heat = _panel_query(prom, "Latency heatmap")
        assert {s["metric"]["le"] for s in heat} >= {"0.5", "1.0", "2.5", "+Inf"}

    def rate_limits() -> None:
        headroom = _by(_panel_query(prom, "Rate-limit headroom"), "integration")
        assert headroom["jira"] < 0.1 and headroom["github_healthy"] > 0.5, headroom
        skipped = _by(_panel_query(prom, "Checks skipped for rate limits"), "integration")
        assert skipped["jira"] > 0 and skipped["github_healthy"] == 0.0, skipped

    def burn_and_flakes() -> None:
        burn = _by(_panel_query(prom, "Error budget burn rate (SLO 99%)"), "integration")
        assert burn["github"] > 14.4 and burn["slack"] > 14.4 and burn["github_healthy"] == 0.0, burn
        flakes = _by(_panel_query(prom, "Flake rate"), "integration")
        assert flakes["github_healthy"] == 0.0, flakes

    def monitor_health() -> None:
        assert [float(s["value"][1]) for s in _panel_query(prom, "Scrape of atom-monitor")] == [1.0]
        assert [float(s["value"][1]) for s in _panel_query(prom, "Config reload")] == [1.0]
        assert [s["metric"]["version"] for s in _panel_query(prom, "Version")]
        lag = _by(_panel_query(prom, "Schedule lag p99"), "integration")
        assert set(lag) == {"github", "slack", "jira", "github_healthy"}, lag
        runs = _panel_query(prom, "Runs per second")
        assert float(runs[0]["value"][1]) > 1.0, runs

    for check, what in (
        (success_ratios, "success ratios"),
        (latency, "latency"),
        (rate_limits, "rate limits"),
        (burn_and_flakes, "burn rate and flakes"),
        (monitor_health, "monitor health"),
    ):
        _eventually(check, 30, what)


def test_alert_fires_for_each_fault(stack: dict[str, str]) -> None:
    """Through /api/v1/alerts: auth failing fires for github (expired token) and slack (auth.test
    drifted), rate limit nearly exhausted for jira, the fast-burn SLO page for github and slack;
    no alert, pending or firing, names the healthy provider, and the monitor is not down."""
    prom = stack["prom"]
    expected = {
        ("IntegrationAuthFailing", "github"),
        ("IntegrationAuthFailing", "slack"),
        ("IntegrationRateLimitNearlyExhausted", "jira"),
        ("IntegrationErrorBudgetBurn", "github"),
        ("IntegrationErrorBudgetBurn", "slack"),
    }

    def fired() -> None:
        missing = expected - _firing(prom)
        assert not missing, f"not firing: {sorted(missing)}; firing: {sorted(_firing(prom))}"

    _eventually(fired, 30, "an alert for each fault")
    pages = {
        (a["labels"]["integration"], a["labels"]["long_window"])
        for a in _alerts(prom)
        if a["labels"]["alertname"] == "IntegrationErrorBudgetBurn" and a["state"] == "firing"
    }
    assert {("github", "1h"), ("slack", "1h")} <= pages, pages
    # Slack's drift: IntegrationContractDrift needs integration_contract_conformant, which the
    # contract checks of a later issue produce; until they exist, auth failing above is how this
    # drift shows. Once slack's auth.test contract check reports the drift, the alert must fire.
    if _query(prom, 'integration_contract_conformant{integration="slack"} == 0'):
        _eventually(lambda: _assert_firing(prom, "IntegrationContractDrift", "slack"), 15, "contract drift")
    assert ("IntegrationAuthFailing", "jira") not in _firing(prom)  # skipped runs judge nothing
    _assert_healthy_provider_is_quiet(prom)


def _assert_firing(prom: str, alert: str, integration: str) -> None:
    assert (alert, integration) in _firing(prom), sorted(_firing(prom))


def test_readiness_panels_return_data(stack: dict[str, str]) -> None:
    """The readiness panels: github and slack are not ready with their production-ready claim
    contradicted, jira (nothing judged) is never ready, and the healthy provider is ready with
    its claim holding."""
    prom = stack["prom"]

    def readiness() -> None:
        verdict = _by(_panel_query(prom, "Readiness verdict"), "integration")
        assert verdict.get("github") == NOT_READY and verdict.get("slack") == NOT_READY, verdict
        assert verdict.get("github_healthy") == READY, verdict
        assert verdict.get("jira") in (UNKNOWN, NOT_READY), verdict  # nothing judged: never ready
        claims = _by(_panel_query(prom, "Claims contradicted"), "integration")
        assert claims.get("github") == 1.0 and claims.get("slack") == 1.0, claims
        assert claims.get("github_healthy") == 0.0, claims
        score = _by(_panel_query(prom, "Readiness score"), "integration")
        assert set(score) >= {"github", "slack", "jira", "github_healthy"}, score
        assert score["github_healthy"] > score["github"], score
        assert _panel_query(prom, "Verdict history")

    _eventually(readiness, 30, "the readiness panels")


def test_readiness_alerts_fire(stack: dict[str, str]) -> None:
    """Through /api/v1/alerts: IntegrationNotReady and IntegrationClaimContradicted fire for github
    and slack (readiness gauges from the daemon), and still nothing for the healthy one."""
    prom = stack["prom"]
    expected = {
        ("IntegrationNotReady", "github"),
        ("IntegrationNotReady", "slack"),
        ("IntegrationClaimContradicted", "github"),
        ("IntegrationClaimContradicted", "slack"),
    }

    def fired() -> None:
        missing = expected - _firing(prom)
        assert not missing, f"not firing: {sorted(missing)}; firing: {sorted(_firing(prom))}"

    _eventually(fired, 30, "the readiness alerts")
    _assert_healthy_provider_is_quiet(prom)
