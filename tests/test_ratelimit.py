"""Rate-limit signals from the header dialects providers use."""

from __future__ import annotations

import pytest

from monitor import ratelimit


def test_github_headers() -> None:
    """GitHub's X-RateLimit-* headers give remaining, limit and the epoch reset."""
    rl = ratelimit.parse(
        {"X-RateLimit-Remaining": "4999", "X-RateLimit-Limit": "5000", "X-RateLimit-Reset": "1893456000"}, 200
    )
    assert rl is not None and (rl.remaining, rl.limit, rl.reset_at) == (4999, 5000, 1893456000.0)


def test_retry_after_seconds_and_http_date() -> None:
    """Retry-After is read both as seconds and as an HTTP date."""
    assert ratelimit.parse({"Retry-After": "30"}, 429).retry_after_s == 30  # type: ignore[union-attr]
    rl = ratelimit.parse({"Retry-After": "Thu, 01 Jan 2030 00:01:00 GMT"}, 429, now=1893456000.0)
    assert rl is not None and rl.retry_after_s == 60


def test_429_without_header_still_backs_off() -> None:
    """A bare 429 means back off: a default wait is recorded."""
    rl = ratelimit.parse({}, 429)
    assert rl is not None and rl.retry_after_s == 60


def test_salesforce_limit_info() -> None:
    """Salesforce's Sforce-Limit-Info `api-usage=used/total` becomes remaining and limit."""
    rl = ratelimit.parse({"Sforce-Limit-Info": "api-usage=25/15000"}, 200)
    assert rl is not None and (rl.remaining, rl.limit) == (14975, 15000)


def test_no_signal_is_none() -> None:
    """A response without any quota header yields no rate-limit observation."""
    assert ratelimit.parse({"Content-Type": "application/json"}, 200) is None


def test_linear_reset_in_epoch_milliseconds() -> None:
    """Linear's reset header is epoch milliseconds: read as a time, not a date in the year 58,000."""
    rl = ratelimit.parse(
        {
            "X-RateLimit-Requests-Remaining": "4999",
            "X-RateLimit-Requests-Limit": "5000",
            "X-RateLimit-Requests-Reset": "1795430573191",
        },
        200,
        now=1795430000.0,
    )
    assert rl is not None and rl.remaining == 4999 and rl.reset_at == 1795430573.191


@pytest.mark.parametrize(
    ("status", "headers", "body", "refused"),
    [
        (429, {}, None, True),
        (
            403,
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "5000"},
            {"message": "API rate limit"},
            True,
        ),
        (403, {"Retry-After": "60"}, {"message": "secondary rate limit"}, True),
        (403, {}, {"error": {"code": 403, "errors": [{"reason": "userRateLimitExceeded"}]}}, True),
        (
            403,
            {},
            [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}],
            True,
        ),
        (400, {}, {"errors": [{"message": "limited", "extensions": {"code": "RATELIMITED"}}]}, True),
        (403, {}, {"error": {"errors": [{"reason": "forbidden"}]}}, False),
        (503, {"Retry-After": "120"}, {"message": "maintenance"}, False),
        (200, {}, {"error": "ratelimited"}, False),
    ],
)
def test_quota_refusals_are_recognised(
    status: int, headers: dict[str, str], body: object, refused: bool
) -> None:
    """A quota refusal is recognised in each provider's dialect (429, GitHub's 403, Google's and
    Salesforce's bodies, Linear's 400); a forbidden 403 or a 503 outage is not one."""
    rl = ratelimit.parse(headers, status, body=body)
    assert (rl is not None and rl.refused) is refused
