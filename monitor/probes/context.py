"""What a probe gets to work with, and the one function that sends a pack request.

Bodies are read up to a cap: a provider that streams gigabytes (or a decompression bomb) costs
us at most `MAX_BODY` bytes, and the excerpt kept as evidence is smaller still.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from monitor import jsoncodec, ratelimit
from monitor.auth import Credentials, TokenCache, credentials
from monitor.config.models import AuthMode, RequestSpec
from monitor.config.resolved import ResolvedCheck, ResolvedIntegration
from monitor.httpclient import Client
from monitor.model import Category, Evidence, RateLimit
from monitor.probes.schemas import SchemaCache
from monitor.scrub import Scrubber
from monitor.template import render

MAX_BODY = 1024 * 1024
EVIDENCE_BODY = 2048
_EVIDENCE_HEADERS = (
    "content-type",
    "retry-after",
    "x-ratelimit-remaining",
    "x-ratelimit-limit",
    "x-ratelimit-reset",
    "x-github-request-id",
    "x-request-id",
    "www-authenticate",
)


@dataclass(frozen=True)
class Exchange:
    """One request and its response, before scrubbing. Only the runner turns it into evidence."""

    method: str
    url: str
    path_template: str
    request_json: Any
    status: int
    headers: Mapping[str, str]
    text: str
    body: Any
    is_json: bool
    truncated: bool

    def ratelimit(self) -> RateLimit | None:
        return ratelimit.parse(self.headers, self.status, body=self.body if self.is_json else None)


@dataclass
class ProbeContext:
    """One run's world: its run id and the time it spent waiting on the provider are its own,
    so each run gets a context of its own (Engine.context); the HTTP client, session, token cache
    and schema cache inside are shared."""

    session: aiohttp.ClientSession  # the OAuth2 token endpoint and fuzzing
    http: Client  # the checks' own requests (send)
    integration: ResolvedIntegration
    run_id: str
    scrubber: Scrubber
    tokens: TokenCache = field(default_factory=TokenCache)
    schemas: SchemaCache = field(default_factory=SchemaCache)
    # Called with every exchange (for recording cassettes and spec-conformance tests).
    observer: Callable[[Exchange], None] | None = None
    # Seconds this run spent waiting for the provider's answers: the runner reports it as the
    # check's duration (see CheckResult.duration_s).
    waited_s: float = 0.0

    def variables(self) -> dict[str, Any]:
        return {**self.integration.vars, "run_id": self.run_id}

    def evidence(self, ex: Exchange) -> Evidence:
        headers = {k.lower(): v for k, v in ex.headers.items() if k.lower() in _EVIDENCE_HEADERS}
        return Evidence(
            request=f"{ex.method} {self.scrubber.url(ex.url)}",
            status=ex.status,
            headers=self.scrubber.headers(headers),
            body_excerpt=self.scrubber.text(ex.text[:EVIDENCE_BODY]),
        )


async def auth_for(ctx: ProbeContext, check: ResolvedCheck, mode: AuthMode) -> Credentials:
    integ = ctx.integration
    creds = await credentials(
        integ.auth,
        mode,
        session=ctx.session,
        base_url=integ.base_url or "",
        cache=ctx.tokens,
        cache_key=integ.name,
        # An auth check must exercise the token endpoint itself, not reuse a cached token.
        force_refresh=check.category is Category.AUTH,
    )
    ctx.waited_s += creds.waited_s
    return creds


async def send(
    ctx: ProbeContext,
    check: ResolvedCheck,
    spec: RequestSpec,
    creds: Credentials,
    variables: Mapping[str, Any],
) -> Exchange:
    """Render and send one request. Network failures raise; the runner records them as `error`."""
    base = ctx.integration.base_url
    if not base:
        raise ValueError(f"integration {ctx.integration.name!r} has no base_url")
    path = str(render(spec.path, variables))
    headers = {**check.headers, **render(spec.headers, variables), **creds.headers}
    query = {**{k: _query_value(v) for k, v in render(spec.query, variables).items()}, **creds.query}
    payload: Any = None
    body: bytes | None = None
    content_type: str | None = None
    if spec.graphql is not None:
        payload = {"query": spec.graphql.query, "variables": render(spec.graphql.variables, variables)}
        if spec.graphql.operation_name:
            payload["operationName"] = spec.graphql.operation_name
        body, content_type = jsoncodec.dumps(payload).encode(), "application/json"
    elif spec.json_body is not None:
        payload = render(spec.json_body, variables)
        body, content_type = jsoncodec.dumps(payload).encode(), "application/json"
    elif spec.form is not None:
        body = urlencode(render(spec.form, variables), doseq=True).encode()
        content_type = "application/x-www-form-urlencoded"
    elif spec.json_null:
        body, content_type = b"null", "application/json"
    if content_type is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = content_type
    url = URL(base + path)
    if query:
        url = url.extend_query(query)
    resp = await ctx.http.request(spec.method.value, url, headers=headers, body=body, cap=MAX_BODY)
    ctx.waited_s += resp.elapsed_s
    raw, truncated = resp.body, resp.truncated
    text = raw[:MAX_BODY].decode("utf-8", errors="replace")
    parsed: Any = text
    is_json = False
    if text and not truncated:
        with contextlib.suppress(ValueError):
            parsed, is_json = jsoncodec.loads(text), True
    ex = Exchange(
        spec.method.value,
        resp.url,
        spec.path,
        payload,
        resp.status,
        resp.headers,
        text,
        parsed,
        is_json,
        truncated,
    )
    if ctx.observer is not None:
        ctx.observer(ex)
    return ex


def _query_value(value: Any) -> str:
    """YAML `true` is sent as `true`, as every HTTP API spells it, not Python's `True`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
