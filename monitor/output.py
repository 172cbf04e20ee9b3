"""What `run --once` prints: a table (rich in a terminal, plain text otherwise) or JSON, and
progress while checks run (a bar in a terminal, one plain line per check in CI)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from monitor.model import CheckResult, Outcome

_STYLE = {Outcome.PASS: "green", Outcome.FAIL: "red", Outcome.ERROR: "magenta", Outcome.SKIPPED: "yellow"}
_COLUMNS = ("integration", "check", "category", "outcome", "latency", "reason")


def _row(r: CheckResult) -> tuple[str, ...]:
    return (
        r.integration,
        r.check,
        r.category.value,
        r.outcome.value,
        f"{r.duration_s * 1000:.0f}ms",
        r.reason,
    )


def _order(results: Sequence[CheckResult]) -> list[CheckResult]:
    return sorted(results, key=lambda r: (r.integration, r.category.value, r.check))


def print_table(results: Sequence[CheckResult], out: IO[str]) -> None:
    if out.isatty():
        table = Table(*_COLUMNS, show_lines=False)
        for r in _order(results):
            cells = list(_row(r))
            cells[3] = f"[{_STYLE[r.outcome]}]{cells[3]}[/]"
            table.add_row(*cells)
        Console(file=out).print(table)
    else:
        rows = [_COLUMNS, *(_row(r) for r in _order(results))]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS) - 1)]
        for row in rows:
            out.write(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1] + "\n"
            )
    out.write(summary(results) + "\n")


def print_json(results: Sequence[CheckResult], out: IO[str]) -> None:
    doc: dict[str, Any] = {"results": [r.to_dict() for r in _order(results)], "summary": _counts(results)}
    json.dump(doc, out, indent=2)
    out.write("\n")


def _counts(results: Sequence[CheckResult]) -> dict[str, int]:
    return {o.value: sum(1 for r in results if r.outcome is o) for o in Outcome}


def summary(results: Sequence[CheckResult]) -> str:
    counts = _counts(results)
    return f"{len(results)} checks: " + ", ".join(f"{n} {o}" for o, n in counts.items())


class ProgressDisplay:
    """A live bar on a terminal; plain `[n/total] ...` lines elsewhere (CI logs)."""

    def __init__(self, total: int, stream: IO[str] | None = None, enabled: bool = True) -> None:
        self._stream = stream or sys.stderr
        self._total = total
        self._done = 0
        self._enabled = enabled
        self._bar: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> ProgressDisplay:
        if self._enabled and self._stream.isatty():
            self._bar = Progress(
                TextColumn("[bold]checks"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=Console(file=self._stream),
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=self._total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def advance(self, r: CheckResult) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.update(
                self._task, advance=1, description=f"{r.integration}/{r.check} {r.outcome.value}"
            )
        elif self._enabled:
            self._stream.write(
                f"[{self._done}/{self._total}] {r.integration}/{r.check} {r.outcome.value} "
                f"{r.duration_s * 1000:.0f}ms\n"
            )
            self._stream.flush()
