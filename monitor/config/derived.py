"""Checks derived from other files than the pack: one per contract operation (contracts/), and the
`fuzz` check of an integration that names its own OpenAPI document."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from monitor.config.durations import format_duration
from monitor.config.errors import ConfigIssue
from monitor.config.models import (
    CheckSpec,
    FuzzSpec,
    Integration,
    Pack,
    RequestSpec,
)
from monitor.model import Category

if TYPE_CHECKING:
    from monitor.contracts.model import Contract
from monitor.config.resolved import (
    CONTRACT_CHECK_PREFIX,
    FUZZ_CHECK,
    FUZZ_GRACE,
    FuzzTarget,
    ProbeKind,
    ResolvedCheck,
    first,
    interval_and_timeout,
)


def contract_checks(name: str, integ: Integration, pack: Pack, contract: Contract) -> list[ResolvedCheck]:
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
        interval, timeout = interval_and_timeout(override, source, integ, pack)
        out.append(
            ResolvedCheck(
                integration=name,
                name=check_name,
                category=Category.CONTRACT,
                kind=ProbeKind.CONTRACT,
                spec=spec,
                interval=interval,
                timeout=timeout,
                latency_under=override.latency_under if override else None,
                headers={**pack.defaults.headers, **integ.headers},
                contract=op,
            )
        )
    return out


def check_fuzz(
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


def fuzz_check(name: str, integ: Integration, pack: Pack, config_dir: Path) -> list[ResolvedCheck]:
    """The `fuzz` check: schemathesis against the integration's own OpenAPI document."""
    assert integ.openapi is not None
    override = integ.checks.get(FUZZ_CHECK)
    if override is not None and not override.enabled:
        return []
    fuzz = integ.fuzz or FuzzSpec()
    request_timeout = first(integ.timeout, pack.defaults.timeout)
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
            interval=first(override.interval if override else None, fuzz.interval),
            timeout=first(
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
