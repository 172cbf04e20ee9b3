"""The argparse tree: every command, its flags and help, bound to its function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from monitor import __version__
from monitor.cli.checks import cmd_run, cmd_sandbox, cmd_serve
from monitor.cli.common import EXIT_USAGE
from monitor.cli.contracts import cmd_record, cmd_verify
from monitor.cli.readiness import cmd_claims_import, cmd_gate, cmd_report
from monitor.cli.settings import cmd_schema, cmd_validate


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="F", help="config file (default: $ATOM_MONITOR_CONFIG or ./config.yaml)"
    )
    p = argparse.ArgumentParser(prog="atom-monitor", description="Integration readiness, measured.")
    p.add_argument("--version", action="version", version=f"atom-monitor {__version__}")
    sub = p.add_subparsers(metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="run every selected check once and print the results")
    run.add_argument(
        "--once", action="store_true", required=True, help="run once and exit (the daemon is `serve`)"
    )
    run.add_argument(
        "--integration",
        action="append",
        default=[],
        metavar="NAME",
        help="only this integration (repeatable)",
    )
    run.add_argument("--format", choices=("table", "json"), default="table")
    run.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), help="default: warning for run"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress display on stderr")
    run.set_defaults(func=cmd_run)

    serve = sub.add_parser("serve", parents=[common], help="the daemon: scheduler, /metrics and the HTTP API")
    serve.add_argument("--listen", metavar="HOST:PORT", help="default: monitor.listen (127.0.0.1:9400)")
    serve.set_defaults(func=cmd_serve)

    report = sub.add_parser("report", parents=[common], help="write readiness.json and readiness.html")
    report.add_argument("--out", metavar="DIR", default="reports/out", help="default: reports/out")
    report.add_argument("--format", default="json,html", help="json, html or both (default json,html)")
    report.add_argument("--window", metavar="DURATION", help="default: policy.window")
    report.add_argument(
        "--diff", nargs=2, metavar=("OLD.json", "NEW.json"), help="what changed between two reports"
    )
    report.set_defaults(func=cmd_report)

    gate = sub.add_parser(
        "gate", parents=[common], help="CI gate: exit 0 only when every gated integration is ready"
    )
    gate.add_argument("--policy", metavar="F", help="YAML file with a policy (replaces config's policy)")
    gate.add_argument(
        "--integration", action="append", default=[], metavar="NAME", help="gate only these (repeatable)"
    )
    gate.add_argument("--max-evidence-age", metavar="DURATION", help="default: policy.max_evidence_age")
    gate.add_argument("--junit", metavar="F", help="write JUnit XML: one testcase per integration x check")
    gate.add_argument("--allow-unknown", action="store_true", help="let `unknown` (too little evidence) pass")
    source = gate.add_mutually_exclusive_group()
    source.add_argument("--from-report", metavar="F", help="judge a saved readiness.json")
    source.add_argument("--fresh", action="store_true", help="run the checks now and judge that run")
    gate.set_defaults(func=cmd_gate)

    cfg = sub.add_parser("config", help="validate config.yaml or print its JSON Schema")
    cfg.set_defaults(func=_usage(cfg))
    cfg_sub = cfg.add_subparsers(metavar="ACTION")
    validate = cfg_sub.add_parser(
        "validate", parents=[common], help="check config.yaml and its packs; exit 2 on mistakes"
    )
    validate.add_argument(
        "file",
        nargs="?",
        help="config file (default: --config, then $ATOM_MONITOR_CONFIG, then ./config.yaml)",
    )
    validate.set_defaults(func=cmd_validate)
    schema = cfg_sub.add_parser("schema", parents=[common], help="print the JSON Schema of config.yaml")
    schema.set_defaults(func=cmd_schema)

    claims = sub.add_parser("claims", help="import the claims a team's status report makes")
    claims.set_defaults(func=_usage(claims))
    claims_sub = claims.add_subparsers(metavar="ACTION")
    claims_import = claims_sub.add_parser(
        "import", help="read a markdown status report; print (or write) its claims as YAML"
    )
    claims_import.add_argument("report", metavar="STATUS.md", help="the status report (any encoding)")
    claims_import.add_argument(
        "--out", metavar="F", help="write here (list it under claims_files: in config.yaml); default stdout"
    )
    claims_import.set_defaults(func=cmd_claims_import)

    verify = sub.add_parser("verify", parents=[common], help="prove the consumer contracts (contracts/)")
    mode = verify.add_mutually_exclusive_group(required=True)
    mode.add_argument("--offline", action="store_true", help="against the published specs and cassettes")
    mode.add_argument("--live", action="store_true", help="call the live operations and report drift")
    verify.add_argument(
        "--integration", action="append", default=[], metavar="NAME", help="--live: only these (repeatable)"
    )
    verify.add_argument(
        "--contracts", metavar="DIR", help="--offline: contracts directory (default ./contracts)"
    )
    verify.add_argument(
        "--specs",
        metavar="DIR",
        help="--offline: provider specs (default $ATOM_MONITOR_SPECS, ../shared/provider-specs)",
    )
    verify.set_defaults(func=cmd_verify)

    record = sub.add_parser(
        "record", parents=[common], help="record scrubbed cassettes of a contract's calls"
    )
    record.add_argument("integration", metavar="INTEGRATION")
    record.add_argument("--include-writes", action="store_true", help="also record the pack's CRUD lifecycle")
    record.add_argument("--out", metavar="DIR", help="contracts directory to write to (default ./contracts)")
    record.set_defaults(func=cmd_record)

    sandbox = sub.add_parser("sandbox", parents=[common], help="run the simulated providers alone")
    sandbox.add_argument("--listen", default="127.0.0.1:9410", metavar="HOST:PORT")
    sandbox.set_defaults(func=cmd_sandbox)
    return p


def _usage(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """A command group given no action shows its own help (not the top level's) and exits 2."""

    def show(_args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return EXIT_USAGE

    return show
