"""Probe kind `contract`: call one read-only contract operation on the live provider and judge the
answer against the contract. Drift (a removed or retyped field, a new status, a changed content
type, Slack's `ok: false`) is a failed assertion naming its JSON pointer; being unable to reach the
provider raises, so the runner records `error` ("down"), never drift.
"""

from __future__ import annotations

from monitor.config.loader import ResolvedCheck
from monitor.contracts.drift import DriftKind, compare
from monitor.model import Assertion, Findings
from monitor.probes.context import ProbeContext, auth_for, send

# Assertion names the runner and readers rely on: `status` (a 429 is skipped, not failed) and
# `body` (not JSON at all), then one `drift <pointer>` per departure from the contract.
_NAMES = {DriftKind.STATUS: "status", DriftKind.CONTENT_TYPE: "content type", DriftKind.NOT_JSON: "body"}


async def probe_contract(check: ResolvedCheck, ctx: ProbeContext) -> Findings:
    op, spec = check.contract, check.spec.http
    assert op is not None and spec is not None  # the config loader builds contract checks so
    creds = await auth_for(ctx, check, check.spec.auth)
    if not creds.obtained:
        return Findings(assertions=creds.assertions)
    ex = await send(ctx, check, spec, creds, ctx.variables())
    content_type = next((v for k, v in ex.headers.items() if k.lower() == "content-type"), None)
    drifts = compare(op, status=ex.status, content_type=content_type, body=ex.body, body_is_json=ex.is_json)
    assertions = [
        Assertion(
            _NAMES.get(d.kind) or f"drift {d.pointer}",
            d.expected.removeprefix("status "),
            d.found.removeprefix("status "),
            False,
        )
        for d in drifts
    ]
    if not drifts:
        assertions.append(
            Assertion("contract", f"{op.method.value} {op.path} as contracted", "conforms", True)
        )
    return Findings(
        assertions=(*creds.assertions, *assertions),
        http_status=ex.status,
        evidence=ctx.evidence(ex),
        ratelimit=ex.ratelimit(),
    )
