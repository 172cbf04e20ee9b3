"""bench/RESULTS.md from the measured figures: targets met or missed, the side-by-side table,
what a check's CPU is made of, and what the daemon did during the load window.

Kept apart from run.py so that the arithmetic of the report can be read on its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchlib import percentile
from peer import BlackboxRun

DAY = 86_400


@dataclass
class LatencyError:
    samples: int
    p50_abs_ms: float
    p99_abs_ms: float
    median_signed_ms: float
    p99_abs_vs_nominal_ms: float


def latency_error(durations: dict[str, float], holds_ns: dict[str, int], delay_ms: float) -> LatencyError:
    """Reported duration minus the target's true hold time for the same request (joined by id).
    The error against the nominal delay is kept too: it also holds the target's timer overshoot."""
    errors = [durations[k] * 1e3 - holds_ns[k] / 1e6 for k in durations if k in holds_ns]
    nominal = [d * 1e3 - delay_ms for d in durations.values()]
    return LatencyError(
        samples=len(errors),
        p50_abs_ms=percentile([abs(e) for e in errors], 50),
        p99_abs_ms=percentile([abs(e) for e in errors], 99),
        median_signed_ms=percentile(errors, 50),
        p99_abs_vs_nominal_ms=percentile([abs(e) for e in nominal], 99),
    )


@dataclass
class Figures:
    floor: dict[str, Any]
    bb_load: BlackboxRun
    bb_light: BlackboxRun
    load: dict[str, Any]
    light: dict[str, Any]
    components: dict[str, Any]
    rss: list[dict[str, Any]]
    latency: dict[str, LatencyError]
    sweep: list[dict[str, Any]]  # shorter daemon runs at lower rates, each with its "latency"


@dataclass
class Goal:
    name: str
    goal: str
    measured: str
    met: bool


def judge(f: Figures) -> list[Goal]:
    """The issue's targets, each met or missed. Latency accuracy is judged at both loads."""
    ratio = f.load["cpu_per_check_us"] / f.bb_load.cpu_per_probe_us
    big = max(f.rss, key=lambda r: r["checks"], default=None)
    goals = [
        Goal(
            f"CPU per check vs blackbox_exporter per probe, both at {f.bb_load.rate:g}/s",
            "<= 0.4x",
            f"{ratio:.2f}x ({f.load['cpu_per_check_us']:.0f} vs {f.bb_load.cpu_per_probe_us:.0f} µs)",
            ratio <= 0.4,
        ),
        Goal(
            f"p99 schedule lag at {f.load['checks_per_s']:.0f} checks/s",
            "<= 5 ms",
            f"{f.load['lag_p99_ms']:.1f} ms",
            f.load["lag_p99_ms"] <= 5,
        ),
    ]
    for name, run in (("load", f.load), ("light", f.light)):
        err = f.latency[f"ours_{name}"]
        # The machine's own floor belongs beside the light run, which runs at the floor's rate.
        floor = f.latency["floor_light"]
        beside = f" (the machine's floor {floor.p99_abs_ms:.2f} ms)" if name == "light" else ""
        goals.append(
            Goal(
                f"reported latency, p99 abs(reported - true), at {run['checks_per_s']:.0f} checks/s",
                "<= 1 ms",
                f"{err.p99_abs_ms:.2f} ms{beside}",
                err.p99_abs_ms <= 1,
            )
        )
    if big is not None:
        goals.append(
            Goal(
                f"RSS with {big['checks']:,} checks",
                "<= 150 MB",
                f"{big['rss_mb']:.0f} MB",
                big["rss_mb"] <= 150,
            )
        )
    return goals


def table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """A GitHub-flavoured Markdown table (also readable as plain text on a terminal)."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def side_by_side(f: Figures) -> list[tuple[str, str, str, str]]:
    """(figure, atom-monitor, blackbox_exporter, ratio or note)."""
    ld, li, bb, bl = f.load, f.light, f.bb_load, f.bb_light
    lat = f.latency
    rows = [
        (
            f"CPU per check / probe at ~{bb.rate:g}/s (µs)",
            f"{ld['cpu_per_check_us']:.0f}",
            f"{bb.cpu_per_probe_us:.0f}",
            f"{ld['cpu_per_check_us'] / bb.cpu_per_probe_us:.2f}x",
        ),
        (
            f"CPU per check / probe at ~{bl.rate:g}/s (µs)",
            f"{li['cpu_per_check_us']:.0f}",
            f"{bl.cpu_per_probe_us:.0f}",
            f"{li['cpu_per_check_us'] / bl.cpu_per_probe_us:.2f}x",
        ),
        (
            "floor: the checks' HTTP client, a bare keep-alive request, CPU (µs)",
            f"{f.floor['cpu_per_request_us']:.0f}",
            "",
            f"at {f.floor['requests_per_s']:.0f} requests/s",
        ),
        (
            "the same with a bare aiohttp ClientSession, CPU (µs)",
            f"{f.floor['aiohttp']['cpu_per_request_us']:.0f}",
            "",
            f"at {f.floor['aiohttp']['requests_per_s']:.0f} requests/s (the checks' client before round 5)",
        ),
        (
            "completed in the load window",
            f"{ld['runs']:,} in {ld['window_s']:.1f} s",
            f"{bb.probes:,} in {bb.window_s:.1f} s ({bb.failed} failed)",
            "",
        ),
        ("sustained rate (/s)", f"{ld['checks_per_s']:.0f}", f"{bb.probes / bb.window_s:.0f}", ""),
        ("CPU used (cores)", f"{ld['cpu_s'] / ld['window_s']:.2f}", f"{bb.cpu_s / bb.window_s:.2f}", ""),
        ("schedule lag p50 / p99 / max (ms)", _lag(ld), "n/a (Prometheus schedules it)", ""),
        ("schedule lag p99 from the histogram's buckets (ms)", f"<= {ld['lag_hist_p99_le_ms']:g}", "", ""),
        ("schedule lag p50 / p99 / max at light load (ms)", _lag(li), "", ""),
    ]
    for name, ours, theirs in (
        ("load", lat["ours_load"], lat["bb_load"]),
        ("light", lat["ours_light"], lat["bb_light"]),
    ):
        ours_run, theirs_run = (ld, bb) if name == "load" else (li, bl)
        rate = f"{ours_run['checks_per_s']:.0f}/s vs {theirs_run.rate:g}/s"
        rows += [
            (
                f"latency error p50 / p99 abs(reported - true) (ms), {rate}",
                f"{ours.p50_abs_ms:.2f} / {ours.p99_abs_ms:.2f}",
                f"{theirs.p50_abs_ms:.2f} / {theirs.p99_abs_ms:.2f}",
                f"{ours.p99_abs_ms / theirs.p99_abs_ms:.2f}x at p99",
            ),
            (
                f"latency error, median signed (ms), {rate}",
                f"{ours.median_signed_ms:+.2f}",
                f"{theirs.median_signed_ms:+.2f}",
                f"samples {ours.samples:,} / {theirs.samples:,}",
            ),
            (
                f"latency error p99 vs the nominal {_nominal(f)} (ms), {rate}",
                f"{ours.p99_abs_vs_nominal_ms:.2f}",
                f"{theirs.p99_abs_vs_nominal_ms:.2f}",
                "adds the target's timer overshoot",
            ),
        ]
    floor = lat["floor_light"]
    rows.append(
        (
            f"latency error p50 / p99 (ms) of blocking sockets with no event loop, {bl.rate:g}/s",
            f"{floor.p50_abs_ms:.2f} / {floor.p99_abs_ms:.2f}",
            "",
            "the machine's floor: loopback and waking an idle CPU; no tool times closer here",
        )
    )
    for r in f.rss:
        rows.append(
            (
                f"RSS with {r['checks']:,} checks configured and scheduled (MB), settled / peak",
                f"{r['rss_mb']:.0f} / {r['hwm_mb']:.0f}",
                "",
                f"{r['base_rss_mb']:.0f} MB after imports; config loaded in {r['config_load_s']:.2f} s",
            )
        )
    return rows


def _nominal(f: Figures) -> str:
    return f"{f.components.get('delay_ms', 50):g} ms delay"


def _lag(run: dict[str, Any]) -> str:
    return f"{run['lag_p50_ms']:.2f} / {run['lag_p99_ms']:.2f} / {run['lag_max_ms']:.2f}"


def budget(f: Figures) -> list[tuple[str, str, str]]:
    """Where one check's CPU goes in the load run: the measured parts, then what is left."""
    ld, parts = f.load, f.components["parts_us"]
    runs = max(1, ld["runs"])
    store = store_per_result(parts, ld["store_batch_mean"])
    rows: list[tuple[str, float, str]] = [
        ("HTTP request and response (the floor)", f.floor["cpu_per_request_us"], "bench/floor.py"),
        (
            "run id, template render, json.loads",
            _sum(parts, "run id", "template render", "json.loads"),
            "components",
        ),
        ("assertions (status, JSON Schema, body, header)", _sum(parts, "assertions"), "components"),
        ("evidence (scrubbed URL, headers, body excerpt)", _sum(parts, "evidence"), "components"),
        ("runner: timeout, judge, scrub assertions, CheckResult", _sum(parts, "runner around"), "components"),
        (
            f"store write at the observed mean batch of {ld['store_batch_mean']:.1f} results",
            store,
            "components, batch 1 and 200 fitted",
        ),
        (
            "metrics observe + the check_run log line",
            _sum(parts, "metrics observe", "log line"),
            "components",
        ),
        (
            f"readiness assessments: {len(ld['assessments'])} in the window, {sum(ld['assessments']):.2f} s",
            sum(ld["assessments"]) / runs * 1e6,
            "timed in the load run",
        ),
        (
            f"/metrics scrapes: {ld['scrapes']} in the window, {ld['scrape_s']:.2f} s",
            ld["scrape_s"] / runs * 1e6,
            "timed in the load run",
        ),
    ]
    known = sum(v for _, v, _ in rows)
    out = [(name, f"{v:.0f}", src) for name, v, src in rows]
    out.append(
        (
            "the rest: scheduler (timers, admission, a task per run); the event loop; "
            "URL and request building; auth",
            f"{ld['cpu_per_check_us'] - known:.0f}",
            "load run minus the above",
        )
    )
    out.append(("total, load run", f"{ld['cpu_per_check_us']:.0f}", "getrusage over the window"))
    gc_us = sum(ld["gc_s"]) / runs * 1e6
    out.append(("of which garbage collection (spread over the rows above)", f"{gc_us:.0f}", "gc.callbacks"))
    return out


def store_per_result(parts: dict[str, float], batch: float) -> float:
    """Per-result store cost at a mean batch size, from a fixed cost per transaction plus a cost
    per row fitted through the measured batch-of-1 and batch-of-200 figures."""
    one = _sum(parts, "store write, batches of 1 ")
    big = _sum(parts, "store write, batches of 200 ")
    per_row = (200 * big - one) / 199
    per_txn = one - per_row
    return per_txn / batch + per_row if batch and not math.isnan(batch) else math.nan


def _sum(parts: dict[str, float], *prefixes: str) -> float:
    return sum(v for k, v in parts.items() if any(k.startswith(p) for p in prefixes))


def by_rate(f: Figures) -> list[tuple[str, str, str, str, str]]:
    runs = [*f.sweep, {**f.load, "latency": f.latency["ours_load"]}]
    out = []
    for r in sorted(runs, key=lambda r: float(r["checks_per_s"])):
        le: LatencyError = r["latency"]
        main = float(r["threads"].get("event loop (main thread)", 0.0)) / float(r["window_s"])
        out.append(
            (
                f"{r['checks_per_s']:.0f}",
                f"{main:.2f}",
                f"{r['cpu_per_check_us']:.0f}",
                f"{r['lag_p50_ms']:.2f} / {r['lag_p99_ms']:.2f} / {r['lag_max_ms']:.1f}",
                f"{le.p50_abs_ms:.2f} / {le.p99_abs_ms:.2f}",
            )
        )
    return out


def readiness_outlook(f: Figures) -> list[str]:
    """What one assessment costs, scaled to the policy window at a few loads."""
    parts = f.components["parts_us"]
    per_row = parts.get("readiness: one assessment, per stored result", 0.0)
    per_check = parts.get("readiness: one assessment, per configured check", 0.0)
    window = f.components.get("policy_window_s", DAY)
    lines = [
        "One readiness assessment has the database aggregate the policy window (counts, buckets, "
        "exact percentiles) and judges the aggregates into the verdict gauges (a document, built "
        f"when /report asks, comes on top): {per_check:.0f} µs per configured check "
        f"plus {per_row:.1f} µs per stored result (components: timed over "
        f"{f.components.get('rows', 0):,} and four times as many results of "
        f"{f.components.get('checks', 0):,} checks). The daemon repeats it every "
        f"{f.components.get('assess_interval_s', 2):g} s with {f.load['checks']:,} checks at a "
        f"{f.components.get('interval_s', 1):g} s interval, spaced so that assessments take at most "
        f"5% of its time (monitor/daemon.py `ASSESS_SHARE`); in the load run the last one read "
        f"{f.load['assess_rows']:,} results and took {f.load['assess_s']:.2f} s.",
        "",
        "| checks configured, interval | results in a 24 h window | one assessment (CPU s, extrapolated) |",
        "| --- | --- | --- |",
    ]
    for checks, interval in ((f.load["checks"], f.components.get("interval_s", 1)), (1000, 60), (10_000, 60)):
        rows = checks / interval * window
        cost = (per_check * checks + per_row * rows) / 1e6
        lines.append(f"| {checks:,}, {interval:g} s | {rows:,.0f} | {cost:,.1f} |")
    return lines


def internals(f: Figures) -> list[tuple[str, str, str]]:
    """The same readings for the load run and the light run, side by side."""

    def batches(r: dict[str, Any]) -> str:
        return f"{r['store_batches']:,} / {r['store_batch_mean']:.1f}"

    rows: list[tuple[str, Any]] = [
        ("checks/s, window", lambda r: f"{r['checks_per_s']:.0f}/s, {r['window_s']:.1f} s"),
        ("late starts over 5 ms, by what held the loop longest", lambda r: _counts(r["lag_over_5ms"])),
        ("store batches written / mean results per batch", batches),
        (
            "readiness assessments in the window (s each)",
            lambda r: ", ".join(f"{s:.2f}" for s in r["assessments"]),
        ),
        (
            "/metrics scrapes: count / seconds / bytes",
            lambda r: f"{r['scrapes']} / {r['scrape_s']:.2f} / {r['scrape_bytes']:,}",
        ),
        ("GC pauses, generations 0 / 1 / 2 (s)", lambda r: " / ".join(f"{s:.2f}" for s in r["gc_s"])),
        ("CPU by thread (s)", lambda r: ", ".join(f"{k} {v:.2f}" for k, v in r["threads"].items())),
        ("outcomes (whole run)", lambda r: _counts(r["outcomes"])),
        ("error-level log events (whole run)", lambda r: _counts(r["log_errors"])),
    ]
    return [(name, get(f.load) or "none", get(f.light) or "none") for name, get in rows]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counts.items())


def summary(f: Figures) -> list[str]:
    """The largest costs per check, so the reader sees at once where a fix would pay."""
    rows = [(name, float(us)) for name, us, _ in budget(f)[:-3]]
    rows.append(("the rest (scheduler, asyncio, request building)", float(budget(f)[-3][1])))
    top = sorted(rows, key=lambda r: -r[1])[:4]
    lines = [
        "Largest costs per check in the load run: "
        + "; ".join(f"{name.split(':')[0]} {us:.0f} µs" for name, us in top)
        + f" (of {f.load['cpu_per_check_us']:.0f} µs). Details below.",
    ]
    lost = {**f.load["log_errors"], **f.light["log_errors"]}
    if lost:
        lines.append(f"The daemon logged errors: {_counts(lost)} (see the table of the measured windows).")
    return [*lines, ""]


def render(meta: dict[str, str], f: Figures, profile: str | None) -> str:
    goals = judge(f)
    parts = f.components["parts_us"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run.py` (`make bench`); bench/README.md says how each figure is taken.",
        "",
        *[f"- {k}: {v}" for k, v in meta.items()],
        "",
        "## Targets (issue 3)",
        "",
        table(
            ("target", "goal", "measured", "status"),
            [(g.name, g.goal, g.measured, "met" if g.met else "**missed**") for g in goals],
        ),
        "",
        *summary(f),
        "## atom-monitor beside blackbox_exporter",
        "",
        table(("figure", "atom-monitor", "blackbox_exporter", "ratio / note"), side_by_side(f)),
        "",
        "## Where a check's CPU goes (load run)",
        "",
        table(("part", "µs per check", "measured by"), budget(f)),
        "",
        "## Lag and latency error as the load grows",
        "",
        "Shorter daemon runs at lower rates (same workload and machine; the last row is the load run). "
        "Where the event loop is busy, a check due waits for it and an answer waits to be read.",
        "",
        table(
            (
                "checks/s",
                "main-thread CPU (cores)",
                "CPU per check (µs)",
                "lag p50 / p99 / max (ms)",
                "latency error p50 / p99 (ms)",
            ),
            by_rate(f),
        ),
        "",
        "## The daemon during the measured windows",
        "",
        table(("what", "load run", "light run"), internals(f)),
        "",
        "## Readiness assessment cost as results accumulate",
        "",
        *readiness_outlook(f),
        "",
        "## Parts, one at a time (bench/components.py)",
        "",
        table(("part", "CPU µs per call"), [(k, f"{v:.1f}") for k, v in parts.items()]),
        "",
    ]
    if profile:
        lines += ["## Profile of the load window", "", profile, ""]
    return "\n".join(lines)
