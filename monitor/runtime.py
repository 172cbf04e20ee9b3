"""The process the daemon runs in: which event loop, and how the GIL is shared.

Both were measured (bench/README.md): uvloop cuts the event loop's own share of every check, and a
shorter GIL switch interval bounds how long a worker thread (the store's writer, the readiness
document, the report writer) can keep a due check waiting for the interpreter.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

# CPython's default is 5 ms: the very figure our p99 schedule-lag target allows in all.
_SWITCH_INTERVAL_S = 0.001


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop where it is installed (Linux and macOS wheels), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - every supported platform has wheels
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def tune_for_daemon() -> None:
    sys.setswitchinterval(_SWITCH_INTERVAL_S)
