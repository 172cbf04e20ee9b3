# ruff: noqa: RUF001, RUF002, RUF003  (mojibake is made of look-alike characters)
"""The claims importer: the five real status reports in ../shared, and its parts on small inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from monitor.claims import (
    Basis,
    ClaimedStatus,
    IntegrationId,
    count_mojibake,
    import_report,
    parse_report,
    repair_text,
    to_yaml,
)
from monitor.claims.markdown import Kind, classify, split_kv
from monitor.claims.repair import decode
from monitor.claims.vocab import (
    feature_state,
    find_integrations,
    match_status,
    parse_score,
    status_only,
    without_integrations,
)
from monitor.config.models import Claims

REPORTS = Path(__file__).resolve().parents[2] / "shared" / "status-reports"

PR = ClaimedStatus.PRODUCTION_READY
R000 = "000_7e9a605d84f6b05b.txt"
R001 = "001_28491f4486472050.txt"
R002 = "002_89c86071b086e703.txt"
R003 = "003_95ef2bec0b1bcaa8.txt"
R004 = "004_c2d3d100fb8128a7.txt"

# What each report claims, read by hand; the importer must find exactly this.
EXPECTED: dict[str, dict[str, ClaimedStatus]] = {
    R000: {
        **dict.fromkeys(
            (
                "github",
                "linear",
                "asana",
                "notion",
                "slack",
                "teams",
                "jira",
                "figma",
                "trello",
                "salesforce",
            ),
            PR,
        ),
        "outlook": ClaimedStatus.READY_FOR_ENHANCEMENT,  # table under "Partially Complete"
        "google": ClaimedStatus.PARTIAL,  # "Complete Partial Integrations: Enhance Google services"
        "dropbox": ClaimedStatus.PARTIAL,  # "... Finalize Dropbox file operations"
        "hubspot": ClaimedStatus.PLANNED,  # "Future Enhancement Opportunities: Additional Services"
    },
    R001: {  # "Supported Integrations" list, and "Enhanced HubSpot Service | ✅ COMPLETE"
        **dict.fromkeys(("hubspot", "slack", "jira", "linear", "salesforce", "xero"), ClaimedStatus.COMPLETE),
    },
    R002: {"slack": PR},  # a report about Slack alone: "Status: ✅ PRODUCTION READY"
    R003: {  # "✅ OPERATIONAL SYSTEMS", "✅ VALIDATED FEATURES"
        **dict.fromkeys(
            ("github", "google", "slack", "dropbox", "trello", "outlook"), ClaimedStatus.OPERATIONAL
        ),
    },
    R004: {  # "Services to Configure" (✅ marks required ones, not done ones), "New Integrations"
        **dict.fromkeys(
            ("github", "google", "slack", "dropbox", "trello"), ClaimedStatus.NEEDS_CONFIGURATION
        ),
        "teams": ClaimedStatus.PLANNED,
        "salesforce": ClaimedStatus.PLANNED,
    },
}

# Lines as the team wrote them, after repair: one per kind of mojibake in the file.
REPAIRED_LINES = {
    (R000, 12): "### ✅ Fully Complete & Production Ready (10 Integrations)",
    (R000, 3): "## 📋 Executive Summary",  # Windows-1254: "ğŸ“‹"
    (R001, 196): "  • Hubspot: 100.0% (15/15 passed)",  # Windows-1252: "â€¢"
    (R001, 286): "- ❌ Basic health checks only",  # "âŒ": a dropped 0x9D put back
    (R001, 217): "├── enhanced_integration_system.py          # Main system executor",
    (R003, 15): "### ✅ OPERATIONAL SYSTEMS",  # Mac Roman: "‚úÖ"
    (R003, 49): "- Cross-platform coordination (GitHub→Trello→Slack)",
    (R004, 17): "### ⚠️ **Needs Configuration**",  # "âš ï¸": VS16's dropped 0x8F put back
    (R004, 3): "## 🎯 Overview",  # Windows-1252: "ðŸŽ¯"
}
MARKERS = ("â", "ðŸ", "Ã", "‚Ä", "ğŸ", "ï¸", "\uf8ff", "‚ú")


@pytest.fixture(scope="session")
def reports() -> Path:
    """../shared/status-reports; skipped where absent outside CI, an error in CI."""
    if not REPORTS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{REPORTS} is missing in CI")
        pytest.skip("../shared/status-reports is not present")
    return REPORTS


# --------------------------------------------------------------------------- the real reports


def test_every_report_is_covered(reports: Path) -> None:
    """Every file in the shared status-reports folder has expectations here."""
    assert sorted(p.name for p in reports.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_report_yields_exactly_the_expected_claims(reports: Path, name: str) -> None:
    """Each report yields exactly the integrations and statuses a careful human reads in it."""
    assert import_report(reports / name).statuses() == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_repaired_text_has_no_mojibake_and_keeps_line_numbers(reports: Path, name: str) -> None:
    """ftfy-based repair leaves no mojibake marker and exactly as many lines as the file has."""
    text, warning = decode((reports / name).read_bytes())
    repaired = repair_text(text)
    assert warning is None
    assert count_mojibake(text) > 0 and count_mojibake(repaired.text) == 0
    assert not [m for m in MARKERS if m in repaired.text]
    assert len(repaired.text.split("\n")) == len(text.split("\n"))
    lines = repaired.text.split("\n")
    for (file, number), expected in REPAIRED_LINES.items():
        if file == name:
            assert lines[number - 1] == expected


def test_mac_roman_report_is_repaired_as_mac_roman(reports: Path) -> None:
    """Report 003 ("‚úÖ" for ✅) is repaired by decoding its lines as Mac Roman, nothing else."""
    doc = import_report(reports / R003)
    assert doc.repairs and {r.encoding for r in doc.repairs} == {"macroman"}
    assert not [w for w in doc.warnings if "U+FFFD" in w]


def test_lost_bytes_are_reported_not_guessed(reports: Path) -> None:
    """Emoji whose bytes the mangling dropped become U+FFFD with a warning naming their lines."""
    doc = import_report(reports / R000)
    lost = [w for w in doc.warnings if "U+FFFD" in w]
    assert len(lost) == 1 and lost[0].startswith("lines 10, 33, 111,")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_yaml_round_trips_and_validates_as_claims(reports: Path, name: str) -> None:
    """The YAML loads with yaml.safe_load and every entry is a valid `Claims` with the right status."""
    doc = import_report(reports / name)
    data = yaml.safe_load(to_yaml(doc))
    assert set(data) == {"claims"} and set(data["claims"]) == set(EXPECTED[name])
    for integration, entry in data["claims"].items():
        claims = Claims.model_validate(entry)
        claim = doc.claim(integration)
        assert claim is not None
        assert claims.status == EXPECTED[name][integration].value
        assert claims.source == f"{name}:{claim.line}"
        assert claims.features == claim.feature_map()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_claim_cites_a_line_that_names_its_integration(reports: Path, name: str) -> None:
    """A claim's source line names the integration, except a one-integration report's headline."""
    doc = import_report(reports / name)
    text, _ = decode((reports / name).read_bytes())
    lines = repair_text(text).text.split("\n")
    for claim in doc.claims:
        line = lines[claim.line - 1]
        named = find_integrations(line)
        if line.startswith("|"):  # a table row names its integration in the first cell
            named += find_integrations(line.split("|")[1], as_name=True)
        assert claim.basis is Basis.SUBJECT or claim.integration in named


def test_report_000_tables_give_features_and_report_wide_claims(reports: Path) -> None:
    """Report 000's table columns become features, and its headline claims are kept verbatim."""
    doc = import_report(reports / R000)
    github, outlook = doc.claim("github"), doc.claim("outlook")
    assert github is not None and outlook is not None
    assert github.source == f"{R000}:16" and github.phrase == "🟢 Production Ready"
    assert github.feature_map() == {
        "oauth": "complete",
        "api": "complete",
        "database": "complete",
        "frontend": "complete",
    }
    assert outlook.source == f"{R000}:31" and outlook.feature_map()["api"] == "available"
    report = {(r.line, r.key): (r.value, r.status, r.score) for r in doc.report}
    assert report[(7, "Production Readiness")] == ("✅ READY FOR DEPLOYMENT", PR, None)
    assert report[(8, "Overall Completion")] == ("98%", ClaimedStatus.PARTIAL, 0.98)
    assert report[(274, "Status")] == ("🟢 PRODUCTION READY", PR, None)
    assert [m.integration for m in doc.mentions] == []


def test_report_000_contradictions_are_warned(reports: Path) -> None:
    """Salesforce both production ready and a future "Additional Service" is a warning, as is a repeat."""
    warnings = import_report(reports / R000).warnings
    assert any(w.startswith("salesforce: line 226 says planned") for w in warnings)
    assert "line 280 repeats line 274: Status: 🟢 PRODUCTION READY" in warnings


def test_report_002_is_about_slack_and_its_headline_is_the_claim(reports: Path) -> None:
    """A report whose title names one integration gives it the headline status and component features."""
    doc = import_report(reports / R002)
    slack = doc.claim(IntegrationId.SLACK)
    assert doc.subject is IntegrationId.SLACK and slack is not None
    assert (slack.line, slack.basis, slack.phrase) == (7, Basis.SUBJECT, "Status: ✅ PRODUCTION READY")
    assert slack.feature_map() == {
        "api": "complete",
        "webhooks": "complete",
        "frontend": "complete",
        "tests": "complete",
        "docs": "complete",
        "oauth": "complete",
    }
    assert [(m.integration, m.line) for m in doc.mentions] == [(IntegrationId.GITHUB, 549)]


def test_report_003_parenthesised_services_share_the_heading_status(reports: Path) -> None:
    """Services in parentheses after "Authentication: OAuth 2.0" share the ✅ OPERATIONAL SYSTEMS heading."""
    doc = import_report(reports / R003)
    github = doc.claim("github")
    assert github is not None and github.line == 20 and github.phrase == "✅ OPERATIONAL SYSTEMS"
    assert github.feature_map() == {"oauth": "configured"}
    scores = {r.key: r.score for r in doc.report if r.score is not None}
    assert scores == {
        "Overall Readiness Score": 0.85,
        "TECHNICAL READINESS": 0.9,
        "USER READINESS": 0.8,
        "BUSINESS READINESS": 0.9,
    }
    verdict = next(r for r in doc.report if r.key == "OVERALL VERDICT")
    assert verdict.status is PR and verdict.line == 255


def test_report_004_checkmarks_under_services_to_configure_need_configuration(reports: Path) -> None:
    """A ✅ on a service listed "to Configure" marks it required, not configured."""
    doc = import_report(reports / R004)
    github, dropbox, teams = doc.claim("github"), doc.claim("dropbox"), doc.claim("teams")
    assert github is not None and dropbox is not None and teams is not None
    assert (github.line, github.phrase, github.feature_map()) == (
        40,
        "Services to Configure",
        {"oauth": "required"},
    )
    assert dropbox.feature_map() == {"oauth": "optional"}
    assert (teams.line, teams.phrase) == (206, "New Integrations")
    assert [(m.integration, m.line) for m in doc.mentions] == [(IntegrationId.ASANA, 129)]
    assert {r.key: r.status for r in doc.report} == {
        "Completed & Operational": ClaimedStatus.OPERATIONAL,
        "Needs Configuration": ClaimedStatus.NEEDS_CONFIGURATION,
        "Ready for Production": PR,
    }
    assert not doc.warnings  # line 266's unchecked "[ ] OAuth services configured" agrees


# --------------------------------------------------------------------------- status words


@pytest.mark.parametrize(
    ("phrase", "status"),
    [
        ("🟢 Production Ready", PR),
        ("Production-ready", PR),
        ("READY FOR DEPLOYMENT", PR),
        ("Ready for Production", PR),
        ("100% READY", PR),
        ("🟡 Ready for Enhancement", ClaimedStatus.READY_FOR_ENHANCEMENT),
        ("Needs Configuration", ClaimedStatus.NEEDS_CONFIGURATION),
        ("Services to Configure", ClaimedStatus.NEEDS_CONFIGURATION),
        ("✅ 95% READY", ClaimedStatus.PARTIAL),
        ("Partially Complete", ClaimedStatus.PARTIAL),
        ("Complete Partial Integrations", ClaimedStatus.PARTIAL),
        ("Fully Complete & Production Ready", PR),
        ("In Progress", ClaimedStatus.IN_PROGRESS),
        ("New Integrations", ClaimedStatus.PLANNED),
        ("Fully operational", ClaimedStatus.OPERATIONAL),
        ("✅ COMPLETE", ClaimedStatus.COMPLETE),
        ("EXTENSIVELY COMPLETE", ClaimedStatus.COMPLETE),
        ("not ready yet", ClaimedStatus.NOT_READY),
    ],
)
def test_status_words_normalise_to_the_most_cautious_claim(phrase: str, status: ClaimedStatus) -> None:
    """Free-text statuses map to one enum, the more cautious one when a phrase says two things."""
    found = match_status(phrase)
    assert found is not None and found[0] is status


def test_no_status_words_means_no_status() -> None:
    """Text without a status phrase ("Active", "Development workflows") claims nothing."""
    assert match_status("✅ Active") is None and match_status("Development workflows") is None


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("✅ Fully Complete & Production Ready (10 Integrations)", PR),
        ("🔧 Partially Complete (1 Integration)", ClaimedStatus.PARTIAL),
        ("Supported Integrations", ClaimedStatus.COMPLETE),
        ("5.2 Additional Service Integrations", ClaimedStatus.PLANNED),
        ("Software Developer (Alex) - ✅ 98% READY", None),
        ("Production-Ready Architecture", None),
        (without_integrations("Complete Outlook suite implementation"), None),
    ],
)
def test_only_a_text_that_is_just_a_status_passes_it_on(text: str, status: ClaimedStatus | None) -> None:
    """A heading or label applies its status to what it lists only if it says nothing else."""
    assert status_only(text) is status


def test_feature_states_and_scores() -> None:
    """Feature cells reduce to a state word (else their mark's), scores to a fraction."""
    assert feature_state("✅ Available") == "available"
    assert feature_state("🟡 Partially complete") == "partial"
    assert feature_state("✅") == "complete"
    assert feature_state("see docs") is None
    assert (parse_score("98%"), parse_score("8.5/10"), parse_score("v2.0.0")) == (0.98, 0.85, None)


def test_integration_names_are_whole_words_and_teams_needs_a_name_slot() -> None:
    """File names are not mentions, and "Teams" counts only as a name, not in "Projects, Teams"."""
    assert find_integrations("GitHubDesktopManager.tsx, JiraDesktopManager.tsx") == []
    assert find_integrations("Issues, Projects, Teams, Cycles") == []
    assert find_integrations("**Teams**", as_name=True) == [IntegrationId.TEAMS]
    assert find_integrations("Microsoft Teams and Gmail") == [IntegrationId.TEAMS, IntegrationId.GOOGLE]
    assert IntegrationId.TEAMS.pack == IntegrationId.OUTLOOK.pack == "msgraph"


# --------------------------------------------------------------------------- markdown and parsing


def test_lines_are_classified_and_code_fences_skipped() -> None:
    """Headings, table rows, checkbox items and fenced code are told apart, numbered from 1."""
    lines = list(classify("# T\n| a | b |\n|---|---|\n- [ ] x\n```\n| c | d |\n```\ntext"))
    assert [ln.kind for ln in lines] == [
        Kind.HEADING,
        Kind.TABLE_ROW,
        Kind.TABLE_RULE,
        Kind.ITEM,
        Kind.CODE,
        Kind.CODE,
        Kind.CODE,
        Kind.TEXT,
    ]
    assert lines[3].checked is False and lines[3].text == "x" and lines[1].cells == ("a", "b")


@pytest.mark.parametrize(
    ("text", "kv"),
    [
        ("**Production Readiness**: ✅ **READY**", ("Production Readiness", "✅ **READY**")),
        ("✅ **Production Ready**: Deployed", ("Production Ready", "Deployed")),
        ("**Services to Configure:**", ("Services to Configure", "")),
        ("**Status: ✅ PRODUCTION READY**", ("Status", "✅ PRODUCTION READY")),
        ("*Implementation Status: COMPLETE ✅*", ("Implementation Status", "COMPLETE ✅")),
        ("1. **HubSpot** - Full CRM", None),
    ],
)
def test_key_value_lines_are_split(text: str, kv: tuple[str, str] | None) -> None:
    """The bold key-value spellings of status reports split into key and value."""
    assert split_kv(text) == kv


TABLE = """# Status

### ✅ Done (2 Integrations)

| Integration | OAuth | Database | Status |
|---|---|---|---|
| **Jira** | ✅ Complete | 🟡 Partial | 🟢 Production Ready |
| **Figma** | ✅ Complete | ❌ | ✅ |
| Zendesk | ✅ | ✅ | ✅ |
"""


def test_table_rows_give_status_features_and_heading_fallback() -> None:
    """A row's Status cell decides; without status words the status heading above the table does."""
    doc = parse_report(TABLE, "t.md")
    assert doc.statuses() == {"jira": PR, "figma": ClaimedStatus.COMPLETE}
    jira, figma = doc.claim("jira"), doc.claim("figma")
    assert jira is not None and figma is not None
    assert (jira.source, jira.basis) == ("t.md:7", Basis.TABLE)
    assert jira.feature_map() == {"oauth": "complete", "database": "partial"}
    assert figma.feature_map() == {"oauth": "complete", "database": "missing"}
    assert figma.phrase == "✅ Done (2 Integrations)"


LISTS = """# Plan

### Software Developer (Alex) - ✅ 98% READY
- GitHub integration with issue tracking

### 1.1 OAuth Service Configuration
**Services to Configure:**
- ✅ **GitHub** (REQUIRED) - Development workflows
- ⚠️ Dropbox (Optional) - File storage

### Long-term
1. **Complete Partial Integrations**
   - Complete Outlook suite implementation
2. **Additional Services**: Salesforce, HubSpot

### Checklist
- [ ] OAuth services configured (Slack)
- [x] Notion sync
"""


def test_list_items_take_their_status_from_context_not_from_marks() -> None:
    """Items inherit a status-only lead-in, parent or heading; a persona heading passes nothing on."""
    doc = parse_report(LISTS, "p.md")
    assert doc.statuses() == {
        "github": ClaimedStatus.NEEDS_CONFIGURATION,
        "dropbox": ClaimedStatus.NEEDS_CONFIGURATION,
        "outlook": ClaimedStatus.PARTIAL,
        "salesforce": ClaimedStatus.PLANNED,
        "hubspot": ClaimedStatus.PLANNED,
        "slack": ClaimedStatus.NEEDS_CONFIGURATION,
        "notion": ClaimedStatus.COMPLETE,
    }
    github = doc.claim("github")
    assert github is not None and github.line == 8 and github.feature_map() == {"oauth": "required"}


def test_yaml_of_an_empty_report_is_an_empty_mapping() -> None:
    """A report without claims still renders YAML that loads as `claims: {}`."""
    assert yaml.safe_load(to_yaml(parse_report("# Nothing here\n", "n.md"))) == {"claims": {}}


# --------------------------------------------------------------------------- mojibake on small inputs


@pytest.mark.parametrize(
    ("mangled", "fixed"),
    [
        ("| **Jira** | âœ… Complete |", "| **Jira** | ✅ Complete |"),  # Windows-1252
        ("## ğŸ“‹ Summary", "## 📋 Summary"),  # Windows-1254
        ("### ‚úÖ OPERATIONAL", "### ✅ OPERATIONAL"),  # Mac Roman, which ftfy's heuristic misses
        ("- âš\xa0ï¸ Dropbox", "- ⚠️ Dropbox"),  # VS16 with its 0x8F dropped
        ("café — naïve “quotes”", "café — naïve “quotes”"),  # clean text stays as it is
    ],
)
def test_mojibake_is_repaired(mangled: str, fixed: str) -> None:
    """Each kind of mojibake in the reports is repaired, and clean text is left alone."""
    assert repair_text(mangled).text == fixed


def test_unrecoverable_bytes_become_replacement_characters_with_a_warning() -> None:
    """A dropped byte in a decorative emoji gives U+FFFD and a warning, never a guessed emoji."""
    repaired = repair_text("ok\n## ğŸ” Test Results")
    assert repaired.text == "ok\n## \ufffd Test Results"
    assert repaired.warnings and repaired.warnings[0].startswith("line 2:")


def test_non_utf8_files_are_decoded_with_a_warning(tmp_path: Path) -> None:
    """A report saved in Windows-1252 is still read, and the importer says how it decoded it."""
    path = tmp_path / "s.md"
    table = "| Integration | Status |\n|---|---|\n| Xero | Production Ready — café |\n"
    path.write_bytes(table.encode("cp1252"))
    doc = import_report(path)
    assert doc.statuses() == {"xero": PR} and "not UTF-8" in doc.warnings[0]
