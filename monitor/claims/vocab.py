"""The words status reports use, mapped to atom-monitor's enums.

Everything here is an immutable table read at import time. Status phrases are tried from the
most cautious to the most confident, so a phrase that says both ("Complete Partial
Integrations", "Fully Complete & Production Ready") resolves to what it claims at least, never
more: the importer must not promote a claim.
"""

from __future__ import annotations

import re
import unicodedata
from types import MappingProxyType
from typing import Final

from monitor.claims.model import ClaimedStatus, Feature, IntegrationId, Mark

# (integration, pattern, case-insensitive, name-only). Name-only aliases are ordinary words
# ("Teams" in "Issues, Projects, Teams, Cycles") and count only where a name is expected: a
# table's first cell, a bold list label, a heading.
_ALIASES: Final = (
    (IntegrationId.GITHUB, r"git\s?hub", True, False),
    (IntegrationId.SLACK, r"Slack", False, False),
    (IntegrationId.JIRA, r"jira", True, False),
    (IntegrationId.LINEAR, r"Linear", False, False),
    (IntegrationId.ASANA, r"asana", True, False),
    (IntegrationId.NOTION, r"Notion", False, False),
    (IntegrationId.TRELLO, r"trello", True, False),
    (IntegrationId.SALESFORCE, r"salesforce", True, False),
    (IntegrationId.HUBSPOT, r"hub\s?spot", True, False),
    (IntegrationId.TEAMS, r"(?:Microsoft|MS)\s+Teams", False, False),
    (IntegrationId.TEAMS, r"Teams", False, True),
    (IntegrationId.OUTLOOK, r"(?:Microsoft\s+)?Outlook", False, False),
    (IntegrationId.FIGMA, r"figma", True, False),
    (IntegrationId.XERO, r"xero", True, False),
    (IntegrationId.GOOGLE, r"Google|Gmail|G\s?Suite", False, False),
    (IntegrationId.DROPBOX, r"dropbox", True, False),
)
# A name is a whole word: GitHubDesktopManager.tsx is a file, not a mention of GitHub.
_FREE_ALIASES: Final = tuple(
    (ident, re.compile(rf"(?<!\w)(?:{pat})(?!\w)", re.I if ci else 0))
    for ident, pat, ci, name_only in _ALIASES
    if not name_only
)
_NAME_ALIASES: Final = tuple(
    (ident, re.compile(rf"(?:{pat})", re.I if ci else 0))
    for ident, pat, ci, name_only in _ALIASES
    if name_only
)

_STATUS_PATTERNS: Final = tuple(
    (status, re.compile(pat, re.I))
    for status, pat in (
        (
            ClaimedStatus.NOT_READY,
            r"\bnot (?:yet )?(?:ready|implemented|working|available)\b|\bmissing\b|\bbroken\b|\bblocked\b",
        ),
        (
            ClaimedStatus.NEEDS_CONFIGURATION,
            r"\bneeds? (?:configuration|config|setup|set-up|credentials)\b"
            r"|\brequires? (?:configuration|setup)\b"
            r"|\bto (?:be )?configured?\b|\bnot configured\b|\bunconfigured\b",
        ),
        (
            ClaimedStatus.PLANNED,
            r"\bplanned\b|\bfuture\b|\broadmap\b|\bnew integrations?\b|\bnot started\b"
            r"|\badditional (?:services?|integrations?|service integrations?)\b",
        ),
        (ClaimedStatus.IN_PROGRESS, r"\bin[ -]progress\b|\bwip\b|\bunder development\b|\bongoing\b"),
        (ClaimedStatus.READY_FOR_ENHANCEMENT, r"\bready for enhancements?\b"),
        (
            ClaimedStatus.PARTIAL,
            r"\bpartial(?:ly)?\b|\bincomplete\b|(?<![\d.])\d{1,2}(?:\.\d+)?\s*%\s*(?:ready|complete)\b",
        ),
        (
            ClaimedStatus.PRODUCTION_READY,
            r"\bproduction[- ]ready\b|\bready for (?:production|deployment)\b|\bdeployment[- ]ready\b"
            r"|(?<![\d.])100\s*%\s*ready\b",
        ),
        (ClaimedStatus.OPERATIONAL, r"\b(?:fully )?operational\b|\bvalidated\b"),
        (
            ClaimedStatus.COMPLETE,
            r"\b(?:fully |extensively )?completed?\b|\bimplemented\b|\bsupported\b|\bdone\b|\bfinished\b",
        ),
    )
)

# Words that may stand beside a status phrase without making it about something in particular:
# "Supported Integrations" is a status heading, "Software Developer (Alex) - 98% READY" is not.
_GENERIC_WORDS: Final = frozenset(
    (
        *("integration", "integrations", "system", "systems", "service", "services"),
        *("feature", "features", "component", "components", "item", "items"),
        *("implementation", "platform", "enhancement", "enhancements", "opportunities"),
        *("and", "the", "all"),
    )
)

_MARKS: Final = (
    (Mark.DONE, re.compile("[\u2705\u2714\u2611\U0001f7e2]")),  # ✅ ✔ ☑ 🟢
    (Mark.WARN, re.compile("[\u26a0\U0001f7e1\U0001f7e0\U0001f527]")),  # ⚠ 🟡 🟠 🔧
    (Mark.FAIL, re.compile("[\u274c\u2716\U0001f534\u26d4]")),  # ❌ ✖ 🔴 ⛔
)

_FEATURE_LABELS: Final = MappingProxyType(
    {
        **dict.fromkeys(
            (
                "oauth",
                "oauth 2.0",
                "oauth flow",
                "oauth system",
                "oauth handler",
                "oauth 2.0 authentication",
                "oauth integration",
                "authentication",
                "auth",
            ),
            Feature.OAUTH,
        ),
        **dict.fromkeys(
            (
                "api",
                "enhanced api",
                "backend api",
                "rest api",
                "api endpoints",
                "api implementation",
                "api integration",
            ),
            Feature.API,
        ),
        **dict.fromkeys(("database", "database layer", "database integration", "db"), Feature.DATABASE),
        **dict.fromkeys(
            (
                "frontend",
                "frontend ui",
                "frontend component",
                "frontend components",
                "frontend integration",
                "frontend skills",
            ),
            Feature.FRONTEND,
        ),
        **dict.fromkeys(
            ("webhooks", "webhook", "event handler", "event handling", "real-time events", "events"),
            Feature.WEBHOOKS,
        ),
        **dict.fromkeys(("tests", "test suite", "testing"), Feature.TESTS),
        **dict.fromkeys(("documentation", "docs"), Feature.DOCS),
    }
)
# In a section heading only distinctive words name a feature: "OAuth Service Configuration".
_FEATURE_WORDS: Final = (
    (Feature.OAUTH, re.compile(r"\boauth\b", re.I)),
    (Feature.WEBHOOKS, re.compile(r"\bwebhooks?\b", re.I)),
    (Feature.DATABASE, re.compile(r"\bdatabase\b", re.I)),
    (Feature.FRONTEND, re.compile(r"\bfrontend\b", re.I)),
)

# Feature values are kept as short state words; the earliest one in a cell wins.
_STATE_RE: Final = re.compile(
    r"\b(?:(?P<needs_configuration>needs? (?:configuration|setup))|(?P<in_progress>in[ -]progress)"
    r"|(?P<partial>partial(?:ly)?(?: complete)?)|(?P<complete>(?:fully )?completed?)|(?P<available>available)"
    r"|(?P<configured>configured)|(?P<connected>connected)|(?P<active>active)|(?P<implemented>implemented)"
    r"|(?P<operational>operational)|(?P<required>required)|(?P<optional>optional)|(?P<planned>planned)"
    r"|(?P<missing>missing))\b",
    re.I,
)

_SCORE_RE: Final = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)\s*(%|/\s*10\b)")
_CODE_SPAN_RE: Final = re.compile(r"`[^`]*`")
_EMPHASIS_RE: Final = re.compile(r"\*\*|__|(?<!\w)[*_]|[*_](?!\w)")
_PARENS_RE: Final = re.compile(r"\([^)]*\)")
_NUMBERING_RE: Final = re.compile(r"^\s*\d+(?:\.\d+)*[.)]?\s+")


def strip_markdown(text: str) -> str:
    """Emphasis and code ticks off, spaces collapsed: the verbatim phrase a human would quote."""
    text = _EMPHASIS_RE.sub("", text.replace("`", ""))
    return " ".join(text.split())


def strip_symbols(text: str) -> str:
    """Emoji, variation selectors and U+FFFD off: decoration, not words."""
    kept = (
        c for c in text if unicodedata.category(c) not in ("So", "Sk", "Cn", "Co") and c not in "\ufe0f\ufffd"
    )
    return " ".join("".join(kept).split())


def label(text: str) -> str:
    """A cell or list label reduced to its words: "**✅ Enhanced API**" → "Enhanced API"."""
    return strip_symbols(strip_markdown(text)).strip(" :-")


def find_integrations(text: str, *, as_name: bool = False) -> list[IntegrationId]:
    """Integrations named in `text`, in order. `as_name`: the text is a name slot (cell, label)."""
    text = _CODE_SPAN_RE.sub(" ", text)
    found: list[tuple[int, IntegrationId]] = []
    for ident, rx in _FREE_ALIASES:
        found.extend((m.start(), ident) for m in rx.finditer(text))
    if as_name:
        name = re.sub(r"\s+integrations?$", "", label(_PARENS_RE.sub("", text)), flags=re.I)
        found.extend((0, ident) for ident, rx in _NAME_ALIASES if rx.fullmatch(name))
    out: list[IntegrationId] = []
    for _, ident in sorted(found, key=lambda pair: pair[0]):
        if ident not in out:
            out.append(ident)
    return out


def without_integrations(text: str) -> str:
    """`text` with integration names blanked, to see what else it says."""
    for _, rx in _FREE_ALIASES:
        text = rx.sub(" ", text)
    return text


def match_status(text: str) -> tuple[ClaimedStatus, str] | None:
    """The most cautious status phrase in `text` and the words that said it."""
    for status, rx in _STATUS_PATTERNS:
        m = rx.search(text)
        if m:
            return status, m.group(0)
    return None


def status_only(text: str) -> ClaimedStatus | None:
    """The status of a text that says nothing but a status ("✅ Fully Complete (10 Integrations)").

    A heading or label like that applies its status to the names listed under it; one with a
    subject of its own ("Software Developer (Alex) - ✅ 98% READY") does not.
    """
    words = _NUMBERING_RE.sub("", _PARENS_RE.sub(" ", label(text)))
    found = match_status(words)
    if found is None:
        return None
    for _, rx in _STATUS_PATTERNS:
        words = rx.sub(" ", words)
    rest = set(re.findall(r"[a-z0-9]+", words.lower()))
    return found[0] if rest <= _GENERIC_WORDS else None


def find_mark(text: str) -> Mark | None:
    """The first status emoji in `text`."""
    hits = [(m.start(), mark) for mark, rx in _MARKS for m in [rx.search(text)] if m]
    return min(hits)[1] if hits else None


def feature_for_label(text: str) -> Feature | None:
    """The feature a column header or row label names, only on an exact (normalised) match."""
    key = _NUMBERING_RE.sub("", _PARENS_RE.sub(" ", label(text))).strip().lower()
    return _FEATURE_LABELS.get(" ".join(key.split()))


def feature_in_text(text: str) -> Feature | None:
    """A feature named by a distinctive word anywhere in a section heading or lead-in."""
    return next((feature for feature, rx in _FEATURE_WORDS if rx.search(text)), None)


def feature_state(text: str) -> str | None:
    """The state word a feature cell claims ("✅ Available" → "available"), else its mark's."""
    m = _STATE_RE.search(strip_markdown(text))
    if m and m.lastgroup:
        return m.lastgroup
    mark = find_mark(text)
    return mark.state if mark else None


def parse_score(text: str) -> float | None:
    """A self-reported score as a fraction: "98%" → 0.98, "8.5/10" → 0.85."""
    m = _SCORE_RE.search(text)
    if m is None:
        return None
    value = float(m.group(1)) / (100 if m.group(2) == "%" else 10)
    return round(value, 4) if 0 <= value <= 1 else None
