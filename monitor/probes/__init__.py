"""Probes: one async function per kind, all with the signature of blackbox_exporter's probers.

    async def probe_<kind>(check: ResolvedCheck, ctx: ProbeContext) -> Findings

A probe reports assertions and observations. It never decides the outcome or its duration,
touches metrics or reads the store: the runner does. The time spent waiting on the provider is
counted in the ProbeContext by `send` and the token endpoint (the fuzz probe counts its whole
run, whose requests schemathesis sends), and the runner reports it. Being unable to test is an
exception.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType

from monitor.config.resolved import ProbeKind, ResolvedCheck
from monitor.model import Findings
from monitor.probes.context import ProbeContext
from monitor.probes.contract import probe_contract
from monitor.probes.fuzz import probe_fuzz
from monitor.probes.http import probe_http
from monitor.probes.steps import probe_steps

Probe = Callable[[ResolvedCheck, ProbeContext], Awaitable[Findings]]

PROBES: Mapping[ProbeKind, Probe] = MappingProxyType(
    {
        ProbeKind.HTTP: probe_http,
        ProbeKind.STEPS: probe_steps,
        ProbeKind.CONTRACT: probe_contract,
        ProbeKind.FUZZ: probe_fuzz,
    }
)

__all__ = ["PROBES", "Probe", "ProbeContext"]
