"""Putting credentials on requests, including the OAuth2 refresh-token grant.

`auth: invalid` in a pack sends a credential of the configured kind with a wrong value, so the
check proves the provider rejects bad credentials the way it documents, not merely that it
rejects a missing header.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass, field

import aiohttp

from monitor.config.models import (
    Auth,
    AuthMode,
    BasicAuth,
    BearerAuth,
    HeaderAuth,
    NoAuth,
    OAuth2RefreshAuth,
    QueryAuth,
)
from monitor.model import Assertion, RateLimit
from monitor.ratelimit import parse as parse_ratelimit

INVALID_CREDENTIAL = "atom-monitor-deliberately-invalid-credential"


@dataclass
class TokenCache:
    """Fresh OAuth2 access tokens per integration; hangs off the app, never module state."""

    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    # Providers that rotate refresh tokens (Xero) invalidate the configured one after use: keep
    # the newest in memory. (Lost on restart: the configured token must then still be valid.)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    # One refresh at a time per integration: checks starting together would otherwise each spend
    # a refresh, and with a rotating provider all but the first would present a retired token.
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def lock(self, key: str) -> asyncio.Lock:
        return self.locks.setdefault(key, asyncio.Lock())

    def get(self, key: str) -> str | None:
        token, expires = self.tokens.get(key, ("", 0.0))
        return token if token and expires > time.monotonic() + 30 else None

    def put(self, key: str, token: str, ttl_s: float) -> None:
        self.tokens[key] = (token, time.monotonic() + ttl_s)


@dataclass(frozen=True)
class Credentials:
    headers: dict[str, str]
    query: dict[str, str]
    # Assertions about obtaining the credential itself (the OAuth2 token endpoint).
    assertions: tuple[Assertion, ...] = ()
    # The token endpoint's answer when it refused (429 with Retry-After: the check is skipped).
    status: int | None = None
    ratelimit: RateLimit | None = None
    # Seconds spent waiting for the token endpoint's answer (part of the check's duration).
    waited_s: float = 0.0

    @property
    def obtained(self) -> bool:
        return all(a.passed for a in self.assertions)


async def credentials(
    auth: Auth,
    mode: AuthMode,
    *,
    session: aiohttp.ClientSession,
    base_url: str,
    cache: TokenCache,
    cache_key: str,
    force_refresh: bool = False,
) -> Credentials:
    if mode is AuthMode.NONE or isinstance(auth, NoAuth):
        return Credentials({}, {})
    bad = mode is AuthMode.INVALID
    if isinstance(auth, BearerAuth):
        token = INVALID_CREDENTIAL if bad else auth.token.get_secret_value()
        return Credentials({"Authorization": f"{auth.scheme} {token}".strip()}, {})
    if isinstance(auth, BasicAuth):
        password = INVALID_CREDENTIAL if bad else auth.password.get_secret_value()
        pair = base64.b64encode(f"{auth.username}:{password}".encode()).decode()
        return Credentials({"Authorization": f"Basic {pair}"}, {})
    if isinstance(auth, HeaderAuth):
        return Credentials({auth.name: INVALID_CREDENTIAL if bad else auth.value.get_secret_value()}, {})
    if isinstance(auth, QueryAuth):
        return Credentials(
            {}, {k: INVALID_CREDENTIAL if bad else v.get_secret_value() for k, v in auth.params.items()}
        )
    if isinstance(auth, OAuth2RefreshAuth):
        if bad:
            return Credentials({"Authorization": f"Bearer {INVALID_CREDENTIAL}"}, {})
        return await _oauth2(auth, session, base_url, cache, cache_key, force_refresh)
    raise AssertionError(f"unhandled auth kind {auth!r}")


async def _oauth2(
    auth: OAuth2RefreshAuth,
    session: aiohttp.ClientSession,
    base_url: str,
    cache: TokenCache,
    cache_key: str,
    force: bool,
) -> Credentials:
    token = None if force else cache.get(cache_key)
    if token is not None:
        return Credentials({"Authorization": f"Bearer {token}"}, {})
    async with cache.lock(cache_key):
        token = None if force else cache.get(cache_key)
        if token is not None:  # another check refreshed while this one waited
            return Credentials({"Authorization": f"Bearer {token}"}, {})
        return await _refresh(auth, session, base_url, cache, cache_key)


async def _refresh(
    auth: OAuth2RefreshAuth, session: aiohttp.ClientSession, base_url: str, cache: TokenCache, cache_key: str
) -> Credentials:
    url = auth.token_url if auth.token_url.startswith(("http://", "https://")) else base_url + auth.token_url
    form = {
        "grant_type": "refresh_token",
        "refresh_token": cache.refresh_tokens.get(cache_key) or auth.refresh_token.get_secret_value(),
        "client_id": auth.client_id,
        "client_secret": auth.client_secret.get_secret_value(),
    }
    if auth.scope:
        form["scope"] = auth.scope
    sent = time.perf_counter()
    async with session.post(url, data=form, headers={"Accept": "application/json"}) as resp:
        status = resp.status
        limited = parse_ratelimit(resp.headers, status)
        try:
            body = await resp.json(content_type=None)
        except ValueError:
            body = None
    waited = time.perf_counter() - sent
    access = body.get("access_token") if isinstance(body, dict) else None
    ok = status == 200 and isinstance(access, str) and bool(access)
    seen = f"HTTP {status}"
    if isinstance(body, dict) and "error" in body:
        seen += f" {body['error']}"
    elif status == 200 and body is None:
        seen += " with a body that is not a JSON document"
    elif status == 200 and not ok:
        seen += " without access_token"
    check = Assertion("token endpoint", "HTTP 200 with an access_token", seen, ok, step="oauth2 refresh")
    if not ok or not isinstance(access, str) or not isinstance(body, dict):
        return Credentials({}, {}, (check,), status=status, ratelimit=limited, waited_s=waited)
    rotated = body.get("refresh_token")
    if isinstance(rotated, str) and rotated:
        cache.refresh_tokens[cache_key] = rotated
    ttl = float(body.get("expires_in") or 3600)
    cache.put(cache_key, access, ttl)
    return Credentials({"Authorization": f"Bearer {access}"}, {}, (check,), waited_s=waited)


def sandbox_credential(auth: Auth) -> list[str]:
    """The strings a simulated provider must accept for this configured credential."""
    if isinstance(auth, BearerAuth):
        return [auth.token.get_secret_value()]
    if isinstance(auth, BasicAuth):
        return [f"{auth.username}:{auth.password.get_secret_value()}"]
    if isinstance(auth, HeaderAuth):
        return [auth.value.get_secret_value()]
    if isinstance(auth, QueryAuth):
        return [":".join(auth.params[k].get_secret_value() for k in sorted(auth.params))]
    return []


def sandbox_refresh_token(auth: Auth) -> str | None:
    return auth.refresh_token.get_secret_value() if isinstance(auth, OAuth2RefreshAuth) else None
