"""The fuzz check in the daemon: `atom-monitor serve` (a subprocess) fuzzes an own integration
service with a planted bug while GitHub's 1 s checks (against the in-process sandbox) keep their
schedule."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, http_get, serve_daemon, wait_for
from tests.probes.fuzz_service import Service, serve_in_thread

pytest.importorskip("schemathesis")
pytestmark = pytest.mark.e2e

TOKEN = "orders-e2e-token-8d1f37c2b9"
BUDGET_S = 5.0


def _config(tmp_path: Path, service_url: str) -> Path:
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "orders.yaml").write_text(
        "provider: orders\n"
        "description: Our own integration service (its OpenAPI document is fuzzed).\n"
        "defaults: {interval: 1s, timeout: 2s}\n"
        "checks:\n"
        "  health: {category: retrieval, http: {path: /health}, expect: {status: 200}}\n"
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""monitor:
  store: sqlite:///{tmp_path}/results.db
  packs_dir: {packs}
  shutdown_grace: 2s
sandbox: true
integrations:
  github:
    pack: github
    auth: {{kind: bearer, token: sandbox-github-token}}
    vars: {{owner: acme, repo: integration-sandbox, issue_number: 1}}
    interval: 1s
    timeout: 2s
  orders:
    pack: orders
    base_url: {service_url}
    auth: {{kind: bearer, token: "${{ORDERS_TOKEN}}"}}
    openapi: {service_url}/openapi.json
    fuzz: {{max_examples: 100, budget: {BUDGET_S:g}s, interval: 3s}}
"""
    )
    return config


def _lag(metrics: str, integration: str) -> dict[str, float]:
    """monitor_schedule_lag_seconds of one integration: its cumulative buckets, `sum` and `count`."""
    out: dict[str, float] = {}
    for line in metrics.splitlines():
        if not line.startswith("monitor_schedule_lag_seconds") or f'integration="{integration}"' not in line:
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("monitor_schedule_lag_seconds_bucket"):
            out[name.split('le="', 1)[1].split('"', 1)[0]] = float(value)
        elif name.startswith("monitor_schedule_lag_seconds_sum"):
            out["sum"] = float(value)
        elif name.startswith("monitor_schedule_lag_seconds_count"):
            out["count"] = float(value)
    return out


def _fuzz_results(url: str) -> list[dict[str, Any]]:
    status, body = http_get(f"{url}/api/v1/results?integration=orders&check=fuzz")
    assert status == 200, body
    results: list[dict[str, Any]] = json.loads(body)["results"]
    return results


def test_daemon_fuzz_finds_the_planted_bug_while_other_checks_keep_their_schedule(tmp_path: Path) -> None:
    """In the daemon the fuzz check finds the planted server error within its budget and stores it
    as an `error`-category failure with a curl reproduction free of the configured secret, while
    GitHub's 1 s checks, scheduled meanwhile, start on time (their schedule lag stays low)."""
    service = Service(token=TOKEN, server_error=True, delay_s=0.01)
    with serve_in_thread(service) as service_url:
        config = _config(tmp_path, service_url)
        with serve_daemon(config, {"ORDERS_TOKEN": TOKEN}, cwd=ROOT) as running:
            proc, url, log = running["proc"], running["url"], running["log"]
            try:
                fuzzed = ("GET /orders/{order_id}", "POST /orders", "GET /customers/{customer_id}")
                wait_for(lambda: any(service.hits[op] for op in fuzzed), 20, "the fuzz check to start")
                before = _lag(http_get(f"{url}/metrics")[1], "github")
                t0 = time.monotonic()
                results = wait_for(lambda: _fuzz_results(url), 30, "a stored fuzz result")
                window = time.monotonic() - t0
                after = _lag(http_get(f"{url}/metrics")[1], "github")
                metrics = http_get(f"{url}/metrics")[1]
            finally:
                proc.terminate()
                proc.wait(timeout=15)
    assert proc.returncode == 0, log.read_text()[-2000:]

    result = results[0]
    assert (result["category"], result["outcome"]) == ("error", "fail"), result["reason"]
    assert result["duration_s"] < BUDGET_S + 3
    assert result["reason"].startswith("GET /orders/{order_id}: server error: expected no server error (5xx)")
    finding = next(a for a in result["assertions"] if a["name"] == "GET /orders/{order_id}: server error")
    assert "reproduce: curl -X GET -H 'Authorization: [REDACTED]'" in finding["actual"]
    assert result["evidence"]["request"].startswith("curl -X GET")
    assert TOKEN not in json.dumps(results)
    assert TOKEN not in metrics and TOKEN not in log.read_text()
    assert (
        'integration_check_runs_total{category="error",check="fuzz",integration="orders",outcome="fail"}'
        in metrics
    )

    # GitHub's checks kept running while the fuzz check ran: every one of their starts within the
    # window was on time.
    runs = after["count"] - before["count"]
    assert window > 1.0 and runs >= 5 * window, (window, runs)
    late = runs - (after["0.1"] - before["0.1"])
    mean = (after["sum"] - before["sum"]) / runs
    assert late == 0 and mean < 0.05, (late, mean, before, after)
