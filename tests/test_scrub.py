"""The one scrubber: configured secrets and provider token shapes never survive it."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    assert len(s._memo) <= scrub._MEMO_ENTRIES and len(s._old) <= scrub._MEMO_ENTRIES
    assert s.text("x" * 10_000 + "hunter2-secret").endswith(REDACTED)
    assert all(len(k) <= scrub._MEMO_MAX_CHARS for k in (*s._memo, *s._old))


def test_a_recurring_string_outlives_a_stream_of_unique_ones() -> None:
    """A string seen again while unique ones (run ids) churn the memo stays remembered: it is
    never scrubbed a second time."""
    from monitor import scrub

    s = Scrubber(["hunter2-secret"])
    calls: list[str] = []
    real = s._scrub
    s._scrub = lambda v: calls.append(v) or real(v)  # type: ignore[method-assign]
    for i in range(scrub._MEMO_ENTRIES * 5):
        s.text(f"run {i}")
        if i % 1000 == 0:
            assert s.text("all 6 assertions held") == "all 6 assertions held"
    assert calls.count("all 6 assertions held") == 1


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.trello.com/1/boards?key=abc123&token=def456", f"key={REDACTED}&token={REDACTED}"),
        ("https://x.test/a?%74oken=def456&q=1", f"token={REDACTED}&q=1"),
        ("https://user:pw@x.test/a?q=1", "https://x.test/a?q=1"),
        ("https://x.test/a?q=hunter2-secret&page=2", f"q={REDACTED}&page=2"),
        ("https://x.test/a?ms=50&id=20261123-abc", "https://x.test/a?ms=50&id=20261123-abc"),
    ],
)
def test_url_redacts_credential_parameters_user_info_and_secrets(url: str, expected: str) -> None:
    """Credential-named query parameters (also percent-encoded ones), user info and configured
    secrets leave a URL; an ordinary URL comes back unchanged."""
    assert expected in Scrubber(["hunter2-secret"]).url(url)


def test_marker_prefilter_changes_no_answer() -> None:
    """Skipping the pattern passes for text without their literal markers gives exactly what the
    full passes give, for every credential shape and for ordinary text."""
    import itertools

    from monitor import scrub

    s = Scrubber(["hunter2-secret"])
    samples = [
        "ghp_" + "a" * 30,
        "github_pat_" + "b" * 30,
        "xoxb-12345678-abcdefgh",
        "xapp-1-ABCDEFGHIJ",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "Authorization: Bearer abcdefghijkl",
        "Basic dXNlcjpwYXNzd29yZA==",
        "lin_api_" + "c" * 30,
        "ATATT" + "d" * 30,
        "secret_" + "e" * 30,
        "ntn_" + "f" * 30,
        "pat-na1-" + "0123456789abcdef0123",
        "figd_" + "g" * 30,
        "sl." + "h" * 30,
        "ACCESS_TOKEN=abcdefghijk&scope=x",
        '{"refresh_token": "zyxwvutsrqpo"}',
        "Set-Cookie: session=abc; HttpOnly",
        "all 5 assertions held",
        "http://127.0.0.1:9/delay?ms=50&id=20261123-abc",
    ]
    for a, b in itertools.product(samples, repeat=2):
        text = f"{a} then {b}"
        full = scrub._KEYED.sub(scrub._keep_key, s._shapes.sub(REDACTED, s._secrets.sub(REDACTED, text)))
        assert s._scrub(text) == full, text


@settings(max_examples=300, deadline=None)
@given(
    # Two letters and short words: secrets often share prefixes or contain one another.
    secrets=st.lists(st.text(alphabet="ab", min_size=4, max_size=7), min_size=1, max_size=12),
    text=st.text(alphabet="ab x", max_size=60),
)
def test_the_secret_tree_redacts_what_a_flat_longest_first_alternation_does(
    secrets: list[str], text: str
) -> None:
    """Secrets sharing prefixes, or one the prefix of another, are redacted exactly as the plain
    longest-first alternation would: same spans, same output."""
    from monitor import scrub

    flat = re.compile("|".join(re.escape(w) for w in sorted(set(secrets), key=len, reverse=True)))
    tree = re.compile(scrub._trie_pattern(set(secrets)))
    assert tree.sub(REDACTED, text) == flat.sub(REDACTED, text)


def test_a_very_long_secret_is_redacted() -> None:
    """A key thousands of characters long (a PEM body) compiles and is found."""
    key = "MIIE" + "k" * 5000
    assert Scrubber([key]).text(f"leaked {key} here") == f"leaked {REDACTED} here"
