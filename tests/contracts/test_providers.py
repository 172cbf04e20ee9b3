"""Every provider with a contract, parametrised from contracts/*/contract.yaml (none hand-listed):
its contract and cassettes verify offline, its committed read cassette replays with no server and
passes every contract check, and the sandbox's drift fault on a contracted field is named by
`verify --live`; a refused credential leaves the contract untested (`error`), never drift."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import vcr

from monitor.config import Config, ProbeKind, load_config
from monitor.config.models import FaultSpec
from monitor.config.resolved import contract_check_names
from monitor.contracts.drift import pointer
from monitor.contracts.load import load_cassette, load_contract
from monitor.contracts.model import Contract
from monitor.contracts.record import scrub_request
from monitor.contracts.verify_offline import verify_all
from monitor.engine import start_engine
from monitor.metrics import Metrics
from monitor.model import Outcome
from monitor.scrub import Scrubber
from tests.conftest import ROOT, SHARED

CONTRACTS = sorted(p.parent.name for p in (ROOT / "contracts").glob("*/contract.yaml"))
CONFIG = load_config(ROOT / "config.yaml")


def _integration(provider: str) -> str:
    """The default config's integration that uses the provider's own pack (its contract applies)."""
    return next(n for n, i in CONFIG.integrations.items() if i.provider == provider and i.pack == provider)


def _contract(provider: str) -> Contract:
    return load_contract(ROOT / "contracts" / provider / "contract.yaml")


def _specs_dir(contract: Contract) -> Path | None:
    """../shared/provider-specs when the contract names a spec there; in CI it must be present."""
    root = SHARED / "provider-specs"
    if contract.spec is not None and not (root / contract.spec).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{root / contract.spec} is missing in CI")
        return None
    return root


def test_every_configured_provider_has_a_contract() -> None:
    """All fourteen providers of the default config are contracted, each with its two cassettes."""
    assert sorted({i.provider for i in CONFIG.integrations.values()}) == CONTRACTS
    for provider in CONTRACTS:
        folder = ROOT / "contracts" / provider / "cassettes"
        assert sorted(p.name for p in folder.glob("*.yaml")) == ["read.yaml", "writes.yaml"], provider


@pytest.mark.parametrize("provider", CONTRACTS)
def test_contract_and_cassettes_verify_offline(provider: str, tmp_path: Path) -> None:
    """The contract holds against its published spec (where one is kept) and the pack, and every
    recorded interaction satisfies it: no violation, and the spec was really read."""
    contract = _contract(provider)
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / provider).symlink_to(ROOT / "contracts" / provider)
    specs = _specs_dir(contract)
    report = verify_all([tmp_path / "contracts"], specs, [ROOT / "checks"])
    assert report.checked == 1
    assert [str(v) for v in report.violations] == []
    if contract.spec is None:
        assert contract.spec_note and any("no published spec" in n for n in report.notes)
    elif specs is not None:
        assert not any("not found" in n for n in report.notes), report.notes


def _replay_config(provider: str, base_path: str) -> Config:
    """The default config's integration aimed at an address where nothing listens, sandbox off."""
    name = _integration(provider)
    config = CONFIG.select([name]).with_base_urls({provider: f"http://127.0.0.1:9{base_path}"})
    file = config.file.model_copy(
        update={
            "sandbox": config.file.sandbox.model_copy(update={"enabled": False}),
            "monitor": config.file.monitor.model_copy(update={"store": "sqlite:///:memory:"}),
        }
    )
    return dataclasses.replace(config, file=file)


@pytest.mark.parametrize("provider", CONTRACTS)
async def test_read_cassette_replays_every_contract_check_without_a_server(provider: str) -> None:
    """vcrpy in record mode `none` answers from the committed read cassette alone; every contract
    check passes. Requests are scrubbed as when recorded (credentials in a query or body) and
    matched on their body too, so GraphQL calls to one path get their own answers."""
    cassette = ROOT / "contracts" / provider / "cassettes" / "read.yaml"
    provenance = load_cassette(cassette)["metadata"]["provenance"]
    config = _replay_config(provider, str(provenance["base_path"]))
    scrubber = Scrubber(config.secrets)
    with vcr.use_cassette(
        str(cassette),
        record_mode="none",
        match_on=["method", "path", "query", "body"],
        before_record_request=lambda r: scrub_request(scrubber, r),
        allow_playback_repeats=True,
    ):
        async with start_engine(config, recordable=True) as engine:
            checks = [c for c in engine.config.checks if c.kind is ProbeKind.CONTRACT]
            results = await engine.run_once(checks)
    expected = sorted(contract_check_names(_contract(provider)))
    assert sorted(r.check for r in results) == expected and expected
    assert all(r.outcome is Outcome.PASS for r in results), [(r.check, r.reason) for r in results]


# --------------------------------------------------------------------------- drift, live


def _leaf(schema: Mapping[str, Any], path: list[str | int]) -> tuple[str, list[str | int]] | None:
    """The first required field, following required objects and array items down to a value."""
    if isinstance(schema.get("items"), Mapping):
        return _leaf(schema["items"], [*path, 0])
    props = schema.get("properties") or {}
    for name in schema.get("required") or []:
        sub = props.get(name) or {}
        if sub.get("required") or isinstance(sub.get("items"), Mapping):
            found = _leaf(sub, [*path, name])
            if found is not None:
                return found
        elif sub.get("type") not in ("object", "array"):
            return name, [*path, name]
    return None


def drift_target(contract: Contract) -> tuple[str, str, str]:
    """(operation, field, JSON pointer): a contracted field of the first scheduled operation."""
    scheduled = set(contract_check_names(contract))
    for name, op in contract.operations.items():
        if f"contract_{name}" in scheduled and op.response is not None:
            found = _leaf(op.response, [])
            if found is not None:
                return name, found[0], pointer(found[1])
    raise AssertionError(f"{contract.provider}: no scheduled operation with a required field")


@pytest.fixture(scope="module")
def live_drift(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """`verify --live` once on the default config, its in-process sandbox removing one contracted
    field from every provider's answers (a `drift` fault per provider, set in the config)."""
    tmp = tmp_path_factory.mktemp("drift")
    faults = {
        provider: [
            {"kind": "drift", "params": {"field": drift_target(_contract(provider))[1], "mode": "remove"}}
        ]
        for provider in CONTRACTS
    }
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("sandbox: true", "sandbox:\n  enabled: true\n  faults: " + json.dumps(faults))
    text = text.replace("store: sqlite:///./atom-monitor.db", f"store: sqlite:///{tmp}/results.db")
    text = text.replace("claims_files: [claims/", f"claims_files: [{ROOT}/claims/")
    config = tmp / "config.yaml"  # packs and contracts: the checkout's, the bundled fallback
    config.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "monitor", "verify", "--live", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp,
        env={k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")},
    )


@pytest.mark.e2e
@pytest.mark.parametrize("provider", CONTRACTS)
def test_verify_live_names_the_drifted_field(
    provider: str, live_drift: subprocess.CompletedProcess[str]
) -> None:
    """The sandbox's drift fault on a field the contract relies on is a `verify --live` line naming
    that field's pointer, the contract's type and `live missing`; verify exits 1."""
    operation, _, where = drift_target(_contract(provider))
    assert live_drift.returncode == 1, live_drift.stderr
    prefix = f"{_integration(provider)} {operation}: drift {where}: expected "
    lines = [line for line in live_drift.stdout.splitlines() if line.startswith(prefix)]
    assert lines and all(line.endswith(", live missing") for line in lines), live_drift.stdout


# --------------------------------------------------------------------------- refused credentials


async def _run_contract_checks(provider: str, fault: str) -> list[Any]:
    name = _integration(provider)
    config = CONFIG.select([name])
    sandbox = config.file.sandbox.model_copy(update={"faults": {provider: [FaultSpec(kind=fault)]}})
    monitor = config.file.monitor.model_copy(update={"store": "sqlite:///:memory:"})
    file = config.file.model_copy(update={"sandbox": sandbox, "monitor": monitor})
    config = dataclasses.replace(config, file=file)
    async with start_engine(config) as engine:
        checks = [c for c in engine.config.checks if c.kind is ProbeKind.CONTRACT]
        return await engine.run_once(checks)


# GitHub refuses an expired token with 401, Figma with 403, and Xero's token endpoint refuses the
# refresh (invalid_grant), so no call is made at all.
@pytest.mark.parametrize(("provider", "why"), [("github", "HTTP 401"), ("figma", "HTTP 403"), ("xero", "")])
async def test_refused_credential_leaves_the_contract_untested(provider: str, why: str) -> None:
    """An expired credential makes every contract check `error` ("could not be tested"), never a
    drift `fail`: integration_contract_conformant keeps its last value, so no drift alert fires."""
    results = await _run_contract_checks(provider, "expired_token")
    assert results and all(r.outcome is Outcome.ERROR for r in results), [
        (r.check, r.reason) for r in results
    ]
    for r in results:
        assert r.reason.startswith("the contract could not be tested: "), r.reason
        assert why in r.reason
    metrics = Metrics()
    name = _integration(provider)
    operations = [r.check.removeprefix("contract_") for r in results]
    for r in results:
        metrics.observe(dataclasses.replace(r, outcome=Outcome.PASS))
    for r in results:
        metrics.observe(r)
    for operation in operations:
        labels = {"integration": name, "operation": operation}
        assert metrics.registry.get_sample_value("integration_contract_conformant", labels) == 1
