"""The one scrubber. Evidence, logs, errors, reports and cassettes all pass through it.

It removes two things: the exact secret values from config (in plain, URL-encoded and Basic-auth
forms), and anything shaped like a credential a real provider issues, since a provider may echo
a token we never configured (an OAuth refresh returns fresh ones).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

REDACTED = "[REDACTED]"
# Scrubbed short strings are remembered: the same input always gives the same output.
_MEMO_ENTRIES = 4096
_MEMO_MAX_CHARS = 256

# Credential shapes real providers issue. Conservative: each needs a distinctive prefix.
_TOKEN_SHAPES = [
    r"gh[pousr]_[A-Za-z0-9]{20,}",  # GitHub classic and app tokens
    r"github_pat_[A-Za-z0-9_]{20,}",
    r"xox[abposre]-[A-Za-z0-9-]{8,}",  # Slack
    r"xapp-[A-Za-z0-9-]{8,}",
    r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",  # JWT
    r"(?<=[Bb]earer )[A-Za-z0-9._~+/=-]{8,}",
    r"(?<=[Bb]asic )[A-Za-z0-9+/=]{8,}",
    r"lin_api_[A-Za-z0-9]{20,}",  # Linear
    r"ATATT[A-Za-z0-9_=-]{20,}",  # Atlassian API tokens
    r"secret_[A-Za-z0-9]{20,}|ntn_[A-Za-z0-9]{20,}",  # Notion
    r"pat-(?:na|eu)\d-[0-9a-f-]{20,}",  # HubSpot private apps
    r"figd_[A-Za-z0-9_-]{20,}",
    r"sl\.[A-Za-z0-9_-]{20,}",  # Dropbox short-lived
]

# A literal every shape above needs (each match contains one): text holding none of them cannot
# match, and the alternation with its look-behinds cost ~10 µs on even a short string.
_SHAPE_MARKERS = (
    "gh",
    "github_pat_",
    "xox",
    "xapp-",
    "eyJ",
    "earer ",
    "asic ",
    "lin_api_",
    "ATATT",
    "secret_",
    "ntn_",
    "pat-",
    "figd_",
    "sl.",
)
_SHAPE_MARKER = re.compile("|".join(re.escape(m) for m in _SHAPE_MARKERS))  # one C pass, not 14

# Credentials named by their key in text a parser did not see: form-encoded OAuth answers
# (`access_token=...&scope=...`), JSON inside strings, raw `Set-Cookie:` lines. Group 2 is the value.
_KEYED = re.compile(
    r"(?i)((?:access_token|refresh_token|id_token|client_secret)[\"']?\s*[:=]\s*[\"']?)"
    r"([A-Za-z0-9._~+/=-]{8,})"
    r"|(set-cookie:\s*)([^\r\n]+)"
)

# What every _KEYED match contains, lower-cased (the pattern ignores case).
_KEYED_MARKERS = ("access_token", "refresh_token", "id_token", "client_secret", "set-cookie")

# Header and query parameter names whose values are credentials whatever they look like.
_SENSITIVE_NAME = re.compile(
    r"(?i)^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api[-_]?key|apikey|key|"
    r"token|access[-_]?token|refresh[-_]?token|id[-_]?token|client[-_]?secret|password|passwd|"
    r"secret|x-[a-z-]*token|private[-_]?token|code|sig|signature|session)$"
)
# JSON keys: narrower, because `key` (a Jira issue key) or `code` are ordinary data in bodies.
_SENSITIVE_KEY = re.compile(
    r"(?i)^(token|access_token|refresh_token|id_token|client_secret|password|secret|api_key|"
    r"apikey|authorization|cookie|session_token|bot_token)$"
)


class Scrubber:
    """Built once per config from its secret values; its output for an input never changes."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for s in secrets:
            if len(s) < 4:
                continue
            forms.update({s, quote(s, safe=""), quote_plus(s)})
            forms.add(base64.b64encode(s.encode()).decode().rstrip("="))
        self._secrets = re.compile(_trie_pattern(forms)) if forms else None
        self._shapes = re.compile("|".join(f"(?:{p})" for p in _TOKEN_SHAPES))
        # Two generations: a full young one becomes the old one. Unique strings (run ids, URLs
        # that carry them) fill a generation every few seconds at 1,000 checks/s; one that
        # recurs is found in the old generation and carried into the new, so it is never lost
        # to that churn, as it was when a single full memo was simply cleared.
        self._memo: dict[str, str] = {}
        self._old: dict[str, str] = {}

    def text(self, value: str) -> str:
        # A check run scrubs ~20 strings and most recur run after run ("200", a reason, an
        # expected value): three regex passes each were 7% of the daemon's CPU (bench/README.md).
        done = self._memo.get(value)
        if done is not None:
            return done
        done = self._old.get(value)
        if done is None:
            done = self._scrub(value)
        if len(value) <= _MEMO_MAX_CHARS:
            if len(self._memo) >= _MEMO_ENTRIES:  # bounded: two generations, at most ~2 MB
                self._old, self._memo = self._memo, {}
            self._memo[value] = done
        return done

    def _scrub(self, value: str) -> str:
        if self._secrets is not None:
            value = self._secrets.sub(REDACTED, value)
        if _SHAPE_MARKER.search(value) is not None:
            value = self._shapes.sub(REDACTED, value)
        lowered = value.lower()
        if any(m in lowered for m in _KEYED_MARKERS):
            value = _KEYED.sub(_keep_key, value)
        return value

    def contains_secret(self, value: str) -> bool:
        return self.secret_kind(value) is not None

    def secret_kind(self, value: str) -> str | None:
        """What kind of secret `value` holds ("a configured secret", "a token shaped like ghp_"...),
        never the secret itself; None when it holds none."""
        if self._secrets is not None and self._secrets.search(value):
            return "a configured secret"
        match = self._shapes.search(value)
        if match:
            return f"a token shaped like {match.group(0)[:4]}..."
        for m in _KEYED.finditer(value):
            if (m.group(2) or m.group(4) or "").strip() != REDACTED:
                return f"a credential field {(m.group(1) or m.group(3)).split()[0].strip(':=' + chr(34))!r}"
        return None

    def url(self, url: str) -> str:
        """Redact credential-named query parameters (Trello's key and token), then any secret."""
        if not self._needs_parsing(url):
            # Most check URLs carry no credential in their query or authority: skip the split,
            # parse and re-encode (a quarter of the evidence's cost, bench/README.md).
            return self.text(url)
        parts = urlsplit(url)
        if parts.query:
            query = [
                (k, REDACTED if is_sensitive(k) else v)
                for k, v in parse_qsl(parts.query, keep_blank_values=True)
            ]
            parts = parts._replace(query=urlencode(query, safe="[]"))
        if parts.username or parts.password:
            parts = parts._replace(netloc=parts.hostname or "")
        return self.text(urlunsplit(parts))

    @staticmethod
    def _needs_parsing(url: str) -> bool:
        """True when the URL has user info, or a query parameter whose name is sensitive."""
        head, _, rest = url.partition("?")
        if "@" in head.partition("://")[2].partition("/")[0]:
            return True
        names = [p.partition("=")[0] for p in rest.partition("#")[0].split("&") if p]
        # An encoded name (`%74oken`) is judged only after decoding: leave it to the slow path.
        return any("%" in n or is_sensitive(n.replace("+", " ")) for n in names)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {k: REDACTED if is_sensitive(k) else self.text(v) for k, v in headers.items()}

    def data(self, value: Any) -> Any:
        """A JSON-like value with credential-named keys and secret strings redacted."""
        if isinstance(value, dict):
            return {
                k: REDACTED
                if isinstance(k, str) and _SENSITIVE_KEY.match(k) and isinstance(v, str)
                else self.data(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value


def _trie_pattern(words: Iterable[str]) -> str:
    """One alternation of `words` shaped as a prefix tree, matching the longest at each position.

    A flat `a|b|c...` makes the regex engine try every secret at every position: with a hundred
    integrations' secrets in four spellings each, scrubbing one URL cost ~5 µs, a body excerpt
    ~11. As a tree each position costs one path down it (~5x less). Greedy optional tails keep
    the flat pattern's longest-first choice.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _branch(trie)


def _branch(node: dict[str, Any]) -> str:
    out = []
    while True:  # a run without branches is plain text; iterate so a long secret costs no depth
        keys = [k for k in node if k]
        if len(keys) == 1 and "" not in node:
            out.append(re.escape(keys[0]))
            node = node[keys[0]]
            continue
        break
    if keys:
        alternatives = "|".join(re.escape(k) + _branch(node[k]) for k in sorted(keys))
        out.append(f"(?:{alternatives})?" if "" in node else f"(?:{alternatives})")
    return "".join(out)


def _keep_key(m: re.Match[str]) -> str:
    return f"{m.group(1)}{REDACTED}" if m.group(1) is not None else f"{m.group(3)}{REDACTED}"


def is_sensitive(name: str) -> bool:
    return bool(_SENSITIVE_NAME.match(name))
