"""`atom-monitor serve` as a subprocess, scraped by a real Prometheus (Debian's package) on
127.0.0.1: metrics for every check, histogram quantiles, a hanging provider that costs only
its own checks, SIGHUP reloads, and a SIGTERM that loses no completed result."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, free_port
from tests.conftest import http_get as _get
from tests.conftest import need_binary as _need
from tests.conftest import wait_for as _wait

pytestmark = pytest.mark.e2e


def _metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture
def prometheus(daemon: dict[str, Any]) -> Iterator[str]:
    binary = _need("prometheus")
    port = free_port()
    target = daemon["url"].removeprefix("http://")
    with tempfile.TemporaryDirectory() as data:
        cfg = Path(data) / "prometheus.yml"
        cfg.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"scrape_configs:\n  - job_name: atom-monitor\n    static_configs: [{{targets: ['{target}']}}]\n"
        )
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={cfg}",
                f"--storage.tsdb.path={data}/tsdb",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(lambda: _get(f"{url}/-/ready")[0] == 200, 30, "prometheus to be ready")
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _query(prom: str, expr: str) -> list[dict[str, Any]]:
    status, body = _get(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    assert status == 200, body
    result: list[dict[str, Any]] = json.loads(body)["data"]["result"]
    return result


def test_prometheus_scrapes_every_check_and_latency(daemon: dict[str, Any], prometheus: str) -> None:
    """Prometheus sees integration_check_success for every configured check and a latency quantile;
    the hanging provider's checks are 0 while the others are 1 and keep their schedule."""
    from monitor.config import load_config

    checks = load_config(daemon["config"]).checks
    expected = {(c.integration, c.name) for c in checks}

    def all_series() -> list[dict[str, Any]] | None:
        series = _query(prometheus, "integration_check_success")
        got = {(s["metric"]["integration"], s["metric"]["check"]) for s in series}
        return series if got == expected else None

    series = _wait(all_series, 45, "integration_check_success for every check")
    for s in series:
        want = "0" if s["metric"]["integration"] == "slack" else "1"
        assert s["value"][1] == want, s["metric"]
    buckets = 'integration_check_duration_seconds_bucket{integration="github"}'
    q = f"histogram_quantile(0.95, sum by (le) (rate({buckets}[1m])))"
    value = _wait(lambda: _query(prometheus, q), 20, "a latency quantile")
    assert 0 < float(value[0]["value"][1]) < 1.0
    lag = _query(
        prometheus,
        "histogram_quantile(0.99, sum by (le) "
        '(rate(monitor_schedule_lag_seconds_bucket{integration!="slack"}[1m])))',
    )
    assert lag and float(lag[0]["value"][1]) < 0.25


def test_sighup_reload_and_sigterm_keeps_every_result(daemon: dict[str, Any]) -> None:
    """SIGHUP applies a valid config and refuses a broken one (reload_success 0, old config kept);
    SIGTERM exits 0 after storing every result the daemon reported."""
    proc, url, config = daemon["proc"], daemon["url"], daemon["config"]
    original = config.read_text()
    config.write_text(
        original.replace(
            "    vars: {channel: C0SANDBOX01}", "    enabled: false\n    vars: {channel: C0SANDBOX01}"
        )
    )
    proc.send_signal(signal.SIGHUP)
    _wait(lambda: "slack" not in _get(f"{url}/api/v1/integrations")[1], 10, "slack to be removed by reload")
    config.write_text(original.replace("interval: 1s", "interval: 10 sec", 1))
    proc.send_signal(signal.SIGHUP)
    _wait(
        lambda: _metric(_get(f"{url}/metrics")[1], "monitor_config_reload_success") == 0,
        10,
        "a refused reload",
    )
    assert "github" in _get(f"{url}/api/v1/integrations")[1]
    assert _get(f"{url}/api/v1/runs", data=b"{}")[0] == 401
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    stderr = daemon["log"].read_text()
    assert proc.returncode == 0, stderr[-2000:]
    logged = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    reported = [e for e in logged if e.get("event") == "check_run"]
    assert any(e.get("event") == "config_reload_failed" for e in logged)
    with sqlite3.connect(daemon["db"]) as db:
        stored = db.execute("select count(*) from check_results").fetchone()[0]
    assert reported and stored == len(reported)
    assert ADMIN not in stderr


def test_metrics_pass_promtool(daemon: dict[str, Any]) -> None:
    """The /metrics exposition passes `promtool check metrics`."""
    promtool = _need("promtool")
    _wait(lambda: "integration_check_success{" in _get(f"{daemon['url']}/metrics")[1], 20, "a first result")
    text = _get(f"{daemon['url']}/metrics")[1]
    proc = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_live_readiness_and_report(daemon: dict[str, Any]) -> None:
    """The daemon judges its own evidence: the hanging Slack is not_ready and its "production
    ready" claim is refuted (in /api/v1/readiness, the verdict gauges and the HTML /report),
    while GitHub is ready with its claim confirmed."""
    from jsonschema import Draft202012Validator

    from monitor.report import schema

    url = daemon["url"]

    def judged() -> dict[str, Any] | None:
        status, body = _get(f"{url}/api/v1/readiness")
        assert status == 200, body  # an error answer says why, not a KeyError on its body
        doc = json.loads(body)
        verdicts = {i["name"]: i["verdict"] for i in doc["integrations"]}
        return doc if verdicts.get("slack") == "not_ready" and verdicts.get("github") == "ready" else None

    doc = _wait(judged, 40, "slack not_ready and github ready")
    errors = list(Draft202012Validator(schema()).iter_errors(doc))
    assert not errors, errors[0]
    by_name = {i["name"]: i for i in doc["integrations"]}
    assert by_name["slack"]["claim_contradicted"] is True
    assert by_name["github"]["claim_contradicted"] is False

    def exported() -> str | None:
        text = _get(f"{url}/metrics")[1]
        return text if 'integration_claim_contradicted{integration="slack"} 1.0' in text else None

    text = _wait(exported, 20, "the claim gauge to follow the verdict")
    assert 'integration_verdict{integration="slack",verdict="not_ready"} 1.0' in text
    assert 'integration_verdict{integration="github",verdict="ready"} 1.0' in text
    assert 'integration_claim_contradicted{integration="github"} 0.0' in text

    with urllib.request.urlopen(f"{url}/report", timeout=10) as resp:
        html = resp.read().decode()
        assert resp.headers["Content-Type"].startswith("text/html")
        assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert "slack" in html and "not_ready" in html and "refuted" in html

    # monitor.report_dir: the same verdicts are kept on disk, next to the config.
    on_disk = daemon["config"].parent / "reports" / "out"

    def written() -> bool:
        saved = json.loads((on_disk / "readiness.json").read_text())
        return {i["name"]: i["verdict"] for i in saved["integrations"]}.get("slack") == "not_ready"

    _wait(written, 20, "reports/out/readiness.json to show the verdict")
    assert "not_ready" in (on_disk / "readiness.html").read_text()
