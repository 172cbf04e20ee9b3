"""The one scrubber: configured secrets and provider token shapes never survive it."""

from __future__ import annotations

import base64

import pytest

from monitor.scrub import REDACTED, Scrubber

SECRET = "s3cr3t/value+with=chars"


def test_configured_secret_is_removed_in_every_encoding() -> None:
    """Plain, URL-encoded, form-encoded and base64 (Basic auth) forms of a secret are all redacted."""
    s = Scrubber([SECRET])
    b64 = base64.b64encode(SECRET.encode()).decode().rstrip("=")
    for text in (SECRET, "s3cr3t%2Fvalue%2Bwith%3Dchars", "s3cr3t%2Fvalue%2Bwith%3Dchars", b64):
        assert SECRET not in s.text(f"token={text}") and REDACTED in s.text(f"x {text} y")


@pytest.mark.parametrize(
    "token",
    [
        "ghp_" + "a" * 36,
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "Bearer abcdefghijkl",
    ],
)
def test_provider_token_shapes_are_removed_even_unconfigured(token: str) -> None:
    """Tokens a provider issues (GitHub, Slack, JWT, Bearer values) are redacted without being configured."""
    assert Scrubber().text(f"echo: {token} end").count(REDACTED) == 1


def test_url_query_credentials_are_redacted() -> None:
    """Trello-style `key` and `token` query parameters are redacted by name, other parameters kept."""
    out = Scrubber().url("https://api.trello.com/1/members/me?key=abc&token=def&fields=id")
    assert "abc" not in out and "def" not in out and "fields=id" in out


def test_headers_redacted_by_name() -> None:
    """Authorization, cookies and *-token headers are redacted whatever their value looks like."""
    out = Scrubber().headers(
        {
            "Authorization": "Basic Zm9v",
            "Set-Cookie": "s=1",
            "X-Figma-Token": "t",
            "Content-Type": "application/json",
        }
    )
    assert out == {
        "Authorization": REDACTED,
        "Set-Cookie": REDACTED,
        "X-Figma-Token": REDACTED,
        "Content-Type": "application/json",
    }


def test_json_credential_fields_are_redacted_but_issue_keys_kept() -> None:
    """OAuth `access_token`/`refresh_token` fields are redacted; ordinary data such as a Jira `key` is not."""
    out = Scrubber().data(
        {"access_token": "abc", "refresh_token": "def", "key": "SBX-1", "nested": [{"password": "p"}]}
    )
    assert out == {
        "access_token": REDACTED,
        "refresh_token": REDACTED,
        "key": "SBX-1",
        "nested": [{"password": REDACTED}],
    }


def test_short_values_are_not_treated_as_secrets() -> None:
    """A secret under 4 characters would redact ordinary text everywhere, so it is ignored."""
    assert Scrubber(["ab"]).text("about") == "about"


def test_remembered_answers_stay_scrubbed_and_bounded() -> None:
    """Scrubbing the same text twice gives the same redacted text, and the memo of past answers
    stays bounded however many distinct strings pass through."""
    from monitor import scrub

    s = Scrubber(["hunter2-secret"])
    first = s.text("token hunter2-secret here")
    assert first == s.text("token hunter2-secret here") == f"token {REDACTED} here"
    for i in range(scrub._MEMO_ENTRIES * 2):
        s.text(f"line {i}")
    assert len(s._memo) <= scrub._MEMO_ENTRIES
    assert s.text("x" * 10_000 + "hunter2-secret").endswith(REDACTED)
    assert all(len(k) <= scrub._MEMO_MAX_CHARS for k in s._memo)
