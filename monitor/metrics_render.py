"""The Prometheus text exposition (format 0.0.4) of our metrics, rendered without blocking the loop.

prometheus_client's generate_latest builds a Sample and a label dict for every line and sorts and
escapes every label set on every scrape: ~256 µs per configured check, on the event loop
(bench/README.md, round 1, finding 3). Here each check's label string was formatted once, at
declare time (monitor/metrics_series.py), a scrape is string joins over plain ints, and the loop
runs between slices of `SLICE` checks. The output is byte-identical to generate_latest over the same registry
(tests/test_metrics.py holds it to that).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from itertools import accumulate

from prometheus_client import generate_latest
from prometheus_client.registry import Collector

from monitor.metrics_series import (
    DURATION,
    DURATION_LE,
    FAMILIES,
    FLAKY,
    LAG,
    LAG_LE,
    LAST_RUN,
    OUTCOMES,
    RUNS,
    SUCCESS,
    CheckSeries,
    Family,
    LagSeries,
    SeriesTable,
    go_float,
)

# Checks rendered between two yields to the event loop. ~5 µs a check alone, but 15-20 on a
# loop at 1,000 checks/s: slices of 200 held due checks for 3-4 ms, slices of 50 stay under 1.
SLICE = 50
# floatToGoString writes an integral float under 10**6 as "<n>.0" and switches to exponents above.
_PLAIN_INT_LIMIT = 1_000_000


async def render(plain: Sequence[Collector], table: SeriesTable) -> bytes:
    """`plain` (ordinary prometheus_client metrics) through generate_latest, then the compact
    families of `table`: what generate_latest gives for a registry holding exactly these, in
    this order.

    Two steps run in a worker thread: the per-integration gauges (~70 ms for 1,000 integrations;
    prometheus_client locks each metric; the loop gets the GIL back every switch interval, 1 ms
    under `serve`) and the final join of the body (26 MB for 10,000 checks, ~20 ms; bytes.join
    releases the GIL)."""
    out = [await asyncio.to_thread(_generate, plain)]
    out.extend(await _check_families(list(table.checks.values())))
    out.extend(await _lag_family(list(table.lags.values())))
    return await asyncio.to_thread(b"".join, out)


def _generate(plain: Sequence[Collector]) -> bytes:
    return b"".join(generate_latest(collector) for collector in plain)


def accepts_text_004(accept: str) -> bool:
    """Whether an Accept header admits the 0.0.4 text format.

    Prometheus 2 and 3 list OpenMetrics first but also accept `text/plain;version=0.0.4` (and
    `*/*`): we answer them with the text format, which carries everything we export (no exemplars,
    no `_created`, no units). A client that takes only OpenMetrics or text 1.0.0 does not match.
    """
    if not accept.strip():
        return True
    for item in accept.split(","):
        media, *params = (p.strip().lower() for p in item.split(";"))
        options = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in params)}
        if _quality(options.get("q", "1")) <= 0:
            continue
        if media in ("*/*", "text/*"):
            return True
        if media == "text/plain" and options.get("version", "0.0.4") == "0.0.4":
            return True
    return False


def _quality(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _header(family: Family) -> bytes:
    escaped = family.help.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {family.name} {escaped}\n# TYPE {family.name} {family.type}\n".encode()


def _count(n: int) -> str:
    return f"{n}.0" if n < _PLAIN_INT_LIMIT else go_float(n)


def float_text(value: float) -> str:
    """prometheus_client's floatToGoString without its overhead (~1.8 µs a call here, three calls
    a check): its two common branches inline, everything else (inf, nan, negatives with an
    exponent) handed to it. tests/test_metrics.py compares the two over many values."""
    text = repr(value)
    dot = text.find(".")
    if "n" in text:  # inf, nan
        return go_float(value)
    if dot <= 6:
        return text
    if value > 0:  # Go switches to an exponent sooner than Python
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return go_float(value)


async def _check_families(checks: list[CheckSeries]) -> list[bytes]:
    families = FAMILIES[:5]
    slices: list[list[bytes]] = [[] for _ in families]
    for start in range(0, len(checks), SLICE):
        for out, text in zip(slices, _check_slice(checks[start : start + SLICE]), strict=True):
            out.append(text.encode())
        await asyncio.sleep(0)
    return [part for family, out in zip(families, slices, strict=True) for part in (_header(family), *out)]


def _check_slice(checks: Sequence[CheckSeries]) -> tuple[str, str, str, str, str]:
    """The lines of `checks` for each of the five per-check families, in FAMILIES order."""
    success: list[str] = []
    duration: list[str] = []
    runs: list[str] = []
    flaky: list[str] = []
    last_run: list[str] = []
    bucket = f"{DURATION.name}_bucket{{"
    le_tails = [f',le="{le}"}} ' for le in DURATION_LE]
    outcome_tails = [f',outcome="{o.value}"}} ' for o in OUTCOMES]
    for s in checks:
        labels = s.text
        if s.success is not None:
            success.append(f"{SUCCESS.name}{{{labels}}} {'1.0' if s.success else '0.0'}\n")
        cumulative = list(accumulate(s.counts))
        for tail, n in zip(le_tails, cumulative, strict=True):
            duration.append(f"{bucket}{labels}{tail}{_count(n)}\n")
        duration.append(f"{DURATION.name}_count{{{labels}}} {_count(cumulative[-1])}\n")
        duration.append(f"{DURATION.name}_sum{{{labels}}} {float_text(s.duration_sum)}\n")
        for tail, n in zip(outcome_tails, s.runs, strict=True):
            runs.append(f"{RUNS.name}{{{labels}{tail}{_count(n)}\n")
        flaky.append(f"{FLAKY.name}{{{labels}}} {_count(s.flaky)}\n")
        if s.last_run is not None:
            last_run.append(f"{LAST_RUN.name}{{{labels}}} {float_text(s.last_run)}\n")
    return "".join(success), "".join(duration), "".join(runs), "".join(flaky), "".join(last_run)


async def _lag_family(lags: list[LagSeries]) -> list[bytes]:
    out = [_header(LAG)]
    bucket = f"{LAG.name}_bucket{{"
    le_tails = [f',le="{le}"}} ' for le in LAG_LE]
    for start in range(0, len(lags), SLICE):
        lines: list[str] = []
        for g in lags[start : start + SLICE]:
            cumulative = list(accumulate(g.counts))
            lines.extend(
                f"{bucket}{g.text}{tail}{_count(n)}\n" for tail, n in zip(le_tails, cumulative, strict=True)
            )
            lines.append(f"{LAG.name}_count{{{g.text}}} {_count(cumulative[-1])}\n")
            lines.append(f"{LAG.name}_sum{{{g.text}}} {float_text(g.total)}\n")
        out.append("".join(lines).encode())
        await asyncio.sleep(0)
    return out
