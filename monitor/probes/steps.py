"""Probe kind `steps`: a sequence such as a CRUD lifecycle (create, read, update, delete).

Values captured from one step feed the next. Once a step fails, later ordinary steps are
skipped, but `cleanup: true` steps still run (even after a timeout or a network error), so a
failed check never leaves litter in a real workspace.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from monitor import httpclient
from monitor.config.models import Step
from monitor.config.resolved import ResolvedCheck
from monitor.model import Assertion, Evidence, Findings, RateLimit
from monitor.probes.context import ProbeContext, auth_for, send
from monitor.probes.expect import evaluate
from monitor.template import MISSING, TemplateError, lookup, placeholders

# Cleanup gets its own budget: the check's own timeout may already be spent.
CLEANUP_TIMEOUT_S = 5.0


async def probe_steps(check: ResolvedCheck, ctx: ProbeContext) -> Findings:
    steps = check.spec.steps or []
    variables: dict[str, Any] = ctx.variables()
    state = _State()
    try:
        for step in steps:
            if step.cleanup:
                continue
            if not await _run_step(check, ctx, step, variables, state):
                break
    finally:
        cleanups = [s for s in steps if s.cleanup]
        if cleanups:
            await asyncio.shield(_cleanup(check, ctx, cleanups, variables, state))
    return Findings(
        assertions=tuple(state.assertions),
        http_status=state.status,
        evidence=state.evidence,
        ratelimit=state.ratelimit,
    )


class _State:
    def __init__(self) -> None:
        self.assertions: list[Assertion] = []
        self.status: int | None = None
        self.evidence: Evidence | None = None
        self.failed_evidence: bool = False
        self.ratelimit: RateLimit | None = None


async def _run_step(
    check: ResolvedCheck, ctx: ProbeContext, step: Step, variables: dict[str, Any], state: _State
) -> bool:
    creds = await auth_for(ctx, check, step.auth)
    state.assertions += creds.assertions
    if not creds.obtained:
        state.status = state.status or creds.status
        state.ratelimit = creds.ratelimit or state.ratelimit
        return False
    ex = await send(ctx, check, step.request, creds, variables)
    found = evaluate(
        step.expect,
        status=ex.status,
        headers=ex.headers,
        body=ex.body,
        body_is_json=ex.is_json,
        variables=variables,
        schemas=ctx.schemas,
        graphql=step.request.graphql is not None,
        step=step.name,
    )
    for name, path in step.capture.items():
        value = lookup(ex.body, path) if ex.is_json else MISSING
        found.append(
            Assertion(
                f"capture {name}",
                f"a value at {path}",
                "missing" if value is MISSING else "captured",
                value is not MISSING,
                step.name,
            )
        )
        if value is not MISSING:
            variables[name] = value
    ok = all(a.passed for a in found)
    state.assertions += found
    state.ratelimit = ex.ratelimit() or state.ratelimit
    # Evidence is the first failing exchange; while all pass, the latest one.
    if not state.failed_evidence:
        state.evidence, state.status = ctx.evidence(ex), ex.status
        state.failed_evidence = not ok
    return ok


async def _cleanup(
    check: ResolvedCheck, ctx: ProbeContext, steps: list[Step], variables: dict[str, Any], state: _State
) -> None:
    for step in steps:
        missing = placeholders(step.request.model_dump(by_alias=True)) - variables.keys()
        if missing:
            # Nothing was created for this step to remove (its create step failed).
            continue
        try:
            async with asyncio.timeout(CLEANUP_TIMEOUT_S):
                await _run_step(check, ctx, step, variables, state)
        except (TimeoutError, OSError, aiohttp.ClientError, httpclient.ClientError, TemplateError) as exc:
            state.assertions.append(
                Assertion(
                    "cleanup",
                    "the cleanup request completes",
                    f"{type(exc).__name__}: {exc}",
                    False,
                    step.name,
                )
            )
