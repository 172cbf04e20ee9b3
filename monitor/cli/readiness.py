"""Commands about readiness: `report` (and `--diff`), `gate`, and `claims import`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from monitor.cli.common import EXIT_FAILED, EXIT_OK, UsageError, duration, load


def cmd_report(args: argparse.Namespace) -> int:
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
    config = load(args)
    window = duration(args.window, "--window") if args.window else None
    doc = asyncio.run(reporting.from_store(config, window_s=window))
    for path in write(doc, Path(args.out), formats):
        print(path)
    return EXIT_OK


def cmd_gate(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime
    from pathlib import Path

    from monitor import reporting
    from monitor.gate import judge, junit

    config = load(args)
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
    max_age = duration(args.max_evidence_age, "--max-evidence-age") if args.max_evidence_age else None
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


def cmd_claims_import(args: argparse.Namespace) -> int:
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
