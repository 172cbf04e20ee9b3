"""`atom-monitor claims import` as a user runs it: a real status report in, YAML out that
config.yaml takes under `claims_files:`, and readiness judging those claims."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from monitor.config import load_config
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


def test_imported_claims_attach_to_integrations(tmp_path: Path) -> None:
    """Claims imported from report 000 load through claims_files and attach to github and slack."""
    report = ROOT.parent / "shared" / "status-reports" / "000_7e9a605d84f6b05b.txt"
    if not report.is_file():
        pytest.skip("../shared/status-reports is not present")
    out = tmp_path / "claims" / "team.yaml"
    proc = _cli("claims", "import", str(report), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "claims from 000_7e9a605d84f6b05b.txt" in proc.stderr
    claims = yaml.safe_load(out.read_text())["claims"]
    assert claims["github"]["status"] == "production_ready"
    (tmp_path / "config.yaml").write_text(
        f"monitor: {{packs_dir: {ROOT / 'checks'}}}\nsandbox: true\nclaims_files: [claims/team.yaml]\n"
        "integrations:\n"
        "  github: {pack: github, vars: {owner: a, repo: b, issue_number: 1}}\n"
        "  slack: {pack: slack, vars: {channel: C0SANDBOX01},\n"
        "          claims: {status: planned}}\n"
    )
    config = load_config(tmp_path / "config.yaml")
    github, slack = config.integrations["github"].claims, config.integrations["slack"].claims
    assert (
        github is not None and github.status == "production_ready" and github.features["oauth"] == "complete"
    )
    assert slack is not None and slack.status == "planned"  # the integration's own claims win


def test_missing_report_is_a_usage_error(tmp_path: Path) -> None:
    """Importing a file that does not exist exits 2 with one line naming it."""
    proc = _cli("claims", "import", "nope.md", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "atom-monitor: nope.md: no such status report"


def test_stdout_is_yaml_that_validates(tmp_path: Path) -> None:
    """Without --out the YAML goes to stdout and parses back into the claims model."""
    report = tmp_path / "STATUS.md"
    report.write_text("# Status\n\n| Integration | Status |\n|---|---|\n| Jira | ✅ Production Ready |\n")
    proc = _cli("claims", "import", str(report), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    from monitor.config.models import ClaimsFile

    doc = ClaimsFile.model_validate(yaml.safe_load(proc.stdout))
    assert doc.claims["jira"].status == "production_ready"
