"""The process the daemon runs in: which event loop, and how the GIL is shared.

All three were measured (bench/README.md): uvloop cuts the event loop's own share of every check,
a shorter GIL switch interval bounds how long a worker thread (the store's writer, the readiness
document, the report writer) can keep a due check waiting for the interpreter, and a larger
young-generation threshold stops the garbage collector from running several times per check.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable

# CPython's default is 5 ms: the very figure our p99 schedule-lag target allows in all.
_SWITCH_INTERVAL_S = 0.001
# CPython collects the youngest generation every 700 allocations; a check run allocates
# hundreds of short-lived objects, so the collector ran several times per check and its pauses
# were 8% of the daemon's time at 1,000 checks/s. Every 20,000 allocations cut GC time from
# ~0.65 s to ~0.03 s per 8 s window and p99 lag by a third (bench/README.md). Young cycles are
# still collected young; the older generations keep CPython's ratios.
_GC_THRESHOLDS = (20_000, 20, 10)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop where it is installed (Linux and macOS wheels), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - every supported platform has wheels
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def tune_for_daemon() -> None:
    sys.setswitchinterval(_SWITCH_INTERVAL_S)
    gc.set_threshold(*_GC_THRESHOLDS)
