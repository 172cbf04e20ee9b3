"""Turn a cProfile of the daemon's load window into Markdown: where the event loop's CPU goes.

py-spy is not installed on these machines, so the daemon profiles itself with cProfile. Its clock
is the wall clock (a CPU-time clock costs a syscall per call and event and swamps the run), so
time waiting in epoll is dropped from the total, and a descheduled moment on a busy machine or a
garbage-collector pause is charged to whatever function was running. cProfile also inflates
Python calls, so absolute µs are high; the shares are what to read. Only the main thread is
profiled: aiosqlite's worker thread is reported apart.
"""

from __future__ import annotations

import pstats
from pathlib import Path
from typing import Any

# (area, substrings of a function's file path or name); the first match wins.
_AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("structlog logging (render, scrub, write)", ("structlog/", "monitor/logs.py")),
    (
        "readiness assessment (readiness, reporting, report, reading results back)",
        (
            "monitor/readiness.py",
            "monitor/reporting.py",
            "monitor/report.py",
            "monitor/evidence.py",
            "monitor/store_window.py",
            "monitor/model.py:from_dict",
        ),
    ),
    (
        "/metrics exposition (prometheus_client rendering)",
        (
            "prometheus_client/exposition.py",
            "prometheus_client/openmetrics/",
            "prometheus_client/validation.py",
            "prometheus_client/utils.py",
            "prometheus_client/registry.py",
            "prometheus_client/metrics_core.py",
            "monitor/metrics_render.py",
        ),
    ),
    (
        "metrics updates (Metrics.observe, the series table)",
        ("prometheus_client/", "monitor/metrics.py", "monitor/metrics_series.py"),
    ),
    ("scrubbing (monitor/scrub.py)", ("monitor/scrub.py",)),
    ("JSON Schema validation (jsonschema)", ("jsonschema/", "referencing/", "rpds")),
    (
        "store (SQLAlchemy, aiosqlite; main-thread side)",
        ("sqlalchemy/", "aiosqlite/", "monitor/store.py", "monitor/store_schema.py", "greenlet"),
    ),
    ("aiohttp client (request, connection, parse)", ("aiohttp/", "yarl/", "multidict/", "propcache/")),
    ("asyncio event loop, tasks, locks, timers", ("asyncio/", "selectors.py")),
    ("assertions and templates (monitor/probes, template)", ("monitor/probes/", "monitor/template.py")),
    (
        "runner, scheduler and sink",
        ("monitor/runner.py", "monitor/scheduler.py", "monitor/budget.py", "monitor/sink.py"),
    ),
    ("auth (monitor/auth.py)", ("monitor/auth.py",)),
    ("model (CheckResult, to_dict)", ("monitor/model.py",)),
    ("json (stdlib)", ("json/",)),
    ("regular expressions (re)", ("re/", "'re.", "re.Pattern", "_sre", "sre_")),
    ("uuid, random, datetime, hashing, urllib", ("uuid.py", "random.py", "datetime", "hashlib", "urllib/")),
    ("bench harness (lag recorder, counters)", ("bench/",)),
]

# Synchronous entry points: their cumulative time is sound. (Coroutines' is not: SQLAlchemy's
# greenlet switches confuse cProfile's call stack, so no async function is listed.)
_ENTRY_POINTS = [
    ("monitor/metrics_render.py", "_check_slice", "/metrics render (one scrape in the window)"),
    ("monitor/store_schema.py", "from_row", "stored rows back to CheckResults"),
    ("monitor/reporting.py", "document", "readiness: assess + build the document"),
    ("monitor/probes/expect.py", "evaluate", "assertions: evaluate"),
    ("monitor/probes/context.py", "evidence", "evidence: headers, scrubbed URL and body"),
    ("structlog/_native.py", "meth", "log lines (structlog: render, scrub, write)"),
    ("monitor/metrics.py", "observe", "Metrics.observe"),
    ("monitor/store_schema.py", "to_row", "store: CheckResult to row (to_dict)"),
    ("monitor/scrub.py", "text", "Scrubber.text (all callers)"),
    ("monitor/runner.py", "new_run_id", "new_run_id"),
]


def area_of(key: tuple[str, int, str]) -> str:
    filename, _, name = key
    text = f"{filename}:{name}"
    for area, needles in _AREAS:
        if any(n in text for n in needles):
            return area
    if filename == "~":
        return "C builtins called directly (str, dict, socket, ...)"
    return "other"


def areas(raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]) -> dict[str, float]:
    """Own time by area. A C function (json.dumps, re.sub, socket.send) is charged to the areas
    of its Python callers, in proportion to the time each caller spent in it."""
    out: dict[str, float] = {}
    for key, (_, _, tottime, _, callers) in raw.items():
        shares = [(area_of(c), v[2]) for c, v in callers.items()] if key[0] == "~" and callers else []
        spread = sum(t for _, t in shares)
        if not spread:
            shares, spread = [(area_of(key), tottime)], tottime or 1.0
        for area, t in shares:
            out[area] = out.get(area, 0.0) + tottime * t / spread
    return out


def summarize(path: Path, result: dict[str, Any]) -> str:
    """Markdown: shares by area, per-check cost of the main entry points, top functions."""
    stats = pstats.Stats(str(path))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    # Waiting in epoll is idle time on the wall clock, not work: leave it out of the total.
    raw = {k: v for k, v in raw.items() if "poll' of 'select.epoll" not in k[2]}
    total = sum(v[2] for v in raw.values()) or 1.0
    runs = max(1, int(result["runs"]))
    by_area = areas(raw)
    lines = [
        f"cProfile of a separate {result['window_s']:.0f} s window at {result['checks_per_s']:.0f} checks/s: "
        f"{runs:,} checks, {total:.2f} s of profiled main-thread CPU "
        f"({total / runs * 1e6:.0f} µs per check, profiler overhead included). "
        "Other threads in that run: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in result.get("threads", {}).items())
        + ".",
        "",
        "| area (own time of its functions; C calls charged to their Python caller) "
        "| share of main-thread CPU |",
        "| --- | --- |",
    ]
    for area, t in sorted(by_area.items(), key=lambda kv: -kv[1]):
        if t / total < 0.005:
            continue
        lines.append(f"| {area} | {t / total:.0%} |")
    lines += [
        "",
        "| synchronous entry point (cumulative) | share | µs per check (profiled) |",
        "| --- | --- | --- |",
    ]
    for file_part, func, label in _ENTRY_POINTS:
        cum = sum(v[3] for k, v in raw.items() if k[0].endswith(file_part) and k[2] == func)
        if cum:
            lines.append(f"| {label} | {cum / total:.0%} | {cum / runs * 1e6:.0f} |")
    lines += [
        "",
        "Top functions by own time:",
        "",
        "| function | own time share | calls per check |",
        "| --- | --- | --- |",
    ]
    for key, (_, ncalls, tottime, _, _) in sorted(raw.items(), key=lambda kv: -kv[1][2])[:20]:
        lines.append(f"| `{_name(key)}` | {tottime / total:.1%} | {ncalls / runs:.1f} |")
    return "\n".join(lines)


def _name(key: tuple[str, int, str]) -> str:
    filename, line, func = key
    if filename == "~":
        return func
    parts = Path(filename).parts
    short = (
        "/".join(parts[-2:])
        if "site-packages" not in parts
        else "/".join(parts[parts.index("site-packages") + 1 :])
    )
    return f"{short}:{line} {func}"
