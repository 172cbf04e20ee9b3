"""Every response the sandbox gives to every pack request conforms to the provider's published
spec: the operation exists, the status is declared, and the body validates against its schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.engine import start_engine
from monitor.probes.context import Exchange
from monitor.specs import UnsupportedSpec, load_spec
from tests.conftest import ROOT

CONFIG = load_config(ROOT / "config.yaml")
PROVIDERS = sorted({i.provider for i in CONFIG.integrations.values()})


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_sandbox_responses_conform_to_published_spec(
    provider: str, provider_specs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full healthy run of the provider's pack yields only spec-conformant exchanges."""
    monkeypatch.chdir(tmp_path)  # the default config's SQLite store lands here
    names = [n for n, i in CONFIG.integrations.items() if i.provider == provider]
    config = CONFIG.select(names)
    spec_path = config.integrations[names[0]].pack_spec
    if spec_path is None:
        pytest.skip(f"{provider} publishes no machine-readable spec")
    try:
        spec = load_spec(provider_specs / spec_path)
    except UnsupportedSpec:
        pytest.skip(f"{spec_path} is not OpenAPI/Swagger; checked by its own test")
    exchanges: list[Exchange] = []
    async with start_engine(config) as engine:
        engine.observer = exchanges.append
        results = await engine.run_once()
    assert all(r.outcome.value == "pass" for r in results), [(r.check, r.reason) for r in results]
    problems = []
    for ex in exchanges:
        op = spec.find_operation(ex.method, ex.path_template)
        if op is None:
            problems.append(f"{ex.method} {ex.path_template}: not an operation of {spec_path}")
            continue
        if not op.declares_status(ex.status):
            problems.append(f"{ex.method} {op.path}: status {ex.status} is not declared")
            continue
        if ex.is_json:
            errors = spec.validate_response(op, ex.status, ex.body)
            # Slack answers failures with HTTP 200 and {"ok": false}; its spec files them under
            # `default`. Such a body conforms when the documented error schema accepts it.
            if errors and isinstance(ex.body, dict) and ex.body.get("ok") is False and op.has_default:
                errors = spec.validate_default(op, ex.body)
            problems += [f"{ex.method} {op.path} {ex.status}: {e}" for e in errors]
    assert len(exchanges) >= len(results)
    assert not problems, "\n".join(problems)
