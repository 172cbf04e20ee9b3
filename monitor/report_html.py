"""The HTML readiness report: one self-contained file (inline CSS and SVG, no external asset),
rendered by jinja2 with autoescape on, so every provider-controlled string is escaped."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from monitor.config import bundled_dir


def render(doc: dict[str, Any]) -> str:
    env = Environment(
        loader=FileSystemLoader(str(bundled_dir("reports") / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = _pct
    env.filters["ms"] = _ms
    return env.get_template("readiness.html.j2").render(report=doc, bars=_bars)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.4g}%"  # noqa: RUF001 (typographic dash)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f} ms"  # noqa: RUF001


def _bars(distribution: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bar geometry for the inline SVG latency histogram (width 100%, 60 px high)."""
    top = max((b["count"] for b in distribution), default=0) or 1
    out = []
    for i, b in enumerate(distribution):
        height = round(50 * b["count"] / top, 1)
        label = f"<{b['le'] * 1000:.0f}ms" if b["le"] is not None else "more"
        out.append({"x": i * 40 + 2, "y": 52 - height, "h": height, "count": b["count"], "label": label})
    return out
