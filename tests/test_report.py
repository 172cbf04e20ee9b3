"""Reports: the JSON validates against reports/readiness.schema.json, the HTML escapes every
provider string, the gate exits by policy and its JUnit XML parses back; diffs name changes."""

from __future__ import annotations

import dataclasses
import json
import random
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from monitor.config import load_config
from monitor.gate import judge, junit
from monitor.model import Assertion, Category, CheckResult, Evidence, Outcome
from monitor.report import diff, schema, write
from monitor.reporting import document, from_store
from monitor.store import Store
from tests.conftest import need_binary

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
AUTH, RETRIEVAL = Category.AUTH, Category.RETRIEVAL
PACKS = Path(__file__).parent / "config" / "packs"
XSS = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'


@pytest.fixture
def config(tmp_path: Path) -> Any:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"monitor: {{packs_dir: {PACKS}}}\nsandbox: true\n"
        "integrations:\n"
        "  good: {pack: demo, vars: {owner: a, repo: b}, claims: {status: production_ready, source: r.md}}\n"
        "  bad: {pack: demo, vars: {owner: a, repo: b},\n"
        "        claims: {status: Production Ready, features: {oauth: complete}}}\n"
        "  quiet: {pack: demo, vars: {owner: a, repo: b}}\n"
    )
    return load_config(path)


def _r(
    integration: str, check: str, cat: Category, outcome: Outcome, minutes: int, reason: str = "ok"
) -> CheckResult:
    failed = outcome is not Outcome.PASS
    return CheckResult(
        run_id="r",
        integration=integration,
        check=check,
        category=cat,
        outcome=outcome,
        started_at=NOW - timedelta(minutes=minutes),
        duration_s=0.12,
        reason=reason,
        http_status=401 if failed else 200,
        assertions=(Assertion("status", "200", "401" if failed else "200", not failed),),
        evidence=Evidence(
            "GET http://x/user",
            401 if failed else 200,
            {"content-type": "text/html"},
            XSS if failed else "{}",
        ),
    )


def _results() -> list[CheckResult]:
    out = []
    for m in range(1, 6):
        out.append(_r("good", "whoami", Category.AUTH, Outcome.PASS, m))
        out.append(_r("good", "issue", Category.RETRIEVAL, Outcome.PASS, m))
        out.append(
            _r("bad", "whoami", Category.AUTH, Outcome.FAIL, m, reason=f"status: expected 200, got 401 {XSS}")
        )
        out.append(_r("bad", "issue", Category.RETRIEVAL, Outcome.PASS, m))
    return out


def test_json_report_validates_and_is_reproducible(config: Any) -> None:
    """The report validates against its schema and carries version, digest, window, policy, samples."""
    doc = document(config, _results(), NOW)
    errors = sorted(Draft202012Validator(schema()).iter_errors(doc), key=str)
    assert not errors, errors[0]
    assert doc["config_digest"] == f"sha256:{config.digest}" and doc["window"]["duration"] == "1d"
    assert doc["summary"] == {
        "integrations": 3,
        "ready": 1,
        "degraded": 0,
        "not_ready": 1,
        "unknown": 1,
        "claims_contradicted": 1,
        "samples": 20,
    }
    verdicts = {i["name"]: (i["verdict"], i["claim_contradicted"]) for i in doc["integrations"]}
    assert verdicts == {"bad": ("not_ready", True), "good": ("ready", False), "quiet": ("unknown", False)}


def test_html_escapes_provider_strings(config: Any, tmp_path: Path) -> None:
    """Script payloads from provider bodies and reasons appear only escaped; no external asset."""
    doc = document(config, _results(), NOW)
    [json_path, html_path] = write(doc, tmp_path / "out", {"json", "html"})
    html = html_path.read_text()
    assert json.loads(json_path.read_text()) == doc
    assert XSS not in html and "&lt;script&gt;" in html
    assert "<script" not in html.lower() and 'src="http' not in html and "<link" not in html
    assert "not_ready" in html and "refuted" in html


def test_concurrent_writes_of_one_report_all_succeed(config: Any, tmp_path: Path) -> None:
    """Writers racing on one report directory (the assess loop and /report in the daemon) each
    finish, leave a whole report and no temp file behind."""
    doc = document(config, _results(), NOW)
    out = tmp_path / "out"
    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda _: write(doc, out, {"json", "html"}), range(40)))
    assert len(done) == 40
    assert json.loads((out / "readiness.json").read_text()) == doc
    assert sorted(p.name for p in out.iterdir()) == ["readiness.html", "readiness.json"]
    assert (out / "readiness.json").stat().st_mode & 0o777 == 0o644


def test_gate_and_junit(config: Any) -> None:
    """The gate names integration, category and check; JUnit has a testcase per integration x check."""
    from junitparser import Error, Failure, JUnitXml

    doc = document(config, _results(), NOW)
    result = judge(doc)
    assert not result.passed
    assert result.lines == [
        f"bad: not_ready: auth/whoami: status: expected 200, got 401 {XSS}",
        "quiet: unknown: no evidence in the last 1d",
    ]
    assert judge(doc, integrations=["good"]).passed
    assert judge(doc, integrations=["good", "quiet"], allow_unknown=True).passed
    stale = judge(doc, integrations=["good"], max_evidence_age_s=30, now=NOW)
    assert not stale.passed and "evidence too old" in stale.lines[0]
    xml = JUnitXml.fromstring(junit(doc))
    cases = {(suite.name, case.name): case for suite in xml for case in suite}
    assert set(cases) == {(i, c) for i in ("bad", "good", "quiet") for c in ("whoami", "issue")}
    bad = cases[("bad", "whoami")]
    assert any(isinstance(r, Failure | Error) and "got 401" in (r.message or "") for r in bad.result)
    assert cases[("good", "whoami")].is_passed


def test_diff_names_what_changed(config: Any) -> None:
    """Between two reports, verdict, claim and per-check changes are listed."""
    old = document(config, _results(), NOW)
    fixed = [
        r if r.integration != "bad" else _r("bad", r.check, r.category, Outcome.PASS, 1) for r in _results()
    ]
    new = document(config, fixed, NOW)
    changes = diff(old, new)
    assert any(c.startswith("~ bad: verdict not_ready -> ready") for c in changes)
    assert "~ bad: claim no longer contradicted" in changes
    assert "~ bad/whoami: fail -> pass" in changes
    assert diff(new, new) == []


async def test_from_store_decodes_a_few_results_per_check_not_the_window(
    config: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report from the store decodes at most three full results per check however many the window
    holds (the store aggregates the rest), and equals the report of the same results in Python."""
    rng = random.Random(3)
    pairs = [(i, c, cat) for i in ("good", "bad") for c, cat in (("whoami", AUTH), ("issue", RETRIEVAL))]
    pairs.append(("bad", "retired", Category.CRUD))  # no longer configured, still in the window
    results = [
        dataclasses.replace(
            _r(i, c, cat, rng.choice([Outcome.PASS] * 8 + [Outcome.FAIL, Outcome.ERROR, Outcome.SKIPPED]), m),
            duration_s=round(rng.expovariate(5), 4),
        )
        for m in range(0, 26 * 60, 3)  # 520 runs each, the last 40 outside the 24 h window
        for i, c, cat in pairs
    ]
    store = await Store.open(f"sqlite:///{tmp_path}/r.db")
    await store.write(results)
    decoded: list[str] = []
    from_dict = CheckResult.from_dict

    def counting(data: dict[str, Any]) -> CheckResult:
        decoded.append(data["run_id"])
        return from_dict(data)

    monkeypatch.setattr(CheckResult, "from_dict", staticmethod(counting))
    try:
        doc = await from_store(config, store=store, now=NOW)
    finally:
        await store.close()
    assert len(results) == 2600 and 0 < len(decoded) <= 3 * len(pairs)
    monkeypatch.undo()
    assert doc == document(config, results, NOW)


_PWN = (
    '<script>document.documentElement.setAttribute("data-pwned","script")</script>'
    "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">"
    "<svg onload=\"document.documentElement.setAttribute('data-pwned','svg')\"></svg>"
)


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    binary = need_binary("chromium", "chromium")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}",
    ]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.e2e
def test_html_report_renders_in_chromium_and_no_payload_runs(config: Any, tmp_path: Path) -> None:
    """Headless Chromium renders the report to a PNG, and script payloads in provider strings never run."""
    results = [
        dataclasses.replace(
            r,
            reason=f"{r.reason} {_PWN}",
            evidence=dataclasses.replace(r.evidence, body_excerpt=_PWN) if r.evidence else None,
        )
        for r in _results()
    ]
    doc = document(config, results, NOW)
    [html_path] = write(doc, tmp_path / "out", {"html"})
    url = html_path.resolve().as_uri()
    png = tmp_path / "report.png"
    shot = _chromium(f"--screenshot={png}", "--window-size=1280,1600", url, tmp=tmp_path)
    assert png.is_file(), shot.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a rendered page, not a blank one
    dom = _chromium("--dump-dom", url, tmp=tmp_path).stdout
    root = re.search(r"<html[^>]*>", dom)
    assert root is not None and "data-pwned" not in root.group(0), root
    assert "not_ready" in dom and "&lt;script&gt;" in dom
