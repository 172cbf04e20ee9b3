"""Rate-limit budgets: atom-monitor shares each provider's quota with the production
integration, so it backs off first. A check that may not call is `skipped`, with the reason.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from monitor.config import ResolvedCheck, ResolvedIntegration
from monitor.config.durations import format_duration
from monitor.model import RateLimit


@dataclass
class _IntegrationBudget:
    blocked_until: float = 0.0  # wall clock (time.time), from Retry-After or a quota reset
    blocked_why: str = ""
    calls: deque[float] = field(default_factory=deque)  # monotonic times of our requests


@dataclass
class Budgets:
    """Per-integration quota state. Hangs off the scheduler; never module state."""

    _state: dict[str, _IntegrationBudget] = field(default_factory=dict)

    def refusal(self, check: ResolvedCheck, integ: ResolvedIntegration) -> str | None:
        """Why this check must not call the provider now, or None when it may."""
        b = self._state.setdefault(integ.name, _IntegrationBudget())
        now = time.time()
        if b.blocked_until > now:
            return f"{b.blocked_why}; calls resume in {format_duration(round(b.blocked_until - now))}"
        cap = integ.ratelimit.hourly_budget
        if cap is not None:
            mono = time.monotonic()
            while b.calls and b.calls[0] < mono - 3600:
                b.calls.popleft()
            if len(b.calls) + requests_of(check) > cap:
                return f"hourly request budget of {cap} spent ({len(b.calls)} requests in the last hour)"
        return None

    def spend(self, check: ResolvedCheck, integ: ResolvedIntegration) -> None:
        # Only an hourly budget needs the call times; without one they would pile up forever
        # (3.6 million floats an hour at 1,000 checks/s).
        if integ.ratelimit.hourly_budget is None:
            return
        b = self._state.setdefault(integ.name, _IntegrationBudget())
        now = time.monotonic()
        b.calls.extend([now] * requests_of(check))

    def observe(self, integ: ResolvedIntegration, rl: RateLimit | None) -> None:
        """Learn from what the provider said: Retry-After, or a quota under the floor."""
        if rl is None:
            return
        b = self._state.setdefault(integ.name, _IntegrationBudget())
        now = time.time()
        if rl.retry_after_s:
            b.blocked_until = max(b.blocked_until, now + rl.retry_after_s)
            b.blocked_why = (
                f"provider asked us to wait (Retry-After {format_duration(round(rl.retry_after_s))})"
            )
        floor = integ.ratelimit.floor
        if floor and rl.remaining is not None and rl.remaining < floor:
            until = rl.reset_at if rl.reset_at and rl.reset_at > now else now + 60
            b.blocked_until = max(b.blocked_until, until)
            b.blocked_why = f"provider quota at {rl.remaining} remaining, under the floor of {floor}"


def requests_of(check: ResolvedCheck) -> int:
    return len(check.spec.steps) if check.spec.steps is not None else 1
