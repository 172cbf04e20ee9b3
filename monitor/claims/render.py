"""Claims as YAML that config.yaml can take: `claims: {<integration>: Claims}`.

Only `status`, `source` and `features` go into the mapping, because `Claims` forbids other
keys. What a reviewer needs besides (the verbatim phrase, report-wide claims, mentions without
a claim, warnings, repaired lines) goes into comments, where a YAML loader ignores it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Final

from monitor.claims.model import ClaimsDocument, IntegrationId

_PLAIN_RE: Final = re.compile(r"[a-z][a-z0-9_]*")
# Words YAML 1.1 would read as booleans or null if left unquoted.
_YAML_WORDS: Final = frozenset(("y", "n", "yes", "no", "on", "off", "true", "false", "null"))


def to_yaml(doc: ClaimsDocument) -> str:
    """The document's claims as a YAML mapping under `claims:`, with a commented summary."""
    out = [f"# Claims imported by `atom-monitor claims import` from {_comment(doc.source)}."]
    if doc.title:
        out.append(f"# Report: {_comment(doc.title)}")
    out.append("# A claim is the team's word, not evidence: readiness judges it against measured checks.")
    if any(c.integration in (IntegrationId.TEAMS, IntegrationId.OUTLOOK) for c in doc.claims):
        out.append("# teams and outlook are both measured by the msgraph pack (Microsoft Graph).")
    if doc.report:
        out.append("# Report-wide claims:")
        for r in doc.report:
            said = f"{r.key}: {r.value}" if r.value else r.key
            score = f", score {r.score:g}" if r.score is not None else ""
            out.append(f"#   line {r.line}: {_comment(said)} -> {r.status}{score}")
    if doc.mentions:
        named = ", ".join(f"{m.integration} (line {m.line})" for m in doc.mentions)
        out.append(f"# Mentioned without a status claim: {named}")
    if doc.repairs:
        encodings = Counter(r.encoding or "other fixes" for r in doc.repairs)
        summary = ", ".join(f"{enc} on {n}" for enc, n in encodings.most_common())
        out.append(f"# Mojibake repaired with ftfy on {len(doc.repairs)} lines (read as {summary}).")
    for warning in doc.warnings:
        out.append(f"# warning: {_comment(warning)}")
    if not doc.claims:
        out.append("claims: {}")
        return "\n".join(out) + "\n"
    out.append("claims:")
    for claim in doc.claims:
        out.append(f"  {claim.integration}:  # {_comment(claim.phrase)}")
        out.append(f"    status: {_scalar(claim.status)}")
        out.append(f"    source: {_scalar(claim.source)}")
        features = claim.feature_map()
        if features:
            out.append("    features:")
            out.extend(f"      {_scalar(k)}: {_scalar(v)}" for k, v in features.items())
    return "\n".join(out) + "\n"


def _scalar(value: str) -> str:
    """A plain scalar where that is unambiguous, else a JSON string (valid YAML double-quoted)."""
    if _PLAIN_RE.fullmatch(value) and value not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def _comment(text: str) -> str:
    """Text safe inside a one-line YAML comment."""
    return " ".join(text.split())
