"""Load config.yaml and the packs it names into one validated, resolved `Config`.

All mistakes in all files are collected before anything is raised, so `config validate` lists
every one of them in a single run.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import SecretStr, ValidationError

import monitor
from monitor.config.errors import ConfigError, ConfigIssue, issues_from_validation, sort_issues
from monitor.config.models import (
    Claims,
    ClaimsFile,
    ConfigFile,
    Pack,
)
from monitor.config.yamlsrc import load_yaml, substitute_env, yaml_error_issue

if TYPE_CHECKING:
    from monitor.contracts.model import Contract
from monitor.config.contracted import contract_issues as pack_contract_issues
from monitor.config.contracted import contracted_pack
from monitor.config.derived import check_fuzz, contract_checks, fuzz_check
from monitor.config.packs import (
    check_overrides,
    check_variables,
    find_pack,
    load_pack,
    resolve_checks,
    unknown_pack,
)
from monitor.config.resolved import Config, ResolvedCheck, ResolvedIntegration

DEFAULT_CONFIG = "config.yaml"


CONFIG_ENV = "ATOM_MONITOR_CONFIG"


def config_path(explicit: str | None) -> Path:
    """`--config` wins, then $ATOM_MONITOR_CONFIG, then ./config.yaml."""
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def bundled_dir(name: str) -> Path:
    """Packs, contracts and templates: the wheel's copy, or the checkout's when run from source."""
    pkg = Path(monitor.__file__).parent
    for candidate in (pkg / "_bundled" / name, pkg.parent / name):
        if candidate.exists():
            return candidate
    return pkg / "_bundled" / name


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    # Imported here: monitor.contracts reads YAML with this package's helpers.
    from monitor.contracts.load import contracts_dirs, find_contract, read_contract

    file = str(path)
    if not path.is_file():
        raise ConfigError(
            [ConfigIssue(file, (), "no such config file (pass --config or set ATOM_MONITOR_CONFIG)")]
        )
    refs: list[tuple[str, str | None]] = []
    try:
        raw, lines = load_yaml(path, refs)
    except yaml.YAMLError as exc:
        raise ConfigError([yaml_error_issue(file, exc)]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([ConfigIssue(file, (), "the top level must be a mapping", 1)])
    data, issues = substitute_env(raw, file, lines, refs, dict(env) if env is not None else None)
    try:
        cfg = ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(sort_issues(issues + issues_from_validation(exc, file, lines))) from None
    if issues:
        raise ConfigError(issues)

    digest = hashlib.sha256(path.read_bytes())
    packs_dirs = [path.parent / cfg.monitor.packs_dir, bundled_dir("checks")]
    contract_dirs = contracts_dirs(path.parent, cfg.monitor.contracts_dir)
    contracts: dict[str, Contract] = {}
    packs: dict[str, Pack] = {}
    pack_files: dict[str, Path] = {}
    # The packs as their checks run: with each contracted call's schema from the contract.
    run_packs: dict[str, Pack] = {}
    integrations: dict[str, ResolvedIntegration] = {}
    checks: list[ResolvedCheck] = []
    imported: dict[str, Claims] = {}
    for index, claims_file in enumerate(cfg.claims_files):
        found, claim_issues = _load_claims(path.parent / claims_file, file, lines, index)
        imported.update(found)
        issues += claim_issues
        if not claim_issues:
            digest.update((path.parent / claims_file).read_bytes())
    for name, integ in cfg.integrations.items():
        pack_file = find_pack(integ.pack, packs_dirs)
        if pack_file is None:
            issues.append(unknown_pack(file, lines, name, integ.pack, packs_dirs))
            continue
        if integ.pack not in packs:
            pack, pack_issues = load_pack(pack_file)
            issues += pack_issues
            if pack is None:
                continue
            packs[integ.pack] = pack
            pack_files[integ.pack] = pack_file
            digest.update(pack_file.read_bytes())
        pack = packs[integ.pack]
        # contracts/<provider>/ describes the calls of checks/<provider>.yaml, the provider's own pack.
        if integ.pack == pack.provider and pack.provider not in contracts:
            contract_file = find_contract(pack.provider, contract_dirs)
            if contract_file is not None:
                contract, contract_issues = read_contract(contract_file)
                issues += contract_issues
                if contract is not None:
                    agreement = pack_contract_issues(contract, contract_file, pack, pack_file)
                    issues += agreement
                    contracts[pack.provider] = contract
                    digest.update(contract_file.read_bytes())
                    # The contract holds each contracted call's schema: checks run the merged pack.
                    if not agreement:
                        run_packs[integ.pack] = contracted_pack(pack, contract)
        contract = contracts.get(pack.provider) if integ.pack == pack.provider else None
        issues += check_overrides(file, lines, name, integ, pack, contract)
        fuzz_issues = check_fuzz(file, lines, name, integ, pack, path.parent)
        issues += fuzz_issues
        if integ.base_url is None and not cfg.sandbox.enabled:
            issues.append(
                ConfigIssue(
                    file,
                    ("integrations", name),
                    "missing required key 'base_url' (required unless sandbox is enabled)",
                    lines.get(("integrations", name)),
                )
            )
        issues += check_variables(file, lines, name, integ, pack)
        if not integ.enabled:
            continue
        integrations[name] = ResolvedIntegration(
            name=name,
            pack=integ.pack,
            provider=pack.provider,
            base_url=integ.base_url.rstrip("/") if integ.base_url else None,
            auth=integ.auth,
            vars=dict(integ.vars),
            claims=integ.claims or imported.get(name) or imported.get(integ.pack),
            pack_spec=pack.spec,
            pack_file=pack_file,
            ratelimit=integ.ratelimit,
        )
        checks += resolve_checks(name, integ, run_packs.get(integ.pack, pack))
        if contract is not None:
            checks += contract_checks(name, integ, pack, contract)
        if integ.openapi is not None and not fuzz_issues:
            checks += fuzz_check(name, integ, pack, path.parent)
    issues += _check_faults(file, lines, cfg)
    issues += _check_policy_overrides(file, lines, cfg)
    if issues:
        raise ConfigError(sort_issues(issues))
    return Config(
        source=path,
        file=cfg,
        integrations=integrations,
        checks=tuple(checks),
        secrets=_secrets(cfg),
        digest=digest.hexdigest(),
        packs=packs,
        contracts=contracts,
    )


def _load_claims(
    claims_path: Path, file: str, lines: Any, index: int
) -> tuple[dict[str, Claims], list[ConfigIssue]]:
    where: tuple[str | int, ...] = ("claims_files", index)
    if not claims_path.is_file():
        msg = f"no such claims file {str(claims_path)!r} (write one with `atom-monitor claims import`)"
        return {}, [ConfigIssue(file, where, msg, lines.get(where))]
    try:
        raw, claim_lines = load_yaml(claims_path)
    except yaml.YAMLError as exc:
        return {}, [yaml_error_issue(str(claims_path), exc)]
    try:
        return dict(ClaimsFile.model_validate(raw or {}).claims), []
    except ValidationError as exc:
        return {}, issues_from_validation(exc, str(claims_path), claim_lines)


def _check_faults(file: str, lines: Any, cfg: ConfigFile) -> list[ConfigIssue]:
    from monitor.sandbox import provider_names
    from monitor.sandbox.faults import Fault

    out = []
    for provider, faults in cfg.sandbox.faults.items():
        if provider not in provider_names():
            path: tuple[str | int, ...] = ("sandbox", "faults", provider)
            msg = f"no sandbox for provider {provider!r} (have: {', '.join(provider_names())})"
            out.append(ConfigIssue(file, path, msg, lines.get(path)))
            continue
        for i, fault in enumerate(faults):
            try:
                Fault.parse({"kind": fault.kind, "path": fault.path, "params": fault.params})
            except ValueError as exc:
                path = ("sandbox", "faults", provider, i)
                out.append(ConfigIssue(file, path, str(exc), lines.get(path)))
    return out


def _check_policy_overrides(file: str, lines: Any, cfg: ConfigFile) -> list[ConfigIssue]:
    out = []
    known = ", ".join(sorted(cfg.integrations)) or "none"
    for name in cfg.policy.overrides:
        if name not in cfg.integrations:
            path: tuple[str | int, ...] = ("policy", "overrides", name)
            msg = f"no integration named {name!r} to override (configured: {known})"
            out.append(ConfigIssue(file, path, msg, lines.get(path)))
    return out


def _secrets(cfg: ConfigFile) -> frozenset[str]:
    """Every configured secret value, so the one scrubber can remove them wherever they appear."""
    values: set[str] = set()
    if cfg.monitor.admin_token is not None:
        values.add(cfg.monitor.admin_token.get_secret_value())
    for integ in cfg.integrations.values():
        values.update(_secret_values(integ.auth))
    # Very short values would scrub innocent text everywhere; a 1-3 character secret is no secret.
    return frozenset(v for v in values if len(v) >= 4)


def _secret_values(auth: Any) -> list[str]:
    out: list[str] = []
    for name in type(auth).model_fields:
        value = getattr(auth, name)
        if isinstance(value, SecretStr):
            out.append(value.get_secret_value())
        elif isinstance(value, dict):
            out += [v.get_secret_value() for v in value.values() if isinstance(v, SecretStr)]
    return out
