"""What every command shares: exit codes, usage errors, loading the config, reading durations."""

from __future__ import annotations

import argparse

from monitor.config import Config, config_path, load_config

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake on the command line that argparse cannot see (an unknown integration name)."""


def load(args: argparse.Namespace) -> Config:
    return load_config(config_path(getattr(args, "file", None) or args.config))


def duration(text: str, flag: str) -> float:
    from monitor.config.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None
