"""Rate-limit budgets: when the monitor must not call a provider, and what it remembers."""

from __future__ import annotations

import dataclasses

from monitor.budget import Budgets
from monitor.config.models import RateLimitPolicy
from monitor.model import RateLimit
from tests.conftest import make_check, make_integration

CHECK = make_check("category: retrieval\nhttp: {path: /x}\n")


def test_hourly_budget_refuses_once_spent() -> None:
    """With an hourly budget of 3 requests the fourth call is refused, naming the budget."""
    integ = dataclasses.replace(make_integration("http://x"), ratelimit=RateLimitPolicy(hourly_budget=3))
    budgets = Budgets()
    for _ in range(3):
        assert budgets.refusal(CHECK, integ) is None
        budgets.spend(CHECK, integ)
    refusal = budgets.refusal(CHECK, integ)
    assert refusal is not None and "hourly request budget of 3 spent" in refusal


def test_without_a_budget_no_call_times_are_kept() -> None:
    """Without an hourly budget, spending remembers nothing: the state does not grow per call."""
    integ = make_integration("http://x")
    budgets = Budgets()
    for _ in range(1000):
        budgets.spend(CHECK, integ)
    assert all(not b.calls for b in budgets._state.values())
    assert budgets.refusal(CHECK, integ) is None


def test_retry_after_and_floor_block_calls() -> None:
    """A Retry-After, or a remaining quota under the floor, stops calls with the reason given."""
    integ = dataclasses.replace(make_integration("http://x"), ratelimit=RateLimitPolicy(floor=10))
    budgets = Budgets()
    budgets.observe(integ, RateLimit(retry_after_s=30))
    refusal = budgets.refusal(CHECK, integ)
    assert refusal is not None and "Retry-After" in refusal
    other = dataclasses.replace(integ, name="other")
    budgets.observe(other, RateLimit(remaining=5, limit=100))
    refusal = budgets.refusal(CHECK, other)
    assert refusal is not None and "under the floor of 10" in refusal
