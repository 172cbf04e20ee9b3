"""Every provider x every injected fault, through the engine over real sockets: a healthy
sandbox passes every check, and each fault fails exactly what it should — with no list of
expectations copied per provider (they are derived from the packs)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import Config, load_config
from monitor.model import Category, CheckResult, Outcome
from tests.conftest import ROOT
from tests.sandbox.support import by_check, run_pack_and_count

pytestmark = pytest.mark.e2e

DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
PROVIDERS = sorted(DEFAULT["integrations"])
# Categories whose checks cannot pass without the configured credential.
NEEDS_TOKEN = {Category.RETRIEVAL, Category.CRUD}


@functools.cache
def _shipped() -> Config:
    return load_config(ROOT / "config.yaml")


def _auth_schema(provider: str) -> dict[str, Any]:
    """The schema the provider's auth_valid check is judged by (its contract's, once resolved)."""
    check = next(c for c in _shipped().checks if c.integration == provider and c.name == "auth_valid")
    assert check.spec.expect.schema_ is not None, provider
    return check.spec.expect.schema_


def _required_field(schema: dict[str, Any]) -> str:
    """The innermost required field along the first required path of a schema: the field a
    consumer reads (Asana's `data.gid`, not the `data` envelope)."""
    field = schema["required"][0]
    inner = schema.get("properties", {}).get(field, {})
    return _required_field(inner) if inner.get("required") else str(field)


def _config(tmp_path: Path, provider: str, faults: list[dict[str, Any]], extra: dict[str, Any]) -> Config:
    integration = {**DEFAULT["integrations"][provider], **extra}
    doc = {
        "monitor": {
            "store": f"sqlite:///{tmp_path}/results.db",
            "packs_dir": str(ROOT / "checks"),
            "contracts_dir": str(ROOT / "contracts"),
            "retries": 0,
            "per_integration_concurrency": 32,
        },
        "sandbox": {"enabled": True, "faults": {provider: faults}},
        "integrations": {provider: integration},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_config(path)


async def _run(config: Config) -> dict[str, CheckResult]:
    return by_check((await run_pack_and_count(config))[0])


def _read_field(config: Config) -> tuple[str, str]:
    """The CRUD check, and a field its read step asserts on (not an id): retyping it fails the
    lifecycle after something was created."""
    crud = next(c for c in config.checks if c.category is Category.CRUD and c.spec.steps)
    read = [s for s in crud.spec.steps or [] if not s.cleanup][1]
    paths = [p for p in read.expect.body if p.split(".")[-1].lower() not in ("ok", "id")]
    return crud.name, re.split(r"[.\[]", paths[0].split(".")[-1])[0]


def _expired(provider: str, results: dict[str, CheckResult]) -> None:
    assert (results["auth_valid"].outcome, results["auth_valid"].category) == (Outcome.FAIL, Category.AUTH)
    passing = [r.check for r in results.values() if r.outcome is Outcome.PASS and r.category in NEEDS_TOKEN]
    assert not passing, f"passed without a valid credential: {passing}"


def _rate_limited(provider: str, results: dict[str, CheckResult]) -> None:
    for r in results.values():
        assert r.outcome is Outcome.SKIPPED, (r.check, r.reason)
        assert "retry after 42s" in r.reason, (r.check, r.reason)


def _server_error(provider: str, results: dict[str, CheckResult]) -> None:
    for r in results.values():
        assert r.outcome is Outcome.FAIL, (r.check, r.outcome, r.reason)
        assert "503" in r.reason, (r.check, r.reason)


def _hang(provider: str, results: dict[str, CheckResult]) -> None:
    for r in results.values():
        assert r.outcome is Outcome.ERROR, (r.check, r.reason)
        assert r.reason == "no answer within the 1s timeout", (r.check, r.reason)


def _drift(provider: str, results: dict[str, CheckResult]) -> None:
    field = _required_field(_auth_schema(provider))
    auth = results["auth_valid"]
    assert auth.outcome is Outcome.FAIL, auth.reason
    assert any(a.expected == f"field {field!r} present" and not a.passed for a in auth.assertions), (
        auth.assertions
    )


def _garbage(provider: str, results: dict[str, CheckResult]) -> None:
    auth = results["auth_valid"]
    # (OAuth2 providers meet the garbage first at their token endpoint.)
    assert auth.outcome is Outcome.FAIL and "a JSON document" in auth.reason, auth.reason
    assert not [r.check for r in results.values() if r.outcome is Outcome.PASS and r.category in NEEDS_TOKEN]


def _slow(provider: str, results: dict[str, CheckResult]) -> None:
    auth = results["auth_valid"]
    assert auth.outcome is Outcome.FAIL and auth.reason.startswith("latency: expected under 300ms"), (
        auth.reason
    )


Verdict = Callable[[str, dict[str, CheckResult]], None]
FAULTS: dict[str, tuple[Callable[[str], list[dict[str, Any]]], dict[str, Any], Verdict]] = {
    "expired_token": (lambda p: [{"kind": "expired_token"}], {}, _expired),
    "rate_limit": (lambda p: [{"kind": "rate_limit", "params": {"retry_after": 42}}], {}, _rate_limited),
    "error_rate": (lambda p: [{"kind": "error_rate", "params": {"status": 503}}], {}, _server_error),
    "hang": (lambda p: [{"kind": "hang"}], {"timeout": "1s"}, _hang),
    "drift": (
        lambda p: [
            {
                "kind": "drift",
                "params": {"field": _required_field(_auth_schema(p))},
            }
        ],
        {},
        _drift,
    ),
    "garbage": (lambda p: [{"kind": "garbage"}], {}, _garbage),
    "latency": (
        lambda p: [{"kind": "latency", "params": {"ms": 400}}],
        {"checks": {"auth_valid": {"latency_under": "300ms"}}},
        _slow,
    ),
}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_healthy_sandbox_passes_every_category(provider: str, tmp_path: Path) -> None:
    """With no fault, every check of the provider passes and auth, retrieval, crud, error and
    latency are all covered."""
    listed, _, left = await run_pack_and_count(_config(tmp_path, provider, [], {}))
    results = by_check(listed)
    assert left == 0, "a healthy run left objects behind"
    failed = {r.check: r.reason for r in results.values() if r.outcome is not Outcome.PASS}
    assert not failed
    covered = {r.category for r in results.values()}
    assert {Category.AUTH, Category.RETRIEVAL, Category.CRUD, Category.ERROR, Category.LATENCY} <= covered


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_failed_crud_leaves_no_litter(provider: str, tmp_path: Path) -> None:
    """When a CRUD lifecycle fails after its create step, cleanup still deletes what it made:
    the delete step ran and passed, and the sandbox holds no object afterwards."""
    name, field = _read_field(_config(tmp_path, provider, [], {}))
    drift = [{"kind": "drift", "params": {"field": field, "mode": "retype"}}]
    results, _, left = await run_pack_and_count(_config(tmp_path, provider, drift, {}))
    crud = by_check(results)[name]
    assert crud.outcome is Outcome.FAIL, crud.reason
    cleanup = [a for a in crud.assertions if a.name == "status" and a.step not in ("create", "read")]
    assert cleanup and cleanup[-1].passed, crud.assertions
    assert left == 0


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_fault_fails_exactly_what_it_should(provider: str, fault: str, tmp_path: Path) -> None:
    """Each injected fault gives the outcome and category it must: an expired token fails auth
    and nothing needing the token passes; a 429 skips everything with the wait; a 503 fails
    (not errors); a hang errors after the timeout; a removed field fails the auth check naming
    it; garbage fails on `a JSON document`; added latency fails the latency budget."""
    faults, extra, verdict = FAULTS[fault]
    results = await _run(_config(tmp_path, provider, faults(provider), extra))
    assert results
    verdict(provider, results)
