"""dashboards/prometheus/rules.yml passes promtool, its unit tests pass, every alert carries its
annotations and severity and is exercised by a unit test, and its PromQL uses exported metrics."""

from __future__ import annotations

import subprocess

import yaml

from tests.conftest import need_binary
from tests.dashboards import RULE_TESTS, RULES, all_rules, known_metric_names, metric_names, recorded_names

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
RUNBOOKS = (RULES.parents[1] / "README.md").read_text(encoding="utf-8")
ALERTS = {
    "IntegrationNotReady",
    "IntegrationAuthFailing",
    "IntegrationContractDrift",
    "IntegrationRateLimitNearlyExhausted",
    "IntegrationEvidenceStale",
    "IntegrationClaimContradicted",
    "AtomMonitorDown",
    "AtomMonitorConfigReloadFailed",
    "IntegrationErrorBudgetBurn",
}


def test_promtool_check_rules() -> None:
    """`promtool check rules` accepts rules.yml."""
    promtool = need_binary("promtool")
    proc = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_rule_unit_tests() -> None:
    """`promtool test rules` passes every unit test in dashboards/prometheus/tests/."""
    promtool = need_binary("promtool")
    files = sorted(RULE_TESTS.glob("*.yml"))
    assert files
    proc = subprocess.run(
        [promtool, "test", "rules", *map(str, files)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(files), proc.stdout


def test_recording_rules_cover_every_window() -> None:
    """A success-ratio recording rule exists for each of 5m, 30m, 1h, 2h, 6h, 1d and 3d, counting
    pass over pass+fail+error runs of integration_check_runs_total per integration."""
    assert recorded_names() == {f"integration:check_success:ratio_rate{w}" for w in WINDOWS}
    for rule in all_rules():
        if "record" in rule:
            window = rule["record"].removeprefix("integration:check_success:ratio_rate")
            assert f"[{window}]" in rule["expr"]
            assert 'outcome="pass"' in rule["expr"] and 'outcome=~"pass|fail|error"' in rule["expr"]


def test_every_alert_has_severity_and_runbook() -> None:
    """Every alert has a severity of page or ticket and summary, description and runbook_url
    annotations; the set of alerts is the one the README documents."""
    alerts = [r for r in all_rules() if "alert" in r]
    assert {a["alert"] for a in alerts} == ALERTS
    for a in alerts:
        assert a["labels"]["severity"] in ("page", "ticket"), a["alert"]
        assert set(a["annotations"]) >= {"summary", "description", "runbook_url"}, a["alert"]
        assert a["annotations"]["runbook_url"] == "dashboards/README.md#runbook-" + a["alert"].lower()
        # ...and that anchor exists: the runbook is a heading "Runbook: <Alert>" in dashboards/README.md.
        assert f"### Runbook: {a['alert']}\n" in RUNBOOKS, a["alert"]


def test_burn_rate_alerts_follow_the_sre_workbook() -> None:
    """The SLO alerts are the workbook's four pairs: page 1h∧5m at 14.4x and 6h∧30m at 6x, ticket
    1d∧2h at 3x and 3d∧6h at 1x, each against a 1% error budget."""
    burns = [r for r in all_rules() if r.get("alert") == "IntegrationErrorBudgetBurn"]
    keys = ("severity", "long_window", "short_window", "burn_rate")
    got = {tuple(b["labels"][k] for k in keys) for b in burns}
    assert got == {
        ("page", "1h", "5m", "14.4"),
        ("page", "6h", "30m", "6"),
        ("ticket", "1d", "2h", "3"),
        ("ticket", "3d", "6h", "1"),
    }
    for b in burns:
        labels = b["labels"]
        for window in (labels["long_window"], labels["short_window"]):
            assert f"integration:check_success:ratio_rate{window})" in b["expr"]
        assert b["expr"].count(f"({labels['burn_rate']} * 0.01)") == 2


def test_every_alert_fires_and_clears_in_a_unit_test() -> None:
    """Each alert is expected firing at some eval time and expected silent at a later one in the
    promtool unit tests, so every alert is proven to fire and to clear."""
    fired: dict[str, list[int]] = {}
    silent: dict[str, list[int]] = {}
    for path in RULE_TESTS.glob("*.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                t = _minutes(case["eval_time"])
                (fired if case.get("exp_alerts") else silent).setdefault(case["alertname"], []).append(t)
    for alert in ALERTS:
        assert alert in fired, f"{alert} never expected to fire"
        assert any(s > min(fired[alert]) for s in silent.get(alert, [])), f"{alert} never expected to clear"


def test_rule_metrics_are_exported() -> None:
    """Every metric name in every rule's PromQL is exported by the daemon, recorded here, or `up`."""
    known = known_metric_names()
    for rule in all_rules():
        names = metric_names(rule["expr"])
        assert names, rule
        assert names <= known, (rule.get("alert") or rule.get("record"), names - known)


def _minutes(value: str) -> int:
    units = {"m": 1, "h": 60, "d": 1440}
    total, number = 0, ""
    for ch in value:
        if ch.isdigit():
            number += ch
        else:
            total += int(number) * units[ch]
            number = ""
    return total
