"""Read claims out of a status report, line by line, conservatively.

Where a claim can be read:
- a table row whose first cell names an integration: the Status column (or, failing that, a
  status heading above the table, or the status cell's emoji) gives the status; other columns
  whose header names a feature (OAuth, Enhanced API, Database, Frontend) give features;
- a list item or key-value line naming integrations: its own status words, else the nearest
  status-only parent item, lead-in ("**Services to Configure:**") or heading ("✅ OPERATIONAL
  SYSTEMS", "Supported Integrations"), else its emoji; an unchecked box says "not done";
- a heading naming one integration and nothing but a status;
- a report about one integration (its title names it): the report's headline status.

A status word only counts where it is the whole point of its text: "Complete Outlook suite
implementation" is a to-do, not a claim, and "Software Developer (Alex) - ✅ 98% READY" is about
a persona, not about the GitHub bullet under it. An emoji alone never outranks words: "✅ **GitHub**
(REQUIRED)" under "Services to Configure" claims configuration is needed, not done.

When a report says two things about one integration, the more specific reading wins (see
`Basis`), and a warning records the other if one of them claims the integration works and the
other does not.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from monitor.claims.markdown import Kind, Line, classify, split_kv
from monitor.claims.model import (
    Basis,
    ClaimedStatus,
    ClaimsDocument,
    Feature,
    FeatureClaim,
    IntegrationClaim,
    IntegrationId,
    Mark,
    Mention,
    Repair,
    ReportClaim,
)
from monitor.claims.repair import decode, repair_text
from monitor.claims.vocab import (
    feature_for_label,
    feature_in_text,
    feature_state,
    find_integrations,
    find_mark,
    label,
    match_status,
    parse_score,
    status_only,
    strip_markdown,
    without_integrations,
)

# A key that names the report's standing: "Production Readiness", "Overall Completion", "OVERALL
# VERDICT", "Overall Readiness Score"; not "OAuth Flow Completion Rate" or "Status Report Generated".
_REPORT_KEY_RE: Final = re.compile(r"\b(?:status|readiness|completion|verdict)(?:\s+score)?\s*$", re.I)
_DASHES: Final = "-\u2013\u2014"  # hyphen, en dash, em dash
_SEGMENT_SPLIT_RE: Final = re.compile(rf"\s+[{_DASHES}]\s+|[():]")
_LEAD_NAME_RE: Final = re.compile(rf"^\W*\*\*([^*]+)\*\*|^([^{_DASHES}(:]+)")
_CONFIG_WORDS_RE: Final = re.compile(r"configur|set ?up|credential", re.I)

Found = tuple[ClaimedStatus, str]  # a status and the verbatim words that claimed it


def parse_report(text: str, source: str) -> ClaimsDocument:
    """Every claim in one report's text; mojibake is repaired first. `source` names the file."""
    repaired = repair_text(text)
    reader = _Reader(source)
    for line in classify(repaired.text):
        reader.read(line)
    return reader.document(repaired.repairs, repaired.warnings)


def import_report(path: Path) -> ClaimsDocument:
    """Read, decode, repair and parse a report file; sources cite `path.name` and a line."""
    text, warning = decode(path.read_bytes())
    doc = parse_report(text, path.name)
    if warning:
        doc = dataclasses.replace(doc, warnings=(warning, *doc.warnings))
    return doc


@dataclass
class _Heading:
    line: int
    level: int
    text: str


@dataclass
class _Reader:
    """One pass over a report's lines; state lives here, per report, never at module level."""

    source: str
    title: str | None = None
    subject: IntegrationId | None = None
    candidates: list[IntegrationClaim] = field(default_factory=list)
    subject_features: list[FeatureClaim] = field(default_factory=list)
    report: list[ReportClaim] = field(default_factory=list)
    mentions: dict[IntegrationId, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    headings: list[_Heading] = field(default_factory=list)  # every heading, in order
    status_headings: list[tuple[_Heading, ClaimedStatus]] = field(default_factory=list)
    stack: list[_Heading] = field(default_factory=list)  # the headings enclosing the current line
    lead_in: str | None = None
    items: list[tuple[int, str]] = field(default_factory=list)  # enclosing list items: (indent, text)
    header: tuple[str, ...] | None = None

    # ------------------------------------------------------------------ per line

    def read(self, line: Line) -> None:
        if line.kind is Kind.HEADING:
            self._heading(line)
        elif line.kind is Kind.TABLE_ROW:
            self._row(line)
        elif line.kind in (Kind.ITEM, Kind.TEXT):
            self._item(line)
        if line.kind not in (Kind.TABLE_ROW, Kind.TABLE_RULE):
            self.header = None

    def _heading(self, line: Line) -> None:
        heading = _Heading(line.number, line.level, line.text)
        while self.stack and self.stack[-1].level >= line.level:
            self.stack.pop()
        self.stack.append(heading)
        self.headings.append(heading)
        self.lead_in, self.items = None, []
        if line.level == 1 and self.title is None:
            self.title = label(line.text)
            subject = find_integrations(line.text)
            self.subject = subject[0] if len(subject) == 1 else None
            self._mention(subject, line.number)
            return
        names = find_integrations(line.text, as_name=True)
        self._mention(names, line.number)
        status = status_only(without_integrations(line.text))
        if len(names) == 1 and status is not None:
            self._claim(names[0], (status, label(line.text)), line.number, Basis.HEADING, ())
        elif not names:
            kv = split_kv(line.text, plain=True)
            if kv:
                self._report_kv(kv, line.number)
            if status is not None and status is not ClaimedStatus.PLANNED:
                self.status_headings.append((heading, status))
            feature, mark = feature_for_label(line.text), find_mark(line.text)
            if self.subject and feature and mark:
                self.subject_features.append(FeatureClaim(feature, mark.state, line.number))

    def _row(self, line: Line) -> None:
        if self.header is None:
            self.header = line.cells
            return
        cells, header = line.cells, self.header
        names = find_integrations(cells[0], as_name=True)
        for cell in cells:
            self._mention(find_integrations(cell), line.number)
        self._mention(names, line.number)
        status_at = next((i for i, h in enumerate(header) if re.search(r"\bstatus\b", h, re.I)), None)
        status_cell = cells[status_at] if status_at is not None and status_at < len(cells) else None
        if not names:
            feature = feature_for_label(cells[0])
            value = status_cell if status_cell is not None else (cells[1] if len(cells) > 1 else "")
            state = feature_state(value)
            if self.subject and feature and state:
                self.subject_features.append(FeatureClaim(feature, state, line.number))
            return
        found = self._cell_status(status_cell)
        if found is None:
            return
        features: list[FeatureClaim] = []
        for i, (head, cell) in enumerate(zip(header, cells, strict=False)):
            feature = feature_for_label(head) if i not in (0, status_at) else None
            state = feature_state(cell) if feature else None
            if feature and state:
                features.append(FeatureClaim(feature, state, line.number))
        rest = feature_for_label(without_integrations(cells[0]))  # "Slack API", "Slack Webhooks"
        rest_state = feature_state(status_cell) if status_cell else None
        if rest and rest_state:
            features.append(FeatureClaim(rest, rest_state, line.number))
        for name in names:
            self._claim(name, found, line.number, Basis.TABLE, tuple(features))

    def _cell_status(self, cell: str | None) -> Found | None:
        """A status cell's words, else the status heading above the table, else its emoji."""
        if cell is not None and (found := match_status(cell)):
            return found[0], strip_markdown(cell)
        context = self._heading_status()
        if context:
            return context
        mark = find_mark(cell) if cell is not None else None
        return (mark.status, strip_markdown(cell or "")) if mark else None

    def _item(self, line: Line) -> None:
        text = line.text
        kv = split_kv(text)
        if line.kind is Kind.TEXT:
            self.items = []
            if (kv and not kv[1]) or text.rstrip("*").endswith(":"):
                self.lead_in = kv[0] if kv else label(text)
                return
            self.lead_in = None
        parents = self._parents(line)
        lead = _LEAD_NAME_RE.match(text)
        lead_text = next((g for g in lead.groups() if g), "") if lead else ""
        names = find_integrations(lead_text, as_name=True)
        names += [n for n in find_integrations(text) if n not in names]
        self._mention(names, line.number)
        if line.kind is Kind.ITEM:
            self.items.append((line.level, text))
        if not names:
            if kv:
                self._report_kv(kv, line.number)
                feature, state = feature_for_label(kv[0]), feature_state(kv[1])
                if self.subject and feature and state and line.kind is Kind.ITEM:
                    self.subject_features.append(FeatureClaim(feature, state, line.number))
            return
        found = self._own_status(text, kv, line.checked) or self._context_status(parents)
        mark = Mark.DONE if line.checked else find_mark(text)
        if found is None and mark is not None:
            found = (mark.status, strip_markdown(text))
        if found is None:
            return
        feature = feature_for_label(kv[0]) if kv else None
        feature = feature or feature_in_text(self.lead_in or "") or self._heading_feature()
        state = "pending" if line.checked is False else feature_state(kv[1] if kv else text)
        features = (FeatureClaim(feature, state, line.number),) if feature and state else ()
        for name in names:
            self._claim(name, found, line.number, Basis.LIST, features)

    # ------------------------------------------------------------------ context

    def _parents(self, line: Line) -> list[str]:
        """The texts of the list items enclosing `line`, nearest first."""
        if line.kind is not Kind.ITEM:
            return []
        while self.items and self.items[-1][0] >= line.level:
            self.items.pop()
        return [text for _, text in reversed(self.items)]

    def _own_status(self, text: str, kv: tuple[str, str] | None, checked: bool | None) -> Found | None:
        """A status the item states as a whole segment: "**Additional Services**: …", "X - Ready"."""
        if checked is False:
            todo = _CONFIG_WORDS_RE.search(text)
            return (
                ClaimedStatus.NEEDS_CONFIGURATION if todo else ClaimedStatus.PLANNED,
                "[ ] " + strip_markdown(text),
            )
        segments = list(kv) if kv else _SEGMENT_SPLIT_RE.split(text)
        for segment in segments:
            status = status_only(without_integrations(segment))
            if status is not None:
                return status, strip_markdown(segment)
        return None

    def _context_status(self, parents: list[str]) -> Found | None:
        for parent in parents:
            status = status_only(parent)
            if status is not None:
                return status, strip_markdown(parent)
        if self.lead_in and (status := status_only(self.lead_in)):
            return status, strip_markdown(self.lead_in)
        return self._heading_status()

    def _heading_status(self) -> Found | None:
        for heading in reversed(self.stack):
            status = status_only(heading.text)
            if status is not None:
                return status, strip_markdown(heading.text)
        return None

    def _heading_feature(self) -> Feature | None:
        """A feature the nearest heading names: "1.1 OAuth Service Configuration" → oauth."""
        return feature_in_text(self.stack[-1].text) if self.stack else None

    # ------------------------------------------------------------------ records

    def _mention(self, names: list[IntegrationId], line: int) -> None:
        for name in names:
            self.mentions.setdefault(name, line)

    def _claim(
        self, name: IntegrationId, found: Found, line: int, basis: Basis, features: tuple[FeatureClaim, ...]
    ) -> None:
        status, phrase = found
        claim = IntegrationClaim(name, status, phrase, f"{self.source}:{line}", line, basis, features)
        self.candidates.append(claim)

    def _in_summary(self) -> bool:
        return any("summary" in h.text.lower() for h in self.stack)

    def _report_kv(self, kv: tuple[str, str], line: int) -> None:
        """A report-wide claim: a status-like key, or a status stated in the executive summary."""
        key, value = kv
        key_status, found, score = status_only(key), match_status(value), parse_score(value)
        standing = _REPORT_KEY_RE.search(key) and (found or score is not None)
        if not (key_status or standing or (self._in_summary() and found)):
            return
        if key_status:
            status = key_status
        elif found:
            status = found[0]
        elif score is not None and "%" in value and re.search(r"complet|ready", key, re.I):
            status = ClaimedStatus.PARTIAL if score < 1 else ClaimedStatus.COMPLETE
        else:
            status = ClaimedStatus.UNKNOWN
        claim = ReportClaim(label(key), strip_markdown(value), status, score, line)
        same = next((r for r in self.report if (r.key, r.value) == (claim.key, claim.value)), None)
        if same:
            self.warnings.append(f"line {line} repeats line {same.line}: {claim.key}: {claim.value}")
            return
        self.report.append(claim)

    # ------------------------------------------------------------------ result

    def document(self, repairs: tuple[Repair, ...], warnings: tuple[str, ...]) -> ClaimsDocument:
        self._status_heading_claims()
        if self.subject is not None:
            self._subject_claim(self.subject)
        claims = self._reduce()
        claimed = {c.integration for c in claims}
        mentions = tuple(
            Mention(name, line)
            for name, line in sorted(self.mentions.items(), key=lambda p: p[1])
            if name not in claimed
        )
        report = tuple(sorted(self.report, key=lambda r: r.line))
        return ClaimsDocument(
            self.source,
            self.title,
            self.subject,
            claims,
            report,
            mentions,
            (*warnings, *self.warnings),
            repairs,
        )

    def _status_heading_claims(self) -> None:
        """A status heading with no integration claim under it speaks for the report ("⚠️ Needs
        Configuration"). Future-work headings are left out: they name work ahead, not a state."""
        for heading, status in self.status_headings:
            end = next(
                (h.line for h in self.headings if h.line > heading.line and h.level <= heading.level),
                None,
            )
            if not any(heading.line <= c.line and (end is None or c.line < end) for c in self.candidates):
                self.report.append(ReportClaim(label(heading.text), "", status, None, heading.line))

    def _subject_claim(self, subject: IntegrationId) -> None:
        """A report about one integration: its headline status is that integration's claim."""
        stated = sorted(
            (r for r in self.report if r.status is not ClaimedStatus.UNKNOWN), key=lambda r: r.line
        )
        headline = next((r for r in stated if "status" in r.key.lower()), stated[0] if stated else None)
        if headline is not None:
            phrase = f"{headline.key}: {headline.value}" if headline.value else headline.key
            self._claim(subject, (headline.status, phrase), headline.line, Basis.SUBJECT, ())

    def _reduce(self) -> tuple[IntegrationClaim, ...]:
        """One claim per integration: the best-placed one, with every feature the report gives."""
        groups: dict[IntegrationId, list[IntegrationClaim]] = {}
        for candidate in self.candidates:
            groups.setdefault(candidate.integration, []).append(candidate)
        out: list[IntegrationClaim] = []
        for name, group in groups.items():
            chosen = min(group, key=lambda c: (c.basis, c.line))
            features = [f for c in group for f in c.features]
            if name is self.subject:
                features += self.subject_features
            merged: dict[Feature, FeatureClaim] = {}
            for f in sorted(features, key=lambda f: f.line):
                merged.setdefault(f.feature, f)
            for other in group:
                if other.status.asserts_working != chosen.status.asserts_working:
                    self.warnings.append(
                        f"{name}: line {other.line} says {other.status} ({other.phrase!r}) but line "
                        f"{chosen.line} says {chosen.status} ({chosen.phrase!r}); kept {chosen.status}"
                    )
            out.append(dataclasses.replace(chosen, features=tuple(merged.values())))
        return tuple(sorted(out, key=lambda c: c.line))
