"""`atom-monitor`: the command line. Exit codes: 0 ok, 1 checks failed, 2 usage or config error,
3 internal error. A config mistake prints one line per mistake and never a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from monitor.cli.common import EXIT_INTERNAL, EXIT_USAGE, UsageError
from monitor.cli.parser import build_parser
from monitor.cli.settings import config_schema
from monitor.config import ConfigError

__all__ = ["config_schema", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
