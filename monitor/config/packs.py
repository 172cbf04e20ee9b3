"""Packs (checks/<pack>.yaml): finding and loading them, validating an integration against its pack,
and resolving its checks with their intervals, timeouts and overrides."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from monitor.config.errors import ConfigIssue, issues_from_validation
from monitor.config.models import (
    CheckSpec,
    Integration,
    Pack,
)
from monitor.config.yamlsrc import load_yaml, yaml_error_issue
from monitor.template import placeholders

if TYPE_CHECKING:
    from monitor.contracts.model import Contract
from monitor.config.resolved import (
    FUZZ_CHECK,
    ProbeKind,
    ResolvedCheck,
    contract_check_names,
    interval_and_timeout,
)


def available_packs(dirs: list[Path]) -> list[str]:
    names = {p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(names)


def find_pack(name: str, dirs: list[Path]) -> Path | None:
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    for d in dirs:
        candidate = d / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    return None


def unknown_pack(file: str, lines: Any, name: str, pack: str, dirs: list[Path]) -> ConfigIssue:
    path = ("integrations", name, "pack")
    avail = ", ".join(available_packs(dirs)) or "none found"
    return ConfigIssue(file, path, f"unknown pack {pack!r} (available: {avail})", lines.get(path))


def load_pack(pack_file: Path) -> tuple[Pack | None, list[ConfigIssue]]:
    file = str(pack_file)
    try:
        raw, lines = load_yaml(pack_file)
    except yaml.YAMLError as exc:
        return None, [yaml_error_issue(file, exc)]
    try:
        return Pack.model_validate(raw or {}), []
    except ValidationError as exc:
        return None, issues_from_validation(exc, file, lines)


def check_overrides(
    file: str, lines: Any, name: str, integ: Integration, pack: Pack, contract: Contract | None
) -> list[ConfigIssue]:
    out = []
    known = {
        *pack.checks,
        *(contract_check_names(contract) if contract else ()),
        *((FUZZ_CHECK,) if integ.openapi is not None else ()),
    }
    for check in integ.checks:
        if check not in known:
            path = ("integrations", name, "checks", check)
            avail = ", ".join(sorted(known))
            out.append(
                ConfigIssue(
                    file,
                    path,
                    f"unknown check {check!r} in pack {integ.pack!r} (available: {avail})",
                    lines.get(path),
                )
            )
    return out


def check_variables(file: str, lines: Any, name: str, integ: Integration, pack: Pack) -> list[ConfigIssue]:
    """Every `{{var}}` a pack uses must be defined: by vars, `run_id`, or an earlier capture."""
    missing: dict[str, list[str]] = {}
    for check_name, spec in pack.checks.items():
        defined = {*integ.vars, "run_id"}
        for request, captures in _requests(spec):
            for var in sorted(placeholders(request.model_dump(by_alias=True)) - defined):
                missing.setdefault(var, []).append(check_name)
            defined |= captures
    path = ("integrations", name, "vars")
    return [
        ConfigIssue(
            file,
            path,
            f"missing variable {var!r} (pack {integ.pack!r} uses it in: {', '.join(sorted(set(checks)))})",
            lines.get(path) or lines.get(("integrations", name)),
        )
        for var, checks in sorted(missing.items())
    ]


def _requests(spec: CheckSpec) -> list[tuple[Any, set[str]]]:
    if spec.http is not None:
        return [(spec.http, set())]
    return [(s.request, set(s.capture)) for s in spec.steps or []]


def resolve_checks(name: str, integ: Integration, pack: Pack) -> list[ResolvedCheck]:
    out = []
    for check_name, spec in pack.checks.items():
        override = integ.checks.get(check_name)
        if override is not None and not override.enabled:
            continue
        interval, timeout = interval_and_timeout(override, spec, integ, pack)
        out.append(
            ResolvedCheck(
                integration=name,
                name=check_name,
                category=spec.category,
                kind=ProbeKind.HTTP if spec.http is not None else ProbeKind.STEPS,
                spec=spec,
                interval=interval,
                timeout=timeout,
                latency_under=(override.latency_under if override else None)
                or spec.latency_under
                or pack.defaults.latency_under,
                headers={**pack.defaults.headers, **integ.headers},
            )
        )
    return out
