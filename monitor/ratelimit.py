"""What providers say about our quota, from the many header dialects they use."""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

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


# Error codes in bodies that mean "quota", for providers that refuse with a 403 or even a 200/400.
_QUOTA_CODES = frozenset(
    {
        "ratelimitexceeded",  # Google
        "userratelimitexceeded",  # Google
        "request_limit_exceeded",  # Salesforce
        "ratelimited",  # Slack, Linear (extensions.code RATELIMITED)
        "rate_limited",  # Notion
        "too_many_requests",  # Dropbox
        "api_token_limit_exceeded",  # Trello
    }
)


def parse(
    headers: Mapping[str, str], status: int | None, now: float | None = None, body: Any = None
) -> RateLimit | None:
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
    # 429 always; GitHub's primary and secondary limits are a 403 with no quota left or with
    # Retry-After; Google, Salesforce and Linear say so in the body of a 403 or 400. A 503 with
    # Retry-After is an outage, not a quota: it fails.
    refused = status == 429 or (
        status in (400, 403)
        and (remaining == 0 or (status == 403 and retry_after is not None) or _quota_code(body))
    )
    if refused and retry_after is None:
        retry_after = 60.0  # refused without Retry-After still means "back off"; a minute is polite
    if remaining is None and limit is None and retry_after is None and not refused:
        return None  # RateLimit.is_empty, without building one for every quiet response
    return RateLimit(
        remaining=remaining, limit=limit, reset_at=reset, retry_after_s=retry_after, refused=refused
    )


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


def _quota_code(body: Any, depth: int = 0) -> bool:
    """Whether an error body names a quota code anywhere a provider puts one (bounded walk)."""
    if depth > 4:
        return False
    if isinstance(body, str):
        return body.strip().lower() in _QUOTA_CODES
    if isinstance(body, dict):
        return any(
            _quota_code(v, depth + 1)
            for k, v in body.items()
            if k in _CODE_KEYS or isinstance(v, dict | list)
        )
    if isinstance(body, list):
        return any(_quota_code(v, depth + 1) for v in body[:10])
    return False


_CODE_KEYS = frozenset({"error", "errorCode", "reason", "code", ".tag", "status", "extensions", "errors"})
