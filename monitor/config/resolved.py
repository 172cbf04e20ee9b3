"""What loading produces: the resolved config, its integrations and checks, and the probe kinds."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.config.models import (
    Auth,
    CheckOverride,
    CheckSpec,
    Claims,
    ConfigFile,
    Integration,
    Pack,
    RateLimitPolicy,
)
from monitor.model import Category

if TYPE_CHECKING:
    from monitor.contracts.model import Contract, ContractOperation


# Checks synthesised from a contract's read-only operations are named `contract_<operation>`.
CONTRACT_CHECK_PREFIX = "contract_"


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


def contract_check_names(contract: Contract) -> list[str]:
    return [
        CONTRACT_CHECK_PREFIX + n for n, op in contract.operations.items() if op.read_only and not op.step
    ]


def first(*values: float | None) -> float:
    for v in values:
        if v:
            return float(v)
    raise AssertionError("pack defaults always provide a value")


def interval_and_timeout(
    override: CheckOverride | None, source: CheckSpec, integ: Integration, pack: Pack
) -> tuple[float, float]:
    """The one precedence for a check's timing: the integration's override of this check, the
    pack's check, the integration, the pack's defaults."""
    mine = override or CheckOverride()
    return (
        first(mine.interval, source.interval, integ.interval, pack.defaults.interval),
        first(mine.timeout, source.timeout, integ.timeout, pack.defaults.timeout),
    )
