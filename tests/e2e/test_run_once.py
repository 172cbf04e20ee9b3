"""`atom-monitor run --once` as a subprocess against the sandbox running in its own process,
with each injected fault: the exact outcome and category that fail, and nothing else."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import load_config
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

PROVIDERS = ("github", "slack", "jira")


def _control(sandbox: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{sandbox}/_sandbox{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture
def sandbox(sandbox_process: str) -> Iterator[str]:
    """The shared sandbox process, with no faults before and after each test."""
    _control(sandbox_process, "DELETE", "/faults")
    yield sandbox_process
    _control(sandbox_process, "DELETE", "/faults")


@pytest.fixture
def secrets_env(sandbox: str) -> dict[str, str]:
    """Random credentials for this test, registered with the sandbox and exported as env vars."""
    env = {
        "E2E_GITHUB_TOKEN": "ghp_" + secrets.token_hex(18),
        "E2E_SLACK_TOKEN": "xoxb-" + secrets.token_hex(12),
        "E2E_JIRA_TOKEN": "jira-" + secrets.token_hex(12),
    }
    _control(sandbox, "POST", "/credentials/github", {"credential": env["E2E_GITHUB_TOKEN"]})
    _control(sandbox, "POST", "/credentials/slack", {"credential": env["E2E_SLACK_TOKEN"]})
    _control(sandbox, "POST", "/credentials/jira", {"credential": f"e2e@example.com:{env['E2E_JIRA_TOKEN']}"})
    return env


def write_config(tmp_path: Path, sandbox: str, extra: dict[str, str] | None = None) -> Path:
    extra = extra or {}
    text = f"""
monitor:
  store: sqlite:///{tmp_path}/results.db
  packs_dir: {ROOT}/checks
  retries: 0
sandbox: false
integrations:
  github:
    pack: github
    base_url: {sandbox}/github
    auth: {{kind: bearer, token: ${{E2E_GITHUB_TOKEN}}}}
    vars: {{owner: acme, repo: integration-sandbox, issue_number: 1}}
{extra.get("github", "")}
  slack:
    pack: slack
    base_url: {sandbox}/slack/api
    auth: {{kind: bearer, token: ${{E2E_SLACK_TOKEN}}}}
    vars: {{channel: C0SANDBOX01}}
{extra.get("slack", "")}
  jira:
    pack: jira
    base_url: {sandbox}/jira
    auth: {{kind: basic, username: e2e@example.com, password: ${{E2E_JIRA_TOKEN}}}}
    vars: {{issue_key: SBX-1, project_key: SBX}}
{extra.get("jira", "")}
"""
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def run_once(config: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "run",
            "--once",
            "--config",
            str(config),
            "--format",
            "json",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    doc = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    return proc.returncode, doc, proc.stderr


def outcomes(doc: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str]]:
    return {(r["integration"], r["check"]): (r["outcome"], r["category"]) for r in doc["results"]}


def test_healthy_sandbox_passes_every_check(
    tmp_path: Path, sandbox: str, secrets_env: dict[str, str]
) -> None:
    """Against a healthy sandbox every check of every pack passes, covering all five categories."""
    code, doc, stderr = run_once(write_config(tmp_path, sandbox), secrets_env)
    failed = [r for r in doc.get("results", []) if r["outcome"] != "pass"]
    assert code == 0, (failed, stderr)
    for provider in PROVIDERS:
        cats = {cat for (i, _), (_, cat) in outcomes(doc).items() if i == provider}
        assert {"auth", "retrieval", "crud", "error"} <= cats, provider
    assert _control(sandbox, "GET", "/objects/github")["count"] == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_expired_token_fails_auth_and_nothing_passes(
    tmp_path: Path, sandbox: str, secrets_env: dict[str, str], provider: str
) -> None:
    """An expired token fails the auth check, and no check that needs the token passes."""
    _control(sandbox, "POST", f"/faults/{provider}", {"kind": "expired_token"})
    code, doc, _ = run_once(write_config(tmp_path, sandbox), secrets_env)
    assert code == 1
    got = outcomes(doc)
    assert got[(provider, "auth_valid")] == ("fail", "auth")
    passing = {c for (i, c), (o, _) in got.items() if i == provider and o == "pass"}
    assert passing <= {"auth_invalid", *_tokenless_checks(provider)}
    others = {k: v for k, v in got.items() if k[0] != provider}
    assert all(o == "pass" for o, _ in others.values()), others


def _tokenless_checks(provider: str) -> set[str]:
    """Checks that send no credential (e.g. Slack's api.test) may pass with an expired token."""
    pack = yaml.safe_load((ROOT / "checks" / f"{provider}.yaml").read_text())
    tokenless = {name for name, check in pack["checks"].items() if check.get("auth") == "none"}
    # A contract check calls its operation the way the pack check does, credential or none.
    contract = yaml.safe_load((ROOT / "contracts" / provider / "contract.yaml").read_text())
    return tokenless | {
        f"contract_{name}" for name, op in contract["operations"].items() if op["check"] in tokenless
    }


def _drift_field(provider: str) -> str:
    """The first field the provider's auth_valid check requires that is data, not a flag (Slack's
    `ok: {const: true}`): read from the resolved config, where the contract holds the schema."""
    checks = load_config(ROOT / "config.yaml").checks
    check = next(c for c in checks if c.integration == provider and c.name == "auth_valid")
    schema = check.spec.expect.schema_ or {}
    props = schema.get("properties", {})
    return str(next(f for f in schema["required"] if "const" not in props.get(f, {})))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_removed_field_fails_the_check_whose_schema_needs_it(
    tmp_path: Path, sandbox: str, secrets_env: dict[str, str], provider: str
) -> None:
    """A field removed from responses fails the auth check that requires it, naming the field."""
    field = _drift_field(provider)
    _control(sandbox, "POST", f"/faults/{provider}", {"kind": "drift", "field": field, "mode": "remove"})
    code, doc, _ = run_once(write_config(tmp_path, sandbox), secrets_env, "--integration", provider)
    assert code == 1
    result = next(r for r in doc["results"] if r["check"] == "auth_valid")
    assert result["outcome"] == "fail"
    assert any(a["expected"] == f"field {field!r} present" and not a["passed"] for a in result["assertions"])


def test_hang_is_an_error_after_timeout_and_others_finish(
    tmp_path: Path, sandbox: str, secrets_env: dict[str, str]
) -> None:
    """A hanging provider's checks are `error` after its timeout; the others still pass, on time."""
    _control(sandbox, "POST", "/faults/slack", {"kind": "hang"})
    config = write_config(tmp_path, sandbox, {"slack": "    timeout: 1s"})
    started = time.monotonic()
    code, doc, _ = run_once(config, secrets_env)
    elapsed = time.monotonic() - started
    assert code == 1
    for (integration, _check), (outcome, _) in outcomes(doc).items():
        assert outcome == ("error" if integration == "slack" else "pass"), (integration, _check)
    slack = [r for r in doc["results"] if r["integration"] == "slack"]
    assert all(r["reason"] == "no answer within the 1s timeout" for r in slack)
    others = [r for r in doc["results"] if r["integration"] != "slack"]
    assert max(r["duration_s"] for r in others) < 1.0
    assert elapsed < 30


def test_rate_limit_is_skipped_with_retry_after(
    tmp_path: Path, sandbox: str, secrets_env: dict[str, str]
) -> None:
    """A 429 with Retry-After makes the provider's checks `skipped`, with the wait in the reason."""
    _control(sandbox, "POST", "/faults/jira", {"kind": "rate_limit", "retry_after": 42})
    code, doc, _ = run_once(write_config(tmp_path, sandbox), secrets_env, "--integration", "jira")
    assert code == 0  # nothing failed: the provider only refused to answer
    for r in doc["results"]:
        assert r["outcome"] == "skipped" and "retry after 42s" in r["reason"]
        assert r["ratelimit"]["retry_after_s"] == 42


def test_server_errors_fail_and_garbage_fails(
    tmp_path: Path, sandbox: str, secrets_env: dict[str, str]
) -> None:
    """5xx answers fail on status; a garbage body fails on `a JSON document`; neither crashes anything."""
    _control(sandbox, "POST", "/faults/github", {"kind": "error_rate", "status": 502})
    _control(sandbox, "POST", "/faults/slack", {"kind": "garbage"})
    code, doc, stderr = run_once(write_config(tmp_path, sandbox), secrets_env)
    assert code == 1 and "Traceback" not in stderr
    for r in doc["results"]:
        if r["integration"] == "github":
            assert r["outcome"] == "fail" and "got 502" in r["reason"]
        elif r["integration"] == "slack":
            assert r["outcome"] == "fail" and "a JSON document" in r["reason"]


def test_latency_over_budget_fails_latency(tmp_path: Path, sandbox: str, secrets_env: dict[str, str]) -> None:
    """Added latency beyond a check's budget fails it on its latency assertion."""
    _control(sandbox, "POST", "/faults/github", {"kind": "latency", "ms": 900})
    config = write_config(tmp_path, sandbox, {"github": "    checks: {auth_valid: {latency_under: 300ms}}"})
    code, doc, _ = run_once(config, secrets_env, "--integration", "github")
    assert code == 1
    result = next(r for r in doc["results"] if r["check"] == "auth_valid")
    assert result["outcome"] == "fail" and result["reason"].startswith("latency: expected under 300ms")


def test_failed_crud_leaves_no_litter(tmp_path: Path, sandbox: str, secrets_env: dict[str, str]) -> None:
    """When a CRUD lifecycle fails after create, its cleanup still deletes what it created."""
    # Retype the comment body in every response: the read step fails, delete must still run.
    _control(sandbox, "POST", "/faults/github", {"kind": "drift", "field": "body", "mode": "retype"})
    _, doc, _ = run_once(write_config(tmp_path, sandbox), secrets_env, "--integration", "github")
    crud = next(r for r in doc["results"] if r["category"] == "crud")
    assert crud["outcome"] == "fail"
    assert _control(sandbox, "GET", "/objects/github")["count"] == 0


def test_no_secret_in_any_output(tmp_path: Path, sandbox: str, secrets_env: dict[str, str]) -> None:
    """The configured secret values appear nowhere: stdout (table and JSON), debug logs, stored rows."""
    config = write_config(tmp_path, sandbox)
    _control(sandbox, "POST", "/faults/github", {"kind": "expired_token"})
    outputs = []
    for fmt in ("json", "table"):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "monitor",
                "run",
                "--once",
                "--config",
                str(config),
                "--format",
                fmt,
                "--log-level",
                "debug",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **secrets_env},
        )
        outputs += [proc.stdout, proc.stderr]
    db = (tmp_path / "results.db").read_bytes()
    assert len(outputs[0]) > 1000 and len(outputs[1]) > 100  # there is output to search
    for value in secrets_env.values():
        for text in outputs:
            assert value not in text
        assert value.encode() not in db


def test_unknown_integration_is_a_usage_error(
    tmp_path: Path, sandbox: str, secrets_env: dict[str, str]
) -> None:
    """Selecting an integration that is not configured exits 2 naming the configured ones."""
    code, _, stderr = run_once(write_config(tmp_path, sandbox), secrets_env, "--integration", "gitlab")
    assert code == 2 and "unknown integration gitlab (configured: github, jira, slack)" in stderr


def test_default_config_runs_green_with_in_process_sandbox(tmp_path: Path) -> None:
    """The embedded default config.yaml (what `make run` uses) passes every check in a table."""
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--once", "--config", str(ROOT / "config.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    header = proc.stdout.splitlines()[0].split()
    assert header == ["integration", "check", "category", "outcome", "latency", "reason"]
    assert proc.stdout.strip().splitlines()[-1].endswith("0 fail, 0 error, 0 skipped")
    assert (tmp_path / "atom-monitor.db").exists()
