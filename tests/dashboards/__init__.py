"""Shared helpers for the dashboard and rule tests: where the files are, the PromQL in every panel,
a PromQL tokenizer that finds metric names, and the metric names the daemon exports."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboards" / "grafana" / "atom-monitor.json"
PROVISIONING = ROOT / "dashboards" / "grafana" / "provisioning"
RULES = ROOT / "dashboards" / "prometheus" / "rules.yml"
RULE_TESTS = ROOT / "dashboards" / "prometheus" / "tests"

# Grafana's built-in variables, and what a test substitutes for them and for ours: every
# integration and category, and a window that covers the few seconds of data an e2e test has.
TEMPLATE_VALUES = {
    "integration": ".*",
    "category": ".*",
    "__range": "1m",
    "__rate_interval": "1m",
    "__interval": "15s",
    "monitor_url": "http://127.0.0.1:9400",
}

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def substitute(expr: str, values: dict[str, str] | None = None) -> str:
    """Replace Grafana template variables ($name, ${name}, ${name:format}) with test values."""
    table = {**TEMPLATE_VALUES, **(values or {})}

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in table:
            raise KeyError(f"no test value for template variable ${name} in {expr!r}")
        return table[name]

    return _VARIABLE.sub(one, expr)


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in (collapsed) rows."""
    for p in panels:
        yield p
        yield from iter_panels(p.get("panels", []))


def panel_targets(dashboard: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, target) for every query target of every panel."""
    return [(p, t) for p in iter_panels(dashboard["panels"]) for t in p.get("targets", [])]


# --------------------------------------------------------------------------- PromQL tokenizer

_TOKENS = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+(?![\w:]))
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<variable>\$\{[^}]*\}|\$\w+)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<open>[({\[])
  | (?P<close>[)}\]])
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,@])
    """,
    re.VERBOSE,
)
# Keywords and modifiers: never metric names. Aggregations and functions are recognised by the
# "(" that follows them; `sum by (x) (...)` puts a label list between, handled below.
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS |= {"bool", "offset", "inf", "nan", "start", "end"}
_LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}


def tokenize(expr: str) -> list[tuple[str, str]]:
    """(kind, text) tokens of a PromQL expression; raises ValueError on a character it cannot read."""
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        m = _TOKENS.match(expr, pos)
        if m is None:
            raise ValueError(f"cannot tokenize PromQL at {expr[pos : pos + 20]!r} in {expr!r}")
        kind = m.lastgroup or ""
        if kind not in ("ws", "comment"):
            out.append((kind, m.group()))
        pos = m.end()
    return out


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers that are not functions, aggregations,
    keywords, label names (inside {...} or a by/on/... list), or durations (inside [...])."""
    tokens = tokenize(expr)
    names: set[str] = set()
    stack: list[str] = []  # open brackets; "L" marks a by/on/... label list
    label_list_next = False
    for i, (kind, text) in enumerate(tokens):
        if kind == "open":
            stack.append("L" if (text == "(" and label_list_next) else text)
            label_list_next = False
            continue
        if kind == "close":
            if stack:
                stack.pop()
            continue
        if kind != "ident":
            continue
        if stack and stack[-1] in ("{", "[", "L"):
            continue  # a label name, or inside a range/subquery duration
        lower = text.lower()
        if lower in _LABEL_LISTS:
            label_list_next = True
            continue
        if lower in _KEYWORDS:
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if nxt == ("open", "("):
            continue  # a function or an aggregation
        if nxt[0] == "ident" and nxt[1].lower() in ("by", "without"):
            continue  # `sum by (x) (...)`: an aggregation before its grouping
        names.add(text)
    return names


# --------------------------------------------------------------------------- what exists


def exported_metric_names() -> set[str]:
    """Every sample name a live Metrics() registry can expose, with the suffixes its type adds."""
    from monitor.metrics import Metrics

    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "gauge": ("",),
        "info": ("_info",),
        "stateset": ("",),
        "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
        "unknown": ("",),
    }
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.update(family.name + s for s in suffixes[family.type])
        names.update(s.name for s in family.samples)
    return names


def load_rules() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(RULES.read_text())
    return data


def all_rules() -> list[dict[str, Any]]:
    return [rule for group in load_rules()["groups"] for rule in group["rules"]]


def recorded_names() -> set[str]:
    return {r["record"] for r in all_rules() if "record" in r}


def known_metric_names() -> set[str]:
    """What a dashboard or rule may select: the daemon's metrics, our recording rules, and `up`."""
    return exported_metric_names() | recorded_names() | {"up"}
