"""Types of the claims importer: what a status report claims, where, and how sure we are.

A claim is a team's word, not evidence. Every claim keeps the verbatim phrase and the line it
came from, so a reader of the readiness report can check the importer's reading against the
report itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class IntegrationId(enum.StrEnum):
    """atom-monitor's integration ids. Teams and Outlook stay apart: reports claim them apart."""

    GITHUB = "github"
    SLACK = "slack"
    JIRA = "jira"
    LINEAR = "linear"
    ASANA = "asana"
    NOTION = "notion"
    TRELLO = "trello"
    SALESFORCE = "salesforce"
    HUBSPOT = "hubspot"
    TEAMS = "teams"
    OUTLOOK = "outlook"
    FIGMA = "figma"
    XERO = "xero"
    GOOGLE = "google"
    DROPBOX = "dropbox"

    @property
    def pack(self) -> str:
        """The check pack that measures this integration: Teams and Outlook share Microsoft Graph."""
        if self in (IntegrationId.TEAMS, IntegrationId.OUTLOOK):
            return "msgraph"
        return self.value


class ClaimedStatus(enum.StrEnum):
    """What a report claims about an integration, from strongest to weakest claim of working."""

    PRODUCTION_READY = "production_ready"  # "Production Ready", "READY FOR DEPLOYMENT"
    OPERATIONAL = "operational"  # "Fully operational", "VALIDATED"
    COMPLETE = "complete"  # "✅ Complete", "Supported": built, without a word on production
    READY_FOR_ENHANCEMENT = "ready_for_enhancement"  # listed under "Partially Complete"
    PARTIAL = "partial"  # "Partially Complete", "95% READY"
    IN_PROGRESS = "in_progress"
    NEEDS_CONFIGURATION = "needs_configuration"  # "Needs Configuration", "Services to Configure"
    PLANNED = "planned"  # "New Integrations", "Future", "Additional Services"
    NOT_READY = "not_ready"  # "❌", "missing", "not ready"
    UNKNOWN = "unknown"

    @property
    def asserts_working(self) -> bool:
        """True when the claim says the integration works today: evidence can contradict it."""
        return self in (ClaimedStatus.PRODUCTION_READY, ClaimedStatus.OPERATIONAL, ClaimedStatus.COMPLETE)


class Feature(enum.StrEnum):
    """Claimed capabilities, named as readiness judges them (oauth → auth checks, api → retrieval)."""

    OAUTH = "oauth"
    API = "api"
    DATABASE = "database"
    FRONTEND = "frontend"
    WEBHOOKS = "webhooks"
    TESTS = "tests"
    DOCS = "docs"


class Mark(enum.StrEnum):
    """What a status emoji or checkbox says when no word does."""

    DONE = "done"  # ✅ ✔ ☑ 🟢 [x]
    WARN = "warn"  # ⚠️ 🟡 🟠 🔧
    FAIL = "fail"  # ❌ ✖ 🔴 ⛔
    TODO = "todo"  # [ ]

    @property
    def status(self) -> ClaimedStatus:
        """A mark alone is a weak claim: ✅ says built, not production ready."""
        return {
            Mark.DONE: ClaimedStatus.COMPLETE,
            Mark.WARN: ClaimedStatus.PARTIAL,
            Mark.FAIL: ClaimedStatus.NOT_READY,
            Mark.TODO: ClaimedStatus.PLANNED,
        }[self]

    @property
    def state(self) -> str:
        """The feature value a bare mark stands for."""
        return {Mark.DONE: "complete", Mark.WARN: "partial", Mark.FAIL: "missing", Mark.TODO: "pending"}[self]


class Basis(enum.IntEnum):
    """Where a claim was read; a lower value wins when one report says two things."""

    SUBJECT = 0  # the headline status of a report about one integration
    TABLE = 1  # a table row naming the integration, with a status column
    HEADING = 2  # a heading naming the integration and a status
    LIST = 3  # a list item naming it, under a status heading or lead-in


@dataclass(frozen=True, slots=True)
class FeatureClaim:
    feature: Feature
    value: str  # a short state word: complete, available, partial, configured, required, ...
    line: int


@dataclass(frozen=True, slots=True)
class IntegrationClaim:
    """The status one report claims for one integration, with the words it used."""

    integration: IntegrationId
    status: ClaimedStatus
    phrase: str  # verbatim (markdown emphasis removed), e.g. "🟢 Production Ready"
    source: str  # "<file>:<line>"
    line: int
    basis: Basis
    features: tuple[FeatureClaim, ...] = ()

    def feature_map(self) -> dict[str, str]:
        """Features as `Claims.features` wants them: first claim of each feature wins."""
        out: dict[str, str] = {}
        for f in self.features:
            out.setdefault(f.feature.value, f.value)
        return out


@dataclass(frozen=True, slots=True)
class ReportClaim:
    """A claim about the whole report's subject, e.g. "Production Readiness: READY FOR DEPLOYMENT"."""

    key: str
    value: str
    status: ClaimedStatus
    score: float | None  # 0..1 from "98%" or "8.5/10"
    line: int


@dataclass(frozen=True, slots=True)
class Mention:
    """An integration the report names without claiming a status for it."""

    integration: IntegrationId
    line: int


@dataclass(frozen=True, slots=True)
class Repair:
    """How one line's mojibake was undone (ftfy's plan), so the repair can be audited."""

    line: int
    steps: str  # e.g. "encode sloppy-windows-1254 → decode utf-8"
    encoding: str | None  # the single-byte encoding the UTF-8 had been misread as


@dataclass(frozen=True, slots=True)
class ClaimsDocument:
    """Everything one status report claims, plus what the importer could not read cleanly."""

    source: str
    title: str | None
    subject: IntegrationId | None  # the one integration a report is about, if its title names one
    claims: tuple[IntegrationClaim, ...]
    report: tuple[ReportClaim, ...]
    mentions: tuple[Mention, ...]
    warnings: tuple[str, ...]
    repairs: tuple[Repair, ...]

    def claim(self, integration: IntegrationId | str) -> IntegrationClaim | None:
        key = IntegrationId(integration)
        return next((c for c in self.claims if c.integration is key), None)

    def statuses(self) -> dict[str, ClaimedStatus]:
        """integration id → claimed status; the shape tests and summaries compare."""
        return {c.integration.value: c.status for c in self.claims}
