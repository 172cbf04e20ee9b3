"""Probe kind `http`: one request, judged against the check's `expect`."""

from __future__ import annotations

from monitor.config.resolved import ResolvedCheck
from monitor.model import Findings
from monitor.probes.context import ProbeContext, auth_for, send
from monitor.probes.expect import evaluate


async def probe_http(check: ResolvedCheck, ctx: ProbeContext) -> Findings:
    spec = check.spec.http
    assert spec is not None  # guaranteed by CheckSpec validation: kind http has `http`
    creds = await auth_for(ctx, check, check.spec.auth)
    if not creds.obtained:
        return Findings(assertions=creds.assertions, http_status=creds.status, ratelimit=creds.ratelimit)
    variables = ctx.variables()
    ex = await send(ctx, check, spec, creds, variables)
    assertions = evaluate(
        check.spec.expect,
        status=ex.status,
        headers=ex.headers,
        body=ex.body,
        body_is_json=ex.is_json,
        variables=variables,
        schemas=ctx.schemas,
        graphql=spec.graphql is not None,
    )
    return Findings(
        assertions=(*creds.assertions, *assertions),
        http_status=ex.status,
        evidence=ctx.evidence(ex),
        ratelimit=ex.ratelimit(),
    )
