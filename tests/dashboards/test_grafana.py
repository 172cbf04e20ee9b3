"""The Grafana dashboard and its provisioning files are well formed: unique panel ids, no
overlapping panels, one datasource input everywhere, and only metrics the daemon exports."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.dashboards import (
    DASHBOARD,
    PROVISIONING,
    exported_metric_names,
    iter_panels,
    known_metric_names,
    metric_names,
    panel_targets,
    recorded_names,
    substitute,
    tokenize,
)

DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def _walk(value: Any, path: str = "") -> Any:
    """Every (path, dict) in a JSON value, depth first."""
    if isinstance(value, dict):
        yield path, value
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def test_tokenizer_finds_metric_names_only() -> None:
    """The PromQL tokenizer returns selected metric names and ignores functions, aggregations,
    keywords, label names and values, grouping lists, durations, numbers and variables."""
    expr = (
        'histogram_quantile(0.95, sum by (integration, le) (rate(a_bucket{integration=~"$integration",'
        ' category="auth"}[$__rate_interval])))\n/ on (integration) group_left(version) b:rec:ratio_rate5m'
        ' offset 5m\nor sum(c_total) without (check) > bool 1e3 unless absent(up{job="x"})'
        " and max(d) by (le) * time() - count_over_time(e[1h:5m])"
    )
    assert metric_names(expr) == {"a_bucket", "b:rec:ratio_rate5m", "c_total", "up", "d", "e"}
    assert metric_names('{__name__="x"}') == set()
    assert metric_names("1 - (foo / 0.99)") == {"foo"}
    with pytest.raises(ValueError):
        tokenize("foo ? bar")


def test_exported_names_include_suffixes() -> None:
    """The names read from a live Metrics() registry include the counter and histogram suffixes."""
    names = exported_metric_names()
    for name in (
        "integration_check_runs_total",
        "integration_check_flaky_total",
        "integration_check_duration_seconds_bucket",
        "integration_check_duration_seconds_count",
        "integration_check_duration_seconds_sum",
        "monitor_schedule_lag_seconds_bucket",
        "integration_verdict",
        "integration_check_success",
    ):
        assert name in names


def test_panel_ids_are_unique(dashboard: dict[str, Any]) -> None:
    """Every panel (rows included) has an id, and no two panels share one."""
    ids = [p["id"] for p in iter_panels(dashboard["panels"])]
    assert all(isinstance(i, int) for i in ids)
    assert len(ids) == len(set(ids)), sorted(ids)


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    """No two panels' gridPos rectangles overlap, and every panel fits the 24-column grid."""
    boxes = []
    for p in iter_panels(dashboard["panels"]):
        g = p["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and g["x"] >= 0 and g["y"] >= 0, p["title"]
        assert g["x"] + g["w"] <= 24, p["title"]
        boxes.append((p["title"], g["x"], g["y"], g["x"] + g["w"], g["y"] + g["h"]))
    for i, (ta, ax0, ay0, ax1, ay1) in enumerate(boxes):
        for tb, bx0, by0, bx1, by1 in boxes[i + 1 :]:
            overlap = ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1
            assert not overlap, f"{ta!r} overlaps {tb!r}"


def test_every_datasource_is_the_input_variable(dashboard: dict[str, Any]) -> None:
    """The datasource is chosen on import through __inputs: every datasource reference in the
    dashboard (panels, targets, template variables) is ${DS_PROMETHEUS}, and nothing hard-codes one."""
    assert dashboard["__inputs"] == [
        {
            "name": "DS_PROMETHEUS",
            "label": "Prometheus",
            "description": "The Prometheus that scrapes atom-monitor",
            "type": "datasource",
            "pluginId": "prometheus",
            "pluginName": "Prometheus",
        }
    ]
    refs = [(path, node["datasource"]) for path, node in _walk(dashboard) if "datasource" in node]
    assert refs
    for path, ref in refs:
        assert ref == DS, path
    for p in iter_panels(dashboard["panels"]):
        if p["type"] != "row":
            assert p.get("datasource") == DS, p["title"]
            assert p["targets"], p["title"]
            for t in p["targets"]:
                assert t.get("datasource") == DS, p["title"]
    # Provisioned (no import step), ${DS_PROMETHEUS} resolves to this datasource variable.
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"


def test_every_metric_is_exported(dashboard: dict[str, Any]) -> None:
    """Every metric name in every panel's PromQL and every template variable query is one the daemon
    exports (read from a live Metrics() registry), one of our recording rules, or `up`."""
    known = known_metric_names()
    seen: set[str] = set()
    for panel, target in panel_targets(dashboard):
        names = metric_names(target["expr"])
        assert names, f"{panel['title']}: no metric in {target['expr']!r}"
        unknown = names - known
        assert not unknown, f"{panel['title']}: unknown metrics {sorted(unknown)}"
        seen |= names
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"]
            inner = query.removeprefix("label_values(").rsplit(",", 1)[0]
            assert metric_names(inner) <= known, var["name"]
    # The panels the issue lists are all there: each of these is selected by some panel.
    for name in (
        "integration_verdict",
        "integration_claim_contradicted",
        "integration_check_runs_total",
        "integration_check_duration_seconds_bucket",
        "integration_contract_conformant",
        "integration_ratelimit_remaining",
        "integration_ratelimit_limit",
        "integration_check_flaky_total",
        "monitor_schedule_lag_seconds_bucket",
        "monitor_config_reload_success",
        "up",
    ):
        assert name in seen, name
    assert seen & recorded_names()


def test_template_variables_and_report_link(dashboard: dict[str, Any]) -> None:
    """integration and category are multi-select label_values variables with an all-value of
    `.*`; monitor_url defaults to the daemon's address and the dashboard and the verdict panel
    link to its live /report."""
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    for name in ("integration", "category"):
        v = variables[name]
        assert v["type"] == "query" and v["multi"] and v["includeAll"] and v["allValue"] == ".*"
        assert v["query"]["query"].startswith("label_values(") and v["query"]["query"].endswith(f", {name})")
    assert variables["monitor_url"]["query"] == "http://127.0.0.1:9400"
    assert any(link["url"] == "${monitor_url}/report" for link in dashboard["links"])
    verdict = next(p for p in iter_panels(dashboard["panels"]) if p["title"] == "Readiness verdict")
    assert verdict["links"][0]["url"] == "${monitor_url}/report"
    # Every variable a query uses is one the dashboard defines or a Grafana built-in.
    defined = set(variables) | {"__range", "__rate_interval", "__interval"}
    for panel, target in panel_targets(dashboard):
        substitute(target["expr"], dict.fromkeys(defined, "x"))  # raises on an unknown variable
        assert "$" not in substitute(target["expr"]), panel["title"]


def test_verdict_panel_maps_every_verdict_to_a_colour(dashboard: dict[str, Any]) -> None:
    """The readiness panel turns integration_verdict into one code per verdict, and its value
    mappings name and colour all four verdicts (ready green, degraded orange, not ready red)."""
    from monitor.model import Verdict

    verdict = next(p for p in iter_panels(dashboard["panels"]) if p["title"] == "Readiness verdict")
    expr = verdict["targets"][0]["expr"]
    for v in Verdict:
        assert f'verdict="{v.value}"' in expr
    options = verdict["fieldConfig"]["defaults"]["mappings"][0]["options"]
    texts = {o["text"]: o["color"] for o in options.values()}
    assert texts["ready"] == "green" and texts["not ready"] == "red" and texts["degraded"] == "orange"
    assert "unknown" in texts and len(texts) == len(Verdict)


def test_provisioning_files() -> None:
    """The provisioning directory holds a Prometheus datasource and a file dashboard provider."""
    ds = yaml.safe_load((PROVISIONING / "datasources" / "atom-monitor.yml").read_text())
    assert ds["apiVersion"] == 1
    assert [d["type"] for d in ds["datasources"]] == ["prometheus"]
    boards = yaml.safe_load((PROVISIONING / "dashboards" / "atom-monitor.yml").read_text())
    assert boards["apiVersion"] == 1
    (provider,) = boards["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
