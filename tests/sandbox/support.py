"""Shared by the per-provider sandbox tests: run one provider's pack against the in-process
sandbox, and judge every exchange against the provider's published spec."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator

from monitor.config import Config, load_config
from monitor.config.models import SpecGap
from monitor.engine import start_engine
from monitor.model import CheckResult
from monitor.probes.context import Exchange
from monitor.specs import Spec
from tests.conftest import ROOT


def sandbox_config(tmp_path: Path, name: str, block: str, faults: str = "") -> Config:
    """A config with one integration `name` (its YAML body given as `block`) on the sandbox.

    `block` is the integration's keys, e.g. "pack: asana\\nauth: {kind: bearer, token: t}".
    `faults` is YAML for `sandbox.faults`, e.g. "asana: [{kind: expired_token}]".
    """
    body = "\n".join("    " + line for line in block.strip().splitlines())
    text = (
        f"monitor:\n  store: sqlite:///{tmp_path}/results.db\n  packs_dir: {ROOT / 'checks'}\n  retries: 0\n"
        f"sandbox:\n  enabled: true\n  faults: {{{faults}}}\n"
        f"integrations:\n  {name}:\n{body}\n"
    )
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


async def run_pack(config: Config) -> tuple[list[CheckResult], list[Exchange]]:
    """Every configured check once; the results and every HTTP exchange the probes made."""
    exchanges: list[Exchange] = []
    async with start_engine(config) as engine:
        engine.observer = exchanges.append
        results = await engine.run_once()
    return results, exchanges


async def run_pack_and_count(config: Config) -> tuple[list[CheckResult], list[Exchange], int]:
    """Like run_pack, plus how many objects the sandbox still holds afterwards (CRUD litter)."""
    exchanges: list[Exchange] = []
    async with start_engine(config) as engine:
        engine.observer = exchanges.append
        results = await engine.run_once()
        assert engine.sandbox is not None
        provider = next(iter(config.integrations.values())).provider
        async with engine.session.get(f"{engine.sandbox.control_url}/objects/{provider}") as resp:
            left = int((await resp.json())["count"])
    return results, exchanges, left


def by_check(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.check: r for r in results}


def conformance_problems(
    spec: Spec, spec_name: str, exchanges: list[Exchange], gaps: Iterable[SpecGap] = ()
) -> list[str]:
    """One line per exchange that is no operation of the spec, has an undeclared status (unless
    the pack states it as a `spec_gaps` entry), or whose JSON body breaks the declared schema."""
    known = {(g.request, g.status) for g in gaps}
    problems: list[str] = []
    for ex in exchanges:
        op = spec.find_operation(ex.method, ex.path_template)
        if op is None:
            problems.append(f"{ex.method} {ex.path_template}: not an operation of {spec_name}")
            continue
        if not op.declares_status(ex.status):
            if (f"{op.method} {op.path}", ex.status) in known:
                continue
            problems.append(f"{ex.method} {op.path}: status {ex.status} is not declared")
            continue
        if ex.is_json:
            errors = spec.validate_response(op, ex.status, ex.body)
            # Slack answers failures with HTTP 200 and {"ok": false}; its spec files them under
            # `default`. Such a body conforms when the documented error schema accepts it.
            if errors and isinstance(ex.body, dict) and ex.body.get("ok") is False and op.has_default:
                errors = spec.validate_default(op, ex.body)
            problems += [f"{ex.method} {op.path} {ex.status}: {e}" for e in errors]
    return problems


# (method, path regex, {status: JSON Schema of the body, or None for no body}), as documented by
# a provider that publishes no machine-readable spec (Salesforce, Microsoft Graph).
Documented = list[tuple[str, str, dict[int, dict[str, Any] | None]]]


def documented_problems(ex: Exchange, documented: Documented, base_path: str) -> list[str]:
    """What in one exchange breaks the provider's documented statuses and body shapes."""
    path = urlsplit(ex.url).path.removeprefix(base_path)
    for method, pattern, statuses in documented:
        if method == ex.method and re.fullmatch(pattern, path):
            if ex.status not in statuses:
                return [f"{ex.method} {path}: status {ex.status} is not documented"]
            schema = statuses[ex.status]
            if schema is None:
                return [] if not ex.text else [f"{ex.method} {path}: {ex.status} must have no body"]
            errors = Draft202012Validator(schema).iter_errors(ex.body)
            return [f"{ex.method} {path} {ex.status}: {e.message}" for e in errors]
    return [f"{ex.method} {path}: not a documented resource"]
