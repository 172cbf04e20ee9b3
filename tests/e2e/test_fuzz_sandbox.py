"""The fuzz check against a sandbox endpoint with a planted server error: schemathesis finds it
within its budget and the result carries a curl reproduction without the credential."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from monitor.config import load_config
from monitor.engine import start_engine
from monitor.model import Category, Outcome
from tests.conftest import ROOT

pytest.importorskip("schemathesis")
pytestmark = pytest.mark.e2e

TOKEN = "ghp_" + "f" * 36
# What the team's own service documents about the one endpoint it fronts (not GitHub's spec).
DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "issues gateway", "version": "1"},
    "paths": {
        "/repos/{owner}/{repo}/issues/{issue_number}": {
            "get": {
                "parameters": [
                    {
                        "name": "owner",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["acme"]},
                    },
                    {
                        "name": "repo",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["sbx"]},
                    },
                    {
                        "name": "issue_number",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 3},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "the issue",
                        "content": {
                            "application/json": {"schema": {"type": "object", "required": ["number"]}}
                        },
                    },
                    "404": {"description": "no such issue"},
                },
            }
        }
    },
}


async def test_planted_sandbox_server_error_is_found(tmp_path: Path) -> None:
    """A 500 planted on the sandbox's issue endpoint is a failed `fuzz` check in category error,
    with a curl reproduction that names the endpoint and redacts the token."""
    (tmp_path / "openapi.json").write_text(json.dumps(DOCUMENT))
    doc = {
        "monitor": {
            "store": f"sqlite:///{tmp_path}/results.db",
            "packs_dir": str(ROOT / "checks"),
            "contracts_dir": str(ROOT / "contracts"),
            "retries": 0,
        },
        "sandbox": {
            "enabled": True,
            "faults": {"github": [{"kind": "error_rate", "params": {"status": 500}, "path": "/issues/2"}]},
        },
        "integrations": {
            "github": {
                "pack": "github",
                "auth": {"kind": "bearer", "token": TOKEN},
                "vars": {"owner": "acme", "repo": "sbx", "issue_number": 1},
                "openapi": "openapi.json",
                "fuzz": {"max_examples": 15, "budget": "15s"},
            }
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(doc))
    config = load_config(tmp_path / "config.yaml").select(["github"])
    async with start_engine(config) as engine:
        results = {r.check: r for r in await engine.run_once()}
    fuzz = results["fuzz"]
    assert (fuzz.outcome, fuzz.category) == (Outcome.FAIL, Category.ERROR), fuzz.reason
    assert "server error" in fuzz.reason and "HTTP 500" in fuzz.reason
    assert "curl" in fuzz.reason and "/repos/acme/sbx/issues/2" in fuzz.reason
    assert TOKEN not in json.dumps(fuzz.to_dict())
    # The planted fault hits only issue 2: the pack's own checks on issue 1 are unaffected.
    assert results["get_issue"].outcome is Outcome.PASS
