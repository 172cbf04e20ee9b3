"""Every request of every pack (checks/*.yaml) is an operation of the provider's published spec."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from monitor.config.models import Pack, RequestSpec
from monitor.specs import Spec, UnsupportedSpec, load_spec

CHECKS = Path(__file__).resolve().parents[1] / "checks"
SHARED = Path(__file__).resolve().parents[2] / "shared"
PACKS = sorted(CHECKS.glob("*.yaml"))


def _requests(pack: Pack) -> Iterator[tuple[str, RequestSpec]]:
    for name, check in pack.checks.items():
        if check.http is not None:
            yield name, check.http
        for step in check.steps or []:
            yield f"{name}/{step.name}", step.request


@pytest.fixture(scope="module")
def spec_for() -> Callable[[str], Spec]:
    """Load a spec under shared/provider-specs once per module; skip (fail in CI) when shared/ is absent."""
    root = SHARED / "provider-specs"
    if not root.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{root} is missing in CI")
        pytest.skip(f"{root} is not present")
    loaded: dict[str, Spec] = {}

    def get(name: str) -> Spec:
        if name not in loaded:
            loaded[name] = load_spec(root / name)
        return loaded[name]

    return get


@pytest.mark.parametrize("pack_file", PACKS, ids=[p.stem for p in PACKS])
def test_pack_requests_are_spec_operations(pack_file: Path, spec_for: Callable[[str], Spec]) -> None:
    """Each check's request, and each step's, is a method and path the pack's spec declares."""
    pack = Pack.model_validate(yaml.safe_load(pack_file.read_text(encoding="utf-8")))
    if pack.spec is None:
        pytest.skip(f"{pack_file.name} names no spec: {pack.spec_note or 'no spec_note'}")
    try:
        spec = spec_for(pack.spec)
    except UnsupportedSpec as exc:
        pytest.skip(f"not an OpenAPI/Swagger description, requests not checked here: {exc}")
    missing = [
        f"{where}: {request.method} {request.path}"
        for where, request in _requests(pack)
        if spec.find_operation(request.method, request.path) is None
    ]
    assert not missing, f"{pack_file.name}: requests that are no operation of {pack.spec}:\n" + "\n".join(
        missing
    )
