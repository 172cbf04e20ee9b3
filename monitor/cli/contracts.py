"""`verify` and `record`: thin wrappers over monitor/contracts."""

from __future__ import annotations

import argparse

from monitor.cli.checks import quiet_logs
from monitor.cli.common import UsageError, load


def cmd_verify(args: argparse.Namespace) -> int:
    from monitor.contracts import cli as contracts_cli

    if args.offline:
        return contracts_cli.verify_offline(args.contracts, args.specs)
    config = load(args)
    unknown = sorted(set(args.integration) - set(config.integrations))
    if unknown:
        raise UsageError(
            f"unknown integration {', '.join(unknown)} (configured: {', '.join(sorted(config.integrations))})"
        )
    quiet_logs(config)
    return contracts_cli.verify_live(config.select(args.integration) if args.integration else config)


def cmd_record(args: argparse.Namespace) -> int:
    from monitor.contracts import cli as contracts_cli

    config = load(args)
    quiet_logs(config)
    return contracts_cli.record(config, args.integration, args.include_writes, args.out)
