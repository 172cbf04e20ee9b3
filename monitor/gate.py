"""The CI gate: exit 0 only when every gated integration is `ready` with fresh evidence; one line
per failing integration, category and check; JUnit XML with one testcase per integration x check.

The gate reads a report document (built from the store, or a saved readiness.json), so what CI
blocks on is exactly what release managers read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET


@dataclass(frozen=True)
class GateResult:
    passed: bool
    lines: list[str]


def judge(
    doc: dict[str, Any],
    *,
    integrations: Sequence[str] = (),
    max_evidence_age_s: float | None = None,
    now: datetime | None = None,
    allow_unknown: bool = False,
) -> GateResult:
    """Every gated integration must be ready; `unknown` blocks unless explicitly allowed."""
    chosen = [i for i in doc["integrations"] if not integrations or i["name"] in integrations]
    missing = sorted(set(integrations) - {i["name"] for i in chosen})
    lines = [
        f"{name}: not in the report (configured: {', '.join(i['name'] for i in doc['integrations'])})"
        for name in missing
    ]
    for i in chosen:
        lines += _reasons(i, max_evidence_age_s, now, allow_unknown)
    return GateResult(passed=not lines, lines=lines)


def _reasons(
    i: dict[str, Any], max_age: float | None, now: datetime | None, allow_unknown: bool
) -> list[str]:
    name, verdict = i["name"], i["verdict"]
    if max_age is not None and now is not None:
        newest = i["newest_evidence_at"]
        age = None if newest is None else (now - datetime.fromisoformat(newest)).total_seconds()
        if age is None or age > max_age:
            shown = "none" if age is None else f"{age:.0f}s old"
            return [f"{name}: evidence too old ({shown}; --max-evidence-age {max_age:.0f}s)"]
    if verdict == "ready" or (verdict == "unknown" and allow_unknown):
        return []
    failing = i["failing"]
    if verdict == "unknown" or not failing:
        return [f"{name}: {verdict}: {i['rule']}"]
    return [f"{name}: {verdict}: {r['category']}/{r['check']}: {r['reason']}" for r in failing]


def junit(doc: dict[str, Any], integrations: Sequence[str] = ()) -> str:
    """One <testsuite> per integration, one <testcase> per check; failures carry the reason."""
    suites = ET.Element("testsuites", name="atom-monitor readiness")
    total = failures = 0
    for i in doc["integrations"]:
        if integrations and i["name"] not in integrations:
            continue
        suite = ET.SubElement(suites, "testsuite", name=i["name"])
        n = f = 0
        for c in i["checks"]:
            n += 1
            latest = c["latest"]
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{i['name']}.{c['category']}",
                name=c["check"],
                time=f"{latest['duration_s']:.3f}" if latest else "0",
            )
            if latest is None:
                ET.SubElement(case, "skipped", message="never ran in the window")
            elif latest["outcome"] in ("fail", "error"):
                f += 1
                tag = "failure" if latest["outcome"] == "fail" else "error"
                el = ET.SubElement(case, tag, message=latest["reason"], type=latest["outcome"])
                el.text = "\n".join(
                    f"{a['name']}: expected {a['expected']}, got {a['actual']}"
                    for a in latest["failed_assertions"]
                )
            elif latest["outcome"] == "skipped":
                ET.SubElement(case, "skipped", message=latest["reason"])
        suite.set("tests", str(n))
        suite.set("failures", str(f))
        suite.set("verdict", i["verdict"])
        total, failures = total + n, failures + f
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
