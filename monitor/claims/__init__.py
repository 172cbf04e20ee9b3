"""The claims importer: what teams' status reports claim, read into atom-monitor's terms.

`atom-monitor claims import STATUS.md` uses `import_report` and `to_yaml`: each integration the
report claims a status for becomes a `Claims` entry (status, "<file>:<line>", features) that
readiness later sets beside measured evidence. The reports are real and messy (tables of ✅/🟡/🟢,
free-text statuses, UTF-8 turned into mojibake), so the importer repairs the text with ftfy,
reads conservatively (a claim is never promoted), and keeps every phrase and line it relied on.

Modules: `model` (types), `repair` (mojibake), `markdown` (lines), `vocab` (words → enums),
`parse` (rules), `render` (YAML).
"""

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
from monitor.claims.parse import import_report, parse_report
from monitor.claims.render import to_yaml
from monitor.claims.repair import count_mojibake, repair_text

__all__ = [
    "Basis",
    "ClaimedStatus",
    "ClaimsDocument",
    "Feature",
    "FeatureClaim",
    "IntegrationClaim",
    "IntegrationId",
    "Mark",
    "Mention",
    "Repair",
    "ReportClaim",
    "count_mojibake",
    "import_report",
    "parse_report",
    "repair_text",
    "to_yaml",
]
