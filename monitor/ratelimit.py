"""What providers say about our quota, from the many header dialects they use."""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from monitor.model import RateLimit

# (remaining, limit, reset) header names, most common first. Reset is epoch seconds unless noted.
_DIALECTS = [
    ("x-ratelimit-remaining", "x-ratelimit-limit", "x-ratelimit-reset"),  # GitHub, Jira
    ("x-ratelimit-requests-remaining", "x-ratelimit-requests-limit", "x-ratelimit-requests-reset"),  # Linear
    ("x-hubspot-ratelimit-remaining", "x-hubspot-ratelimit-max", ""),
    ("x-rate-limit-api-token-remaining", "x-rate-limit-api-token-max", ""),  # Trello
    ("x-minlimit-remaining", "", ""),  # Xero
    ("ratelimit-remaining", "ratelimit-limit", "ratelimit-reset"),  # IETF draft (reset is delta)
]


def parse(headers: Mapping[str, str], status: int | None, now: float | None = None) -> RateLimit | None:
    lower = {k.lower(): v for k, v in headers.items()}
    now = time.time() if now is None else now
    remaining = limit = None
    reset: float | None = None
    for rem_h, lim_h, reset_h in _DIALECTS:
        if rem_h in lower:
            remaining = _int(lower[rem_h])
            limit = _int(lower.get(lim_h, "")) if lim_h else None
            raw_reset = _float(lower.get(reset_h, "")) if reset_h else None
            if raw_reset is not None:
                # Epoch seconds, epoch milliseconds (Linear), or a delta in seconds (IETF draft).
                if raw_reset > 1e11:
                    reset = raw_reset / 1000
                else:
                    reset = raw_reset if raw_reset > 1e9 else now + raw_reset
            break
    if "sforce-limit-info" in lower:  # Salesforce: "api-usage=25/15000"
        used, _, total = lower["sforce-limit-info"].partition("=")[2].partition("/")
        if _int(used) is not None and _int(total) is not None:
            limit = _int(total)
            remaining = (limit or 0) - (_int(used) or 0)
    retry_after = _retry_after(lower.get("retry-after"), now)
    if status == 429 and retry_after is None:
        retry_after = 60.0  # a 429 without Retry-After still means "back off"; a minute is polite
    result = RateLimit(remaining=remaining, limit=limit, reset_at=reset, retry_after_s=retry_after)
    return None if result.is_empty() else result


def _retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    seconds = _float(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def _int(value: str) -> int | None:
    try:
        return int(float(value))
    except ValueError:
        return None


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None
