"""Per-provider in-memory state of the sandbox: accepted credentials, faults, objects, quota."""

from __future__ import annotations

import base64
import itertools
import random
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from monitor.sandbox.faults import Fault, FaultKind


def default_credential(provider: str) -> str:
    """The credential a standalone sandbox accepts: `sandbox-<provider>-token`."""
    return f"sandbox-{provider}-token"


@dataclass
class ProviderState:
    """Everything one simulated provider remembers. One instance per provider app."""

    name: str
    credentials: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    faults: list[Fault] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    quota_limit: int = 5000
    quota_used: int = 0
    quota_window_s: int = 3600
    _quota_reset: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def __post_init__(self) -> None:
        self.credentials.add(default_credential(self.name))
        self.refresh_tokens.add(f"sandbox-{self.name}-refresh")

    def next_id(self) -> int:
        return next(self._ids)

    def token_expired(self) -> bool:
        return any(f.kind is FaultKind.EXPIRED_TOKEN for f in self.faults)

    def authorized(
        self, request: web.Request, headers: Iterable[str] = (), query: Iterable[str] = ()
    ) -> bool:
        """True when any credential the request carries is accepted and no expiry fault is set.

        Accepts the common ways providers take a credential (Bearer, bare Authorization, Basic
        `user:secret`, a named header, query parameters joined by ':'), so a user may configure
        whichever auth kind their real provider supports.
        """
        if self.token_expired():
            return False
        return any(c in self.credentials for c in credentials_in(request, headers, query))

    def issue_access_token(self) -> str:
        token = f"sandbox-{self.name}-access-{secrets.token_hex(8)}"
        self.credentials.add(token)
        return token

    def count_request(self) -> tuple[int, int, int]:
        """(limit, remaining, reset epoch) after counting this request against the quota."""
        now = int(time.time())
        reset = now - now % self.quota_window_s + self.quota_window_s
        if self._quota_reset and reset != self._quota_reset:  # a new window: the quota is full again
            self.quota_used = 0
        self._quota_reset = reset
        self.quota_used += 1
        return self.quota_limit, max(0, self.quota_limit - self.quota_used), reset


STATE_KEY = web.AppKey("sandbox_state", ProviderState)


def credentials_in(request: web.Request, headers: Iterable[str] = (), query: Iterable[str] = ()) -> list[str]:
    out: list[str] = []
    auth = request.headers.get("Authorization", "")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "basic":
            try:
                pair = base64.b64decode(value).decode("utf-8")
                out += [pair, pair.partition(":")[2]]
            except ValueError:
                pass
        elif value:
            out.append(value.strip())
        else:
            out.append(auth.strip())
    for name in headers:
        if name in request.headers:
            out.append(request.headers[name])
    q = [request.query[name] for name in sorted(query) if name in request.query]
    if q:
        out.append(":".join(q))
    return out
