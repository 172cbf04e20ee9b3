"""`atom-monitor`: the command line. Exit codes: 0 ok, 1 checks failed, 2 usage or config error,
3 internal error. A config mistake prints one line per mistake and never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from monitor import __version__
from monitor.config import Config, ConfigError, config_path, load_config
from monitor.config.models import ConfigFile
from monitor.model import CheckResult, Outcome

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake on the command line that argparse cannot see (an unknown integration name)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.func(args)
        return code
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"atom-monitor: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("ATOM_MONITOR_DEBUG"):
            raise
        print(
            f"atom-monitor: internal error: {type(exc).__name__}: {exc} "
            "(set ATOM_MONITOR_DEBUG=1 for a traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _parser() -> argparse.ArgumentParser:
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
    run.set_defaults(func=_cmd_run)

    serve = sub.add_parser("serve", parents=[common], help="the daemon: scheduler, /metrics and the HTTP API")
    serve.add_argument("--listen", metavar="HOST:PORT", help="default: monitor.listen (127.0.0.1:9400)")
    serve.set_defaults(func=_cmd_serve)

    report = sub.add_parser("report", parents=[common], help="write readiness.json and readiness.html")
    report.add_argument("--out", metavar="DIR", default="reports/out", help="default: reports/out")
    report.add_argument("--format", default="json,html", help="json, html or both (default json,html)")
    report.add_argument("--window", metavar="DURATION", help="default: policy.window")
    report.add_argument(
        "--diff", nargs=2, metavar=("OLD.json", "NEW.json"), help="what changed between two reports"
    )
    report.set_defaults(func=_cmd_report)

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
    gate.set_defaults(func=_cmd_gate)

    cfg = sub.add_parser("config", help="validate config.yaml or print its JSON Schema")
    cfg_sub = cfg.add_subparsers(metavar="ACTION")
    validate = cfg_sub.add_parser(
        "validate", parents=[common], help="check config.yaml and its packs; exit 2 on mistakes"
    )
    validate.add_argument(
        "file",
        nargs="?",
        help="config file (default: --config, then $ATOM_MONITOR_CONFIG, then ./config.yaml)",
    )
    validate.set_defaults(func=_cmd_validate)
    schema = cfg_sub.add_parser("schema", parents=[common], help="print the JSON Schema of config.yaml")
    schema.set_defaults(func=_cmd_schema)

    claims = sub.add_parser("claims", help="import the claims a team's status report makes")
    claims_sub = claims.add_subparsers(metavar="ACTION")
    claims_import = claims_sub.add_parser(
        "import", help="read a markdown status report; print (or write) its claims as YAML"
    )
    claims_import.add_argument("report", metavar="STATUS.md", help="the status report (any encoding)")
    claims_import.add_argument(
        "--out", metavar="F", help="write here (list it under claims_files: in config.yaml); default stdout"
    )
    claims_import.set_defaults(func=_cmd_claims_import)

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
    verify.set_defaults(func=_cmd_verify)

    record = sub.add_parser(
        "record", parents=[common], help="record scrubbed cassettes of a contract's calls"
    )
    record.add_argument("integration", metavar="INTEGRATION")
    record.add_argument("--include-writes", action="store_true", help="also record the pack's CRUD lifecycle")
    record.add_argument("--out", metavar="DIR", help="contracts directory to write to (default ./contracts)")
    record.set_defaults(func=_cmd_record)

    sandbox = sub.add_parser("sandbox", parents=[common], help="run the simulated providers alone")
    sandbox.add_argument("--listen", default="127.0.0.1:9410", metavar="HOST:PORT")
    sandbox.set_defaults(func=_cmd_sandbox)
    return p


def _load(args: argparse.Namespace) -> Config:
    return load_config(config_path(getattr(args, "file", None) or args.config))


def _cmd_claims_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from monitor.claims import import_report, to_yaml

    source = Path(args.report)
    if not source.is_file():
        raise UsageError(f"{source}: no such status report")
    doc = import_report(source)
    text = to_yaml(doc)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"{out}: {len(doc.claims)} claims from {source.name}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    config = _load(args)
    print(f"{config.source}: ok ({len(config.integrations)} integrations, {len(config.checks)} checks)")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(config_schema(), indent=2))
    return EXIT_OK


def config_schema() -> dict[str, object]:
    schema = ConfigFile.model_json_schema(by_alias=True)
    # `sandbox: true` is shorthand for `sandbox: {enabled: true}` (a BeforeValidator): say so.
    props: Any = schema["properties"]
    props["sandbox"] = {"anyOf": [{"type": "boolean"}, props["sandbox"]], "default": False}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "atom-monitor config.yaml"
    return schema


def _cmd_run(args: argparse.Namespace) -> int:
    from monitor import logs
    from monitor.scrub import Scrubber

    config = _load(args)
    if args.integration:
        unknown = sorted(set(args.integration) - set(config.integrations))
        if unknown:
            raise UsageError(
                f"unknown integration {', '.join(unknown)} "
                f"(configured: {', '.join(sorted(config.integrations))})"
            )
        config = config.select(args.integration)
    logs.configure(args.log_level or "warning", Scrubber(config.secrets))
    results = asyncio.run(_run_once(config, progress=not args.no_progress))
    from monitor.output import print_json, print_table

    if args.format == "json":
        print_json(results, sys.stdout)
    else:
        print_table(results, sys.stdout)
    bad = any(r.outcome in (Outcome.FAIL, Outcome.ERROR) for r in results)
    return EXIT_FAILED if bad else EXIT_OK


async def _run_once(config: Config, progress: bool) -> list[CheckResult]:
    from monitor.engine import start_engine
    from monitor.output import ProgressDisplay

    async with start_engine(config) as engine:
        with ProgressDisplay(len(engine.config.checks), enabled=progress) as display:
            return await engine.run_once(on_result=display.advance)


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from monitor import reporting
    from monitor.report import diff, write

    if args.diff:
        old, new = (reporting.read_report(Path(p)) for p in args.diff)
        changes = diff(old, new)
        print("\n".join(changes) if changes else "no changes")
        return EXIT_OK
    formats = {f.strip() for f in args.format.split(",") if f.strip()}
    if not formats or formats - {"json", "html"}:
        raise UsageError(f"--format {args.format!r}: use json, html or json,html")
    config = _load(args)
    window = _duration(args.window, "--window") if args.window else None
    doc = asyncio.run(reporting.from_store(config, window_s=window))
    for path in write(doc, Path(args.out), formats):
        print(path)
    return EXIT_OK


def _cmd_gate(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime
    from pathlib import Path

    from monitor import reporting
    from monitor.gate import judge, junit

    config = _load(args)
    if args.policy:
        config = reporting.with_policy(config, Path(args.policy))
    unknown = sorted(set(args.integration) - set(config.integrations))
    if unknown:
        raise UsageError(
            f"unknown integration {', '.join(unknown)} (configured: {', '.join(sorted(config.integrations))})"
        )
    if args.from_report:
        doc = reporting.read_report(Path(args.from_report))
    elif args.fresh:
        doc = asyncio.run(reporting.fresh(config.select(args.integration) if args.integration else config))
    else:
        doc = asyncio.run(reporting.from_store(config))
    max_age = _duration(args.max_evidence_age, "--max-evidence-age") if args.max_evidence_age else None
    if max_age is None and not args.from_report:
        max_age = config.file.policy.max_evidence_age
    result = judge(
        doc,
        integrations=args.integration,
        max_evidence_age_s=max_age,
        now=datetime.now(UTC),
        allow_unknown=args.allow_unknown,
    )
    if args.junit:
        Path(args.junit).parent.mkdir(parents=True, exist_ok=True)
        Path(args.junit).write_text(junit(doc, args.integration), encoding="utf-8")
    for line in result.lines:
        print(line)
    gated = [i for i in doc["integrations"] if not args.integration or i["name"] in args.integration]
    print(
        f"gate {'passed' if result.passed else 'FAILED'}: {len(gated)} integrations judged", file=sys.stderr
    )
    return EXIT_OK if result.passed else EXIT_FAILED


def _duration(text: str, flag: str) -> float:
    from monitor.config.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def _cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from monitor import logs
    from monitor.daemon import DAEMON
    from monitor.scrub import Scrubber
    from monitor.server import create_app

    config = _load(args)
    listen = args.listen or config.file.monitor.listen
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--listen {listen!r} must be HOST:PORT, e.g. 127.0.0.1:9400")
    logs.configure(config.file.monitor.log_level.value, Scrubber(config.secrets))
    app = create_app(config.source, config)

    async def on_startup(app: web.Application) -> None:
        daemon = app[DAEMON]

        def reload() -> None:
            task = asyncio.create_task(daemon.reload())
            daemon.background.add(task)
            task.add_done_callback(daemon.background.discard)

        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)

    app.on_startup.append(on_startup)
    base = f"http://{host or '127.0.0.1'}:{port}"
    print(
        f"atom-monitor {__version__} serving on {base}: /metrics, /healthz, /readyz, /api/v1/results, "
        f"/api/v1/openapi.json ({len(config.checks)} checks; Ctrl-C stops)",
        flush=True,
    )
    web.run_app(
        app, host=host or "127.0.0.1", port=int(port), print=None, access_log=None, shutdown_timeout=5
    )
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    from monitor.contracts import cli as contracts_cli

    if args.offline:
        return contracts_cli.verify_offline(args.contracts, args.specs)
    config = _load(args)
    unknown = sorted(set(args.integration) - set(config.integrations))
    if unknown:
        raise UsageError(
            f"unknown integration {', '.join(unknown)} (configured: {', '.join(sorted(config.integrations))})"
        )
    _quiet_logs(config)
    return contracts_cli.verify_live(config.select(args.integration) if args.integration else config)


def _cmd_record(args: argparse.Namespace) -> int:
    from monitor.contracts import cli as contracts_cli

    config = _load(args)
    _quiet_logs(config)
    return contracts_cli.record(config, args.integration, args.include_writes, args.out)


def _quiet_logs(config: Config) -> None:
    from monitor import logs
    from monitor.scrub import Scrubber

    logs.configure("warning", Scrubber(config.secrets))


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from monitor.sandbox import server

    async def serve() -> None:
        running = await server.start(args.listen)
        print(f"sandbox listening on http://{running.host}:{running.port}", flush=True)
        for name, url in sorted(running.urls.items()):
            print(f"  {name:<10} {url}   (credential: sandbox-{name}-token)", flush=True)
        print(f"  control    {running.control_url}/faults", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await running.stop()

    asyncio.run(serve())
    return EXIT_OK
