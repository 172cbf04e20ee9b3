"""Durations as users write them in YAML: `500ms`, `10s`, `5m`, `1h`, `30d`, or a plain number of seconds."""

from __future__ import annotations

import functools
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")


def parse_duration(value: object) -> float:
    """Return seconds. Raises ValueError with the message a user sees in `config validate`."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r} (use a number with a unit: 500ms, 10s, 5m, 1h, 1d)")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"invalid duration {value!r} (must not be negative)")
        return float(value)
    if isinstance(value, str):
        m = _PATTERN.match(value.strip())
        if m:
            return float(m.group(1)) * _UNITS[m.group(2)]
    raise ValueError(f"invalid duration {value!r} (use a number with a unit: 500ms, 10s, 5m, 1h, 1d)")


# Pure, and a check run spells its latency budget every time: a few hundred distinct values.
@functools.lru_cache(maxsize=1024)
def format_duration(seconds: float) -> str:
    """The shortest exact spelling, so a report shows `24h`, not `86400.0`."""
    if seconds > 0 and seconds < 1:
        return f"{round(seconds * 1000)}ms"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
