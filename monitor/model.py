"""Core types. `CheckResult` is the one record that flows from runner to store, metrics and reports.

Everything here is immutable: a result, once judged, is evidence and must not change on its way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Category(enum.StrEnum):
    """What a check proves about an integration; readiness is judged per category."""

    AUTH = "auth"
    RETRIEVAL = "retrieval"
    CRUD = "crud"
    ERROR = "error"
    LATENCY = "latency"
    CONTRACT = "contract"
    SECURITY = "security"


class Outcome(enum.StrEnum):
    """`fail` means the provider broke a rule; `error` means we could not judge (schemathesis' split)."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


class Verdict(enum.StrEnum):
    """Readiness of an integration. `unknown` is never ready: absence of evidence is not evidence."""

    READY = "ready"
    DEGRADED = "degraded"
    NOT_READY = "not_ready"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Assertion:
    """One expectation and what was seen; probes report all of them, not just the first failure."""

    name: str
    expected: str
    actual: str
    passed: bool
    step: str | None = None

    def describe(self) -> str:
        where = f"{self.step}: " if self.step else ""
        return f"{where}{self.name}: expected {self.expected}, got {self.actual}"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What the provider said about our quota; any field may be unknown."""

    remaining: int | None = None
    limit: int | None = None
    reset_at: float | None = None  # epoch seconds
    retry_after_s: float | None = None
    # The provider refused this very request for quota (a 429, GitHub's 403 with no remaining,
    # Google's rateLimitExceeded, Salesforce's REQUEST_LIMIT_EXCEEDED): nothing was judged.
    refused: bool = False

    def is_empty(self) -> bool:
        return (
            self.remaining is None and self.limit is None and self.retry_after_s is None and not self.refused
        )


@dataclass(frozen=True, slots=True)
class Evidence:
    """A scrubbed excerpt of the last exchange, enough for a human to see why a check failed."""

    request: str  # "GET https://host/path?x=[REDACTED]"
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body_excerpt: str = ""


class ProbeError(Exception):
    """A probe could not judge (a document it needs is unreachable or unusable). The runner records
    `error` with this message as the reason; `retryable` marks connection-level failures."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class Findings:
    """What a probe returns: its assertions and observations. It never contains an outcome."""

    assertions: tuple[Assertion, ...] = ()
    http_status: int | None = None
    evidence: Evidence | None = None
    ratelimit: RateLimit | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One run of one check. Written to the store before it is reported anywhere."""

    run_id: str
    integration: str
    check: str
    category: Category
    outcome: Outcome
    started_at: datetime
    # The provider's time: from sending each request to parsing its answer's last byte, summed over the
    # check's requests (token endpoint included). Our own work (templates, assertions, schema
    # validation) is not in it, so a big body never reads as a slow provider. A run that ended
    # without an answer (timeout, refused) has the time it took to give up; a fuzz run, whose
    # requests schemathesis sends, has the time the run took.
    duration_s: float
    reason: str
    http_status: int | None = None
    assertions: tuple[Assertion, ...] = ()
    evidence: Evidence | None = None
    ratelimit: RateLimit | None = None
    attempts: int = 1
    flaky: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by `run --format json`, the store and the HTTP API."""
        return {
            "run_id": self.run_id,
            "integration": self.integration,
            "check": self.check,
            "category": self.category.value,
            "outcome": self.outcome.value,
            "started_at": self.started_at.isoformat(),
            "duration_s": round(self.duration_s, 6),
            "reason": self.reason,
            "http_status": self.http_status,
            **self.detail(),
            "attempts": self.attempts,
            "flaky": self.flaky,
        }

    def detail(self) -> dict[str, Any]:
        """What the store keeps whole in one JSON column: assertions, evidence, rate limit."""
        return {
            "assertions": [_assertion_dict(a) for a in self.assertions],
            "evidence": _evidence_dict(self.evidence),
            "ratelimit": _ratelimit_dict(self.ratelimit),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        ev = data.get("evidence")
        rl = data.get("ratelimit")
        return cls(
            run_id=data["run_id"],
            integration=data["integration"],
            check=data["check"],
            category=Category(data["category"]),
            outcome=Outcome(data["outcome"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            duration_s=float(data["duration_s"]),
            reason=data["reason"],
            http_status=data.get("http_status"),
            assertions=tuple(Assertion(**a) for a in data.get("assertions") or ()),
            evidence=Evidence(**ev) if ev else None,
            ratelimit=RateLimit(**rl) if rl else None,
            attempts=int(data.get("attempts", 1)),
            flaky=bool(data.get("flaky", False)),
        )


def _assertion_dict(a: Assertion) -> dict[str, Any]:
    return {
        "name": a.name,
        "expected": a.expected,
        "actual": a.actual,
        "passed": a.passed,
        "step": a.step,
    }


def _evidence_dict(e: Evidence | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {
        "request": e.request,
        "status": e.status,
        "headers": dict(e.headers),
        "body_excerpt": e.body_excerpt,
    }


def _ratelimit_dict(r: RateLimit | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "remaining": r.remaining,
        "limit": r.limit,
        "reset_at": r.reset_at,
        "retry_after_s": r.retry_after_s,
        "refused": r.refused,
    }
