"""Turn py-spy's samples of the daemon's load window into Markdown: where its CPU goes.

`bench/run.py` attaches `py-spy record --format=raw --threads` to the daemon for its measured
window, at the full load rate: py-spy samples from its own process (cProfile, used before,
inflated every Python call and confused greenlet stacks). It pauses the daemon for each sample:
with --nonblocking it read stacks mid-change and put ~45% of the samples on the event loop's
bare `Runner.run` frame, against ~11% in a pausing run.
Idle samples (waiting in epoll) are left out by py-spy. A sample's time goes to the innermost
frame an area claims, so C calls (json.dumps, re.sub, socket send) count for their Python
caller; per-check figures are shares of the main thread's CPU time in that run.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
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
    ("HTTP client (monitor/httpclient/, httptools)", ("monitor/httpclient/", "httptools/")),
    ("aiohttp and yarl (URLs; the token endpoint)", ("aiohttp/", "yarl/", "multidict/", "propcache/")),
    (
        "event loop: uvloop's C loop (polling, timers, callbacks, task steps) and asyncio",
        ("asyncio/", "selectors.py", "uvloop/"),
    ),
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
    ("monitor/sink.py", "_write", "result sink: store write, metrics, log lines"),
    ("monitor/daemon.py", "assess", "readiness assessment (main-thread part)"),
    ("monitor/metrics.py", "observe", "Metrics.observe"),
    ("monitor/store_schema.py", "rows", "store: CheckResults to insert rows (InsertPlan.rows)"),
    ("monitor/scrub.py", "text", "Scrubber.text (all callers)"),
    ("monitor/runner.py", "new_run_id", "new_run_id"),
]


_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")


@dataclass(frozen=True)
class _Frame:
    func: str
    file: str

    @classmethod
    def parse(cls, text: str) -> _Frame:
        m = _FRAME.match(text)
        return cls(m["func"], m["file"]) if m else cls(text, "")


def _area(frame: _Frame) -> str | None:
    text = f"{frame.file}:{frame.func}"
    for area, needles in _AREAS:
        if any(n in text for n in needles):
            return area
    return None


def _samples(path: Path) -> tuple[list[tuple[list[_Frame], int]], int]:
    """Main-thread stacks (outermost first) with their sample counts, and other threads' total."""
    main: list[tuple[list[_Frame], int]] = []
    others = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        thread, *frames = stack.split(";")
        if "MainThread" in thread:
            main.append(([_Frame.parse(f) for f in frames], int(count)))
        else:
            others += int(count)
    return main, others


def _owner(frames: list[_Frame]) -> str:
    for frame in reversed(frames):
        area = _area(frame)
        if area is not None:
            return area
    return "event loop internals (uvloop, C)" if not frames else "other"


def summarize(path: Path, result: dict[str, Any]) -> str:
    """Markdown: shares by area, per-check cost of the main entry points, top functions."""
    stacks, others = _samples(path)
    total = sum(n for _, n in stacks) or 1
    runs = max(1, int(result["runs"]))
    main_cpu = float(result.get("threads", {}).get("event loop (main thread)", 0.0))
    per_sample_us = main_cpu / total / runs * 1e6  # CPU µs per check that one sample stands for
    by_area: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for frames, n in stacks:
        by_area[_owner(frames)] += n
        leaves[_name(frames[-1]) if frames else "(no Python frame)"] += n
    lines = [
        f"py-spy, 250 samples/s, over the window of a separate run at {result['checks_per_s']:.0f} checks/s: "
        f"{runs:,} checks, {total:,} main-thread samples, {others:,} in other threads. "
        f"Main-thread CPU in that run: {main_cpu:.2f} s ({main_cpu / runs * 1e6:.0f} µs per check); "
        + ", ".join(f"{k} {v:.2f} s" for k, v in result.get("threads", {}).items())
        + ".",
        "",
        "| area (a sample counts for the innermost frame an area claims) | share of main-thread samples "
        "| µs per check |",
        "| --- | --- | --- |",
    ]
    for area, n in by_area.most_common():
        if n / total >= 0.005:
            lines.append(f"| {area} | {n / total:.0%} | {n * per_sample_us:.0f} |")
    lines += [
        "",
        "| entry point (samples with it on the stack) | share | µs per check |",
        "| --- | --- | --- |",
    ]
    for file_part, func, label in _ENTRY_POINTS:
        n = sum(c for frames, c in stacks if any(_is(f, file_part, func) for f in frames))
        if n:
            lines.append(f"| {label} | {n / total:.0%} | {n * per_sample_us:.0f} |")
    lines += ["", "Innermost Python frames by samples:", "", "| function | share |", "| --- | --- |"]
    for name, n in leaves.most_common(20):
        lines.append(f"| `{name}` | {n / total:.1%} |")
    return "\n".join(lines)


def _is(frame: _Frame, file_part: str, func: str) -> bool:
    return frame.file.endswith(file_part) and (frame.func == func or frame.func.endswith("." + func))


def _name(frame: _Frame) -> str:
    return f"{frame.file} {frame.func}" if frame.file else frame.func
