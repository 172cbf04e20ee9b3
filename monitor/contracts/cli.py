"""The contract commands behind `atom-monitor verify` and `atom-monitor record` (cli.py parses)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from monitor.config import Config, bundled_dir
from monitor.model import CheckResult, Outcome

SPECS_ENV = "ATOM_MONITOR_SPECS"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def default_specs_dir() -> Path:
    """$ATOM_MONITOR_SPECS, else ../shared/provider-specs beside the checkout (or the cwd)."""
    if os.environ.get(SPECS_ENV):
        return Path(os.environ[SPECS_ENV])
    for base in (Path.cwd(), bundled_dir("contracts").parent):
        candidate = base.parent / "shared" / "provider-specs"
        if candidate.is_dir():
            return candidate
    return Path.cwd().parent / "shared" / "provider-specs"


def _contracts_dirs(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit)]
    local = Path("contracts")
    return [local] if local.is_dir() else [bundled_dir("contracts")]


def verify_offline(contracts: str | None, specs: str | None) -> int:
    """Exit 1 with one line per violation (pointer, expected, found); 0 when all hold. No network."""
    from monitor.contracts.verify_offline import verify_all

    dirs = _contracts_dirs(contracts)
    packs = (
        [bundled_dir("checks")] if not Path("checks").is_dir() else [Path("checks"), bundled_dir("checks")]
    )
    report = verify_all(dirs, Path(specs) if specs else default_specs_dir(), packs)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for v in report.violations:
        print(v)
    verdict = f"{len(report.violations)} violations" if report.violations else "ok"
    print(f"verify --offline: {report.checked} contracts: {verdict}", file=sys.stderr)
    return EXIT_FAILED if report.violations else EXIT_OK


def drift_lines(results: list[CheckResult]) -> list[str]:
    """One line per drift: integration, operation, pointer, contract versus live."""
    out = []
    for r in results:
        operation = r.check.removeprefix("contract_")
        if r.outcome is Outcome.FAIL:
            for a in r.assertions:
                if not a.passed:
                    out.append(
                        f"{r.integration} {operation}: {a.name}: expected {a.expected}, live {a.actual}"
                    )
        elif r.outcome is not Outcome.PASS:
            out.append(f"{r.integration} {operation}: {r.outcome.value}: {r.reason}")
    return out


def verify_live(config: Config) -> int:
    """Run the contract checks against the live providers once; exit 1 on drift or error."""
    from monitor.config import ProbeKind
    from monitor.engine import start_engine

    async def run() -> list[CheckResult]:
        async with start_engine(config) as engine:
            checks = [c for c in engine.config.checks if c.kind is ProbeKind.CONTRACT]
            return await engine.run_once(checks)

    results = sorted(asyncio.run(run()), key=lambda r: (r.integration, r.check))
    lines = drift_lines(results)
    for line in lines:
        print(line)
    ok = sum(r.outcome is Outcome.PASS for r in results)
    print(f"verify --live: {len(results)} operations: {ok} conform", file=sys.stderr)
    return EXIT_FAILED if lines else EXIT_OK


def record(config: Config, integration: str, include_writes: bool, out: str | None) -> int:
    from monitor.contracts.record import RecordError, SecretInCassette
    from monitor.contracts.record import record as do_record

    out_dir = Path(out) if out else Path("contracts")
    try:
        paths, results = asyncio.run(
            do_record(config, integration, include_writes=include_writes, out_dir=out_dir)
        )
    except RecordError as exc:
        print(f"atom-monitor: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SecretInCassette as exc:
        print(f"atom-monitor: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for r in results:
        if r.outcome is not Outcome.PASS:
            print(f"warning: {r.integration}/{r.check} {r.outcome.value}: {r.reason}", file=sys.stderr)
    for p in paths:
        print(p)
    return EXIT_OK
