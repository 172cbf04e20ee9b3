"""Live verification and the daemon's `contract` checks against the sandbox in its own process:
drift (removed, retyped) named with pointer and types, Slack's ok:false a violation, a provider
that is down an `error` and never drift; `integration_contract_conformant` follows the results."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.metrics import Metrics
from monitor.model import Category, CheckResult, Outcome
from tests.e2e.test_run_once import _control, outcomes, run_once, sandbox, secrets_env, write_config

pytestmark = pytest.mark.e2e
__all__ = ["sandbox", "secrets_env"]  # fixtures shared with the run --once tests


def _verify_live(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "verify", "--live", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize(
    ("provider", "field", "mode", "line"),
    [
        (
            "github",
            "login",
            "remove",
            "github get_authenticated_user: drift /login: expected type string, live missing",
        ),
        (
            "github",
            "id",
            "retype",
            "github get_authenticated_user: drift /id: expected type integer, live type string",
        ),
        (
            "jira",
            "accountId",
            "remove",
            "jira get_current_user: drift /accountId: expected type string, live missing",
        ),
        (
            "slack",
            "user_id",
            "retype",
            "slack auth_test: drift /user_id: expected type string, live type array",
        ),
    ],
)
def test_verify_live_names_the_drifted_field(
    tmp_path: Path, sandbox: str, secrets_env: dict[str, str], provider: str, field: str, mode: str, line: str
) -> None:
    """The sandbox's drift fault is caught by `verify --live` with the pointer and contract vs live type."""
    _control(sandbox, "POST", f"/faults/{provider}", {"kind": "drift", "field": field, "mode": mode})
    proc = _verify_live(write_config(tmp_path, sandbox), secrets_env, "--integration", provider)
    assert proc.returncode == 1, proc.stderr
    assert line in proc.stdout.splitlines(), proc.stdout


def test_verify_live_is_clean_on_a_healthy_sandbox(
    tmp_path: Path, sandbox: str, secrets_env: dict[str, str]
) -> None:
    """With no fault every contract operation conforms: exit 0, nothing on stdout."""
    proc = _verify_live(write_config(tmp_path, sandbox), secrets_env)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr


def test_slack_ok_false_is_a_contract_violation(
    tmp_path: Path, sandbox: str, secrets_env: dict[str, str]
) -> None:
    """Slack's HTTP 200 with ok:false fails the contract check (category contract), never passes."""
    _control(sandbox, "POST", "/faults/slack", {"kind": "expired_token"})
    _, doc, _ = run_once(write_config(tmp_path, sandbox), secrets_env, "--integration", "slack")
    result = next(r for r in doc["results"] if r["check"] == "contract_auth_test")
    assert result["http_status"] == 200
    assert (result["outcome"], result["category"]) == ("fail", "contract")
    assert result["reason"].startswith("drift /ok: expected const true, got boolean false (error ")


def test_run_once_contract_check_fails_on_drift_and_errors_when_down(
    tmp_path: Path, sandbox: str, secrets_env: dict[str, str]
) -> None:
    """Drift fails the contract check naming the pointer; a hanging provider is `error` (down), not drift."""
    _control(sandbox, "POST", "/faults/jira", {"kind": "drift", "field": "accountId", "mode": "remove"})
    _control(sandbox, "POST", "/faults/slack", {"kind": "hang"})
    config = write_config(tmp_path, sandbox, {"slack": "    timeout: 1s"})
    code, doc, _ = run_once(config, secrets_env, "--integration", "jira", "--integration", "slack")
    assert code == 1
    got = outcomes(doc)
    assert got[("jira", "contract_get_current_user")] == ("fail", "contract")
    jira = next(r for r in doc["results"] if r["check"] == "contract_get_current_user")
    assert jira["reason"] == "drift /accountId: expected type string, got missing"
    assert got[("jira", "contract_get_server_info")] == ("pass", "contract")
    assert got[("slack", "contract_auth_test")] == ("error", "contract")


def _result(check: str, outcome: Outcome) -> CheckResult:
    return CheckResult("r", "github", check, Category.CONTRACT, outcome, datetime.now(UTC), 0.01, "x")


def test_contract_conformant_metric_follows_pass_and_fail_not_error() -> None:
    """integration_contract_conformant is 1 on pass, 0 on drift, and untouched when the provider is down."""
    m = Metrics()

    def value() -> float | None:
        return m.registry.get_sample_value(
            "integration_contract_conformant", {"integration": "github", "operation": "get_issue"}
        )

    m.observe(_result("contract_get_issue", Outcome.PASS))
    assert value() == 1
    m.observe(_result("contract_get_issue", Outcome.FAIL))
    assert value() == 0
    m.observe(_result("contract_get_issue", Outcome.ERROR))
    assert value() == 0
