"""Probe kind `contract`: call one read-only contract operation on the live provider and judge the
answer against the contract. Drift (a removed or retyped field, a new status, a changed content
type, Slack's `ok: false`) is a failed assertion naming its JSON pointer. Being unable to test the
contract raises, so the runner records `error`, never drift: the provider cannot be reached
("down"), or it refused our credential (HTTP 401/403 where the contract expects a 2xx, or the
OAuth2 token endpoint refused the refresh with a 400/401/403): an expired token is not a changed
API. A refusal for quota is returned as it is, for the runner to record `skipped`.
"""

from __future__ import annotations

from monitor.config.resolved import ResolvedCheck
from monitor.contracts.drift import DriftKind, compare
from monitor.model import Assertion, Findings, ProbeError
from monitor.probes.context import ProbeContext, auth_for, send

# Assertion names the runner and readers rely on: `status` (a 429 is skipped, not failed) and
# `body` (not JSON at all), then one `drift <pointer>` per departure from the contract.
_NAMES = {DriftKind.STATUS: "status", DriftKind.CONTENT_TYPE: "content type", DriftKind.NOT_JSON: "body"}
# What a provider answers when it will not accept the credential (Figma's bad token is a 403).
REFUSED = frozenset({401, 403})
# How an OAuth2 token endpoint refuses a refresh token or client (RFC 6749 §5.2: invalid_grant is a
# 400, invalid_client a 400 or 401).
TOKEN_REFUSED = frozenset({400, 401, 403})
UNTESTED = "the contract could not be tested"


async def probe_contract(check: ResolvedCheck, ctx: ProbeContext) -> Findings:
    op, spec = check.contract, check.spec.http
    assert op is not None and spec is not None  # the config loader builds contract checks so
    creds = await auth_for(ctx, check, check.spec.auth)
    if not creds.obtained:
        if creds.status in TOKEN_REFUSED:
            failed = next(a for a in creds.assertions if not a.passed)
            raise ProbeError(f"{UNTESTED}: no credential ({failed.describe()})")
        # A 429 ("not now") is skipped by the runner; a failing token endpoint fails, as any check.
        return Findings(assertions=creds.assertions, http_status=creds.status, ratelimit=creds.ratelimit)
    ex = await send(ctx, check, spec, creds, ctx.variables())
    ratelimit = ex.ratelimit()
    refused_quota = ratelimit is not None and ratelimit.refused
    if ex.status in REFUSED and 200 <= op.status < 300 and not refused_quota:
        raise ProbeError(f"{UNTESTED}: the provider refused the credential (HTTP {ex.status})")
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
        ratelimit=ratelimit,
    )
