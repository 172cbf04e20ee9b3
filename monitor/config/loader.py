"""Load config.yaml and the packs it names into one validated, resolved `Config`.

All mistakes in all files are collected before anything is raised, so `config validate` lists
every one of them in a single run.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml
from pydantic import SecretStr, ValidationError

import monitor
from monitor.config.durations import format_duration
from monitor.config.errors import ConfigError, ConfigIssue, issues_from_validation, sort_issues
from monitor.config.models import (
    Auth,
    CheckSpec,
    Claims,
    ClaimsFile,
    ConfigFile,
    FuzzSpec,
    Integration,
    Pack,
    RateLimitPolicy,
    RequestSpec,
)
from monitor.config.yamlsrc import load_yaml, substitute_env, yaml_error_issue
from monitor.model import Category
from monitor.template import placeholders

if TYPE_CHECKING:
    from monitor.contracts.model import Contract, ContractOperation

DEFAULT_CONFIG = "config.yaml"
# Checks synthesised from a contract's read-only operations are named `contract_<operation>`.
CONTRACT_CHECK_PREFIX = "contract_"
CONFIG_ENV = "ATOM_MONITOR_CONFIG"
# The check synthesised for an integration that names its own OpenAPI document (`openapi:`).
FUZZ_CHECK = "fuzz"
# Beyond its budget, a fuzz run may load the document and finish one request of each kind.
FUZZ_GRACE = 10.0


class ProbeKind(enum.StrEnum):
    """The probe that runs a check; also the key that selects it in a pack."""

    HTTP = "http"
    STEPS = "steps"
    CONTRACT = "contract"
    FUZZ = "fuzz"


@dataclass(frozen=True, slots=True)
class FuzzTarget:
    """What the `fuzz` check fuzzes, and its bounds."""

    openapi: str  # an http(s) URL, or an absolute file path
    max_examples: int  # generated cases per operation
    budget: float  # seconds for the whole run
    request_timeout: float  # seconds per request (and for loading the document)


@dataclass(frozen=True, slots=True)
class ResolvedCheck:
    integration: str
    name: str
    category: Category
    kind: ProbeKind
    spec: CheckSpec
    interval: float
    timeout: float
    latency_under: float | None
    headers: Mapping[str, str]
    # For kind `contract`: the operation whose responses the check validates.
    contract: ContractOperation | None = None
    # For kind `fuzz`: the OpenAPI document and the bounds of the run.
    fuzz: FuzzTarget | None = None

    @property
    def operation(self) -> str | None:
        """The contract operation this check verifies (the `operation` label of its metric)."""
        if self.kind is ProbeKind.CONTRACT:
            return self.name.removeprefix(CONTRACT_CHECK_PREFIX)
        return None

    @property
    def key(self) -> str:
        return f"{self.integration}/{self.name}"


@dataclass(frozen=True, slots=True)
class ResolvedIntegration:
    name: str
    pack: str
    provider: str
    base_url: str | None
    auth: Auth
    vars: Mapping[str, Any]
    claims: Claims | None
    pack_spec: str | None
    pack_file: Path
    ratelimit: RateLimitPolicy = field(default_factory=RateLimitPolicy)


@dataclass(frozen=True, slots=True)
class Config:
    source: Path
    file: ConfigFile
    integrations: Mapping[str, ResolvedIntegration]
    checks: tuple[ResolvedCheck, ...]
    secrets: frozenset[str]
    digest: str
    packs: Mapping[str, Pack] = field(default_factory=dict)
    # provider -> its consumer contract, for every configured provider that has one.
    contracts: Mapping[str, Contract] = field(default_factory=dict)

    def with_base_urls(self, urls: Mapping[str, str]) -> Config:
        """Fill in base URLs (the in-process sandbox's) for integrations that left them out."""
        integrations = {
            name: dataclasses.replace(i, base_url=i.base_url or urls.get(i.provider))
            for name, i in self.integrations.items()
        }
        return dataclasses.replace(self, integrations=integrations)

    def select(self, names: list[str]) -> Config:
        keep = set(names)
        return dataclasses.replace(
            self,
            integrations={n: i for n, i in self.integrations.items() if n in keep},
            checks=tuple(c for c in self.checks if c.integration in keep),
        )


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
        pack_file = _find_pack(integ.pack, packs_dirs)
        if pack_file is None:
            issues.append(_unknown_pack(file, lines, name, integ.pack, packs_dirs))
            continue
        if integ.pack not in packs:
            pack, pack_issues = _load_pack(pack_file)
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
                issues += contract_issues + (contract_uses(contract, pack, contract_file) if contract else [])
                if contract is not None:
                    contracts[pack.provider] = contract
                    digest.update(contract_file.read_bytes())
        contract = contracts.get(pack.provider) if integ.pack == pack.provider else None
        issues += _check_overrides(file, lines, name, integ, pack, contract)
        fuzz_issues = _check_fuzz(file, lines, name, integ, pack, path.parent)
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
        issues += _check_variables(file, lines, name, integ, pack)
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
        checks += _resolve_checks(name, integ, pack)
        if contract is not None:
            checks += _contract_checks(name, integ, pack, contract)
        if integ.openapi is not None and not fuzz_issues:
            checks += _fuzz_check(name, integ, pack, path.parent)
    issues += _check_faults(file, lines, cfg)
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


def available_packs(dirs: list[Path]) -> list[str]:
    names = {p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(names)


def _find_pack(name: str, dirs: list[Path]) -> Path | None:
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    for d in dirs:
        candidate = d / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    return None


def _unknown_pack(file: str, lines: Any, name: str, pack: str, dirs: list[Path]) -> ConfigIssue:
    path = ("integrations", name, "pack")
    avail = ", ".join(available_packs(dirs)) or "none found"
    return ConfigIssue(file, path, f"unknown pack {pack!r} (available: {avail})", lines.get(path))


def _load_pack(pack_file: Path) -> tuple[Pack | None, list[ConfigIssue]]:
    file = str(pack_file)
    try:
        raw, lines = load_yaml(pack_file)
    except yaml.YAMLError as exc:
        return None, [yaml_error_issue(file, exc)]
    try:
        return Pack.model_validate(raw or {}), []
    except ValidationError as exc:
        return None, issues_from_validation(exc, file, lines)


def _check_overrides(
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


def _check_variables(file: str, lines: Any, name: str, integ: Integration, pack: Pack) -> list[ConfigIssue]:
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
                Fault.parse({"kind": fault.kind, **fault.params})
            except ValueError as exc:
                path = ("sandbox", "faults", provider, i)
                out.append(ConfigIssue(file, path, str(exc), lines.get(path)))
    return out


def _resolve_checks(name: str, integ: Integration, pack: Pack) -> list[ResolvedCheck]:
    out = []
    for check_name, spec in pack.checks.items():
        override = integ.checks.get(check_name)
        if override is not None and not override.enabled:
            continue
        out.append(
            ResolvedCheck(
                integration=name,
                name=check_name,
                category=spec.category,
                kind=ProbeKind.HTTP if spec.http is not None else ProbeKind.STEPS,
                spec=spec,
                interval=_first(
                    override.interval if override else None,
                    spec.interval,
                    integ.interval,
                    pack.defaults.interval,
                ),
                timeout=_first(
                    override.timeout if override else None, spec.timeout, integ.timeout, pack.defaults.timeout
                ),
                latency_under=(override.latency_under if override else None)
                or spec.latency_under
                or pack.defaults.latency_under,
                headers={**pack.defaults.headers, **integ.headers},
            )
        )
    return out


def contract_check_names(contract: Contract) -> list[str]:
    return [
        CONTRACT_CHECK_PREFIX + n for n, op in contract.operations.items() if op.read_only and not op.step
    ]


def contract_uses(contract: Contract, pack: Pack, contract_file: Path) -> list[ConfigIssue]:
    """Every operation names a pack check (and step) that exists: no dead contract entries."""
    out = []
    for op_name, op in contract.operations.items():
        where: tuple[str | int, ...] = ("operations", op_name)
        check = pack.checks.get(op.check)
        if check is None:
            have = ", ".join(sorted(pack.checks))
            msg = f"check {op.check!r} is not in pack {pack.provider!r} (have: {have})"
            out.append(ConfigIssue(str(contract_file), (*where, "check"), msg))
            continue
        steps = [s.name for s in check.steps or []]
        if op.step is None and check.http is None:
            msg = f"check {op.check!r} is a sequence: name its step (one of: {', '.join(steps)})"
            out.append(ConfigIssue(str(contract_file), where, msg))
        elif op.step is not None and op.step not in steps:
            msg = f"check {op.check!r} has no step {op.step!r} (have: {', '.join(steps) or 'none'})"
            out.append(ConfigIssue(str(contract_file), (*where, "step"), msg))
    return out


def _contract_checks(name: str, integ: Integration, pack: Pack, contract: Contract) -> list[ResolvedCheck]:
    """One `contract` check per read-only operation made by a single-request pack check."""
    out = []
    for op_name, op in contract.operations.items():
        source = pack.checks[op.check]
        if not op.read_only or op.step is not None or source.http is None:
            continue
        check_name = CONTRACT_CHECK_PREFIX + op_name
        override = integ.checks.get(check_name)
        if override is not None and not override.enabled:
            continue
        spec = CheckSpec(
            category=Category.CONTRACT,
            description=op.description or f"{op.method.value} {op.path} keeps the contract ({op_name}).",
            auth=source.auth,
            http=source.http,
        )
        out.append(
            ResolvedCheck(
                integration=name,
                name=check_name,
                category=Category.CONTRACT,
                kind=ProbeKind.CONTRACT,
                spec=spec,
                interval=_first(
                    override.interval if override else None,
                    source.interval,
                    integ.interval,
                    pack.defaults.interval,
                ),
                timeout=_first(
                    override.timeout if override else None,
                    source.timeout,
                    integ.timeout,
                    pack.defaults.timeout,
                ),
                latency_under=override.latency_under if override else None,
                headers={**pack.defaults.headers, **integ.headers},
                contract=op,
            )
        )
    return out


def _check_fuzz(
    file: str, lines: Any, name: str, integ: Integration, pack: Pack, config_dir: Path
) -> list[ConfigIssue]:
    """`openapi:` must name a document that exists, for the team's own service; `fuzz:` needs it."""
    at: tuple[str | int, ...] = ("integrations", name)

    def issue(path: tuple[str | int, ...], message: str) -> ConfigIssue:
        return ConfigIssue(file, path, message, lines.get(path) or lines.get(at))

    if integ.openapi is None:
        if integ.fuzz is not None:
            msg = "fuzz is set but openapi is not (the URL or file of the integration's own OpenAPI document)"
            return [issue((*at, "fuzz"), msg)]
        return []
    out = []
    if not integ.openapi.startswith(("http://", "https://")) and not (config_dir / integ.openapi).is_file():
        msg = (
            f"no such OpenAPI document {integ.openapi!r} "
            "(a file path relative to the config file, or an http:// or https:// URL)"
        )
        out.append(issue((*at, "openapi"), msg))
    # Packs that name a published spec are third-party providers': never fuzz their production API.
    if pack.spec is not None and integ.base_url is not None and not _is_loopback(integ.base_url):
        msg = (
            f"fuzzing is for your own integration service: pack {integ.pack!r} is a third-party "
            f"provider's (spec {pack.spec}); fuzz it only against the sandbox (omit base_url)"
        )
        out.append(issue((*at, "openapi"), msg))
    override = integ.checks.get(FUZZ_CHECK)
    budget = (integ.fuzz or FuzzSpec()).budget
    if override is not None and override.timeout is not None and override.timeout <= budget:
        msg = (
            f"timeout {format_duration(override.timeout)} must be longer than the fuzz budget "
            f"{format_duration(budget)} (the run would be cut off before its budget is spent)"
        )
        out.append(issue((*at, "checks", FUZZ_CHECK, "timeout"), msg))
    return out


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _fuzz_check(name: str, integ: Integration, pack: Pack, config_dir: Path) -> list[ResolvedCheck]:
    """The `fuzz` check: schemathesis against the integration's own OpenAPI document."""
    assert integ.openapi is not None
    override = integ.checks.get(FUZZ_CHECK)
    if override is not None and not override.enabled:
        return []
    fuzz = integ.fuzz or FuzzSpec()
    request_timeout = _first(integ.timeout, pack.defaults.timeout)
    openapi = integ.openapi
    if not openapi.startswith(("http://", "https://")):
        openapi = str((config_dir / openapi).resolve())
    spec = CheckSpec(
        category=Category.ERROR,
        description=(
            "Schemathesis fuzzes the integration's own OpenAPI document: no server error, only "
            "documented statuses, responses that conform to the document."
        ),
        # CheckSpec needs a request; the fuzz check's requests come from the document instead.
        http=RequestSpec(path="/"),
    )
    return [
        ResolvedCheck(
            integration=name,
            name=FUZZ_CHECK,
            category=Category.ERROR,
            kind=ProbeKind.FUZZ,
            spec=spec,
            interval=_first(override.interval if override else None, fuzz.interval),
            timeout=_first(
                override.timeout if override else None,
                fuzz.budget + 2 * request_timeout + FUZZ_GRACE,
            ),
            latency_under=override.latency_under if override else None,
            headers={**pack.defaults.headers, **integ.headers},
            fuzz=FuzzTarget(
                openapi=openapi,
                max_examples=fuzz.max_examples,
                budget=fuzz.budget,
                request_timeout=request_timeout,
            ),
        )
    ]


def _first(*values: float | None) -> float:
    for v in values:
        if v:
            return float(v)
    raise AssertionError("pack defaults always provide a value")


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
