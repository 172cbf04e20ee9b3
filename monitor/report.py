"""Readiness reports: JSON (validated by reports/readiness.schema.json) and one self-contained
HTML page. The report reads only readiness output and config facts; never the store or HTTP.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitor import __version__
from monitor.config import Config, bundled_dir
from monitor.config.durations import format_duration
from monitor.evidence import LATENCY_BUCKETS
from monitor.model import Category, CheckResult, Verdict
from monitor.readiness import CategoryEvidence, IntegrationReadiness

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ReportInput:
    config: Config
    assessed: Mapping[str, IntegrationReadiness]
    generated_at: datetime
    window_s: float
    # Per integration, its pass and fail runs counted per LATENCY_BUCKETS bucket (the last unbounded);
    # counts, not durations, so that a report never needs the window's results.
    distribution: Mapping[str, Sequence[int]]


def build(data: ReportInput) -> dict[str, Any]:
    cfg = data.config
    integrations = [_integration(name, ir, data) for name, ir in sorted(data.assessed.items())]
    counts = {v.value: sum(1 for i in integrations if i["verdict"] == v.value) for v in Verdict}
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": data.generated_at.isoformat(),
        "monitor_version": __version__,
        "config_digest": f"sha256:{cfg.digest}",
        "window": {
            "start": (data.generated_at - timedelta(seconds=data.window_s)).isoformat(),
            "end": data.generated_at.isoformat(),
            "duration": format_duration(data.window_s),
        },
        "policy": cfg.file.policy.model_dump(mode="json"),
        "summary": {
            "integrations": len(integrations),
            **counts,
            "claims_contradicted": sum(1 for i in integrations if i["claim_contradicted"]),
            "samples": sum(i["samples"] for i in integrations),
        },
        "integrations": integrations,
    }


def _integration(name: str, ir: IntegrationReadiness, data: ReportInput) -> dict[str, Any]:
    integ = data.config.integrations.get(name)
    claims = integ.claims if integ else None
    return {
        "name": name,
        "provider": integ.provider if integ else name,
        "verdict": ir.verdict.value,
        "rule": ir.rule,
        "score": ir.score,
        "samples": ir.samples,
        "newest_evidence_at": ir.newest.isoformat() if ir.newest else None,
        "latency": {
            "percentile": data.config.file.policy.for_integration(name).latency.percentile,
            "value_s": ir.latency_percentile_s,
            "budget_s": ir.latency_budget_s,
            "distribution": _distribution(data.distribution.get(name, ())),
        },
        "categories": [_category(c) for c in ir.categories.values()],
        "checks": [
            {
                "check": c.check,
                "category": c.category.value,
                "samples": c.samples,
                "passed": c.passed,
                "latest": _result(c.latest) if c.latest else None,
            }
            for c in ir.checks
        ],
        "failing": [_result(r) for r in ir.failing],
        "claim_contradicted": ir.claim_contradicted,
        "claims": None
        if claims is None
        else {
            "status": claims.status,
            "source": claims.source,
            "features": dict(claims.features),
            "judgements": [
                {"claim": j.claim, "verdict": j.verdict.value, "because": j.because} for j in ir.claims
            ],
        },
    }


def _category(c: CategoryEvidence) -> dict[str, Any]:
    return {
        "category": c.category.value,
        "samples": c.samples,
        "passed": c.passed,
        "skipped": c.skipped,
        "pass_ratio": c.pass_ratio,
        "required": c.required,
        "met": c.met,
        "p50_s": c.p50_s,
        "p95_s": c.p95_s,
        "p99_s": c.p99_s,
        "flake_rate": c.flake_rate,
        "last_pass": c.last_pass.isoformat() if c.last_pass else None,
        "last_failure": _result(c.last_failure) if c.last_failure else None,
    }


def _result(r: CheckResult) -> dict[str, Any]:
    d = r.to_dict()
    return {
        "check": r.check,
        "category": r.category.value,
        "outcome": r.outcome.value,
        "started_at": d["started_at"],
        "duration_s": d["duration_s"],
        "reason": r.reason,
        "http_status": r.http_status,
        "failed_assertions": [a for a in d["assertions"] if not a["passed"]],
        "evidence": d["evidence"],
    }


def _distribution(counts: Sequence[int]) -> list[dict[str, Any]]:
    uppers: tuple[float | None, ...] = (*LATENCY_BUCKETS, None)
    return [{"le": upper, "count": counts[i] if i < len(counts) else 0} for i, upper in enumerate(uppers)]


def schema() -> dict[str, Any]:
    path = bundled_dir("reports") / "readiness.schema.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def write(doc: dict[str, Any], out_dir: Path, formats: set[str]) -> list[Path]:
    """Write atomically (temp file, then rename): a reader never sees half a report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if "json" in formats:
        written.append(_atomic(out_dir / "readiness.json", json.dumps(doc, indent=2) + "\n"))
    if "html" in formats:
        from monitor.report_html import render

        written.append(_atomic(out_dir / "readiness.html", render(doc)))
    return written


def _atomic(path: Path, text: str) -> Path:
    # A temp file of its own per write: the daemon's assess loop and a /report request can write
    # the same report at once, and with one shared temp name the second rename found it gone.
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(name, 0o644)  # mkstemp's 0600 would hide the report from a web server's user
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    return path


def categories_of(config: Config) -> dict[str, set[Category]]:
    out: dict[str, set[Category]] = {name: set() for name in config.integrations}
    for c in config.checks:
        out[c.integration].add(c.category)
    return out


def checks_of(config: Config) -> dict[str, dict[str, Category]]:
    out: dict[str, dict[str, Category]] = {name: {} for name in config.integrations}
    for c in config.checks:
        out[c.integration][c.name] = c.category
    return out


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between two releases' reports: verdicts, claims, categories, checks."""
    out: list[str] = []
    before = {i["name"]: i for i in old["integrations"]}
    after = {i["name"]: i for i in new["integrations"]}
    for name in sorted(before.keys() - after.keys()):
        out.append(f"- {name}: removed (was {before[name]['verdict']})")
    for name in sorted(after.keys() - before.keys()):
        out.append(f"+ {name}: added, {after[name]['verdict']}")
    for name in sorted(before.keys() & after.keys()):
        a, b = before[name], after[name]
        if a["verdict"] != b["verdict"]:
            out.append(f"~ {name}: verdict {a['verdict']} -> {b['verdict']} ({b['rule']})")
        if a["claim_contradicted"] != b["claim_contradicted"]:
            now = "contradicted" if b["claim_contradicted"] else "no longer contradicted"
            out.append(f"~ {name}: claim {now}")
        cats_a = {c["category"]: c for c in a["categories"]}
        for c in b["categories"]:
            prev = cats_a.get(c["category"])
            if prev and prev["pass_ratio"] != c["pass_ratio"]:
                out.append(
                    f"~ {name}/{c['category']}: pass ratio "
                    f"{_ratio(prev['pass_ratio'])} -> {_ratio(c['pass_ratio'])}"
                )
        checks_a = {c["check"]: c for c in a["checks"]}
        for c in b["checks"]:
            prev = checks_a.get(c["check"])
            was = "absent" if prev is None else prev["latest"]["outcome"] if prev["latest"] else "never ran"
            now_ = c["latest"]["outcome"] if c["latest"] else "never ran"
            if was != now_:
                out.append(f"~ {name}/{c['check']}: {was} -> {now_}")
    return out


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.4g}%"
