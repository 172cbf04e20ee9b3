"""Every response the sandbox gives to every pack request conforms to the provider's published
spec: the operation exists, the status is declared, and the body validates against its schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.specs import UnsupportedSpec, load_spec
from tests.conftest import ROOT
from tests.sandbox.support import conformance_problems, run_pack

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
    results, exchanges = await run_pack(config)
    assert all(r.outcome.value == "pass" for r in results), [(r.check, r.reason) for r in results]
    assert len(exchanges) >= len(results)
    gaps = config.packs[config.integrations[names[0]].pack].spec_gaps
    problems = conformance_problems(spec, spec_path, exchanges, gaps)
    assert not problems, "\n".join(problems)
