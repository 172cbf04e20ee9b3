"""Just enough markdown for status reports: headings, tables, list items, key-value lines.

Not a markdown parser: claims live on single lines, and a line-based reading keeps every claim's
line number exact. Fenced code is marked so that sample output and file trees ("slack/health.ts")
are never read as claims.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final


class Kind(enum.Enum):
    BLANK = "blank"
    HEADING = "heading"
    TABLE_ROW = "table_row"
    TABLE_RULE = "table_rule"
    ITEM = "item"
    TEXT = "text"
    CODE = "code"


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    kind: Kind
    text: str  # heading text, item text (marker and checkbox removed), or the line itself
    level: int = 0  # heading level, or an item's indentation
    cells: tuple[str, ...] = ()
    checked: bool | None = None  # an item's checkbox: True [x], False [ ], None no box


_HEADING_RE: Final = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM_RE: Final = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+(?:\[([ xX])\]\s+)?(.*)$")
_RULE_CELL_RE: Final = re.compile(r"^:?-{2,}:?$")
_KV_RES: Final = (
    re.compile(r"^\W*\*\*([^*]+?)\*\*\s*:\s*(.*)$"),  # **Key**: value   (✅ **Key**: value)
    re.compile(r"^\W*\*\*([^*]+?):\*\*\s*(.*)$"),  # **Key:** value
    re.compile(r"^\*\*([^*:]+?):\s*(.+?)\*\*\s*$"),  # **Key: value**
    re.compile(r"^\*([^*:]+?):\s*(.+?)\*\s*$"),  # *Key: value*
)
_PLAIN_KV_RE: Final = re.compile(r"^([^:]{2,60}):\s+(.+)$")


def classify(text: str) -> Iterator[Line]:
    """Each line of `text` with its kind, numbered from 1 as an editor shows it."""
    fenced = False
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
            yield Line(number, Kind.CODE, line)
        elif fenced:
            yield Line(number, Kind.CODE, line)
        elif not stripped:
            yield Line(number, Kind.BLANK, "")
        elif m := _HEADING_RE.match(stripped):
            yield Line(number, Kind.HEADING, m.group(2), level=len(m.group(1)))
        elif stripped.startswith("|"):
            cells = tuple(c.strip() for c in stripped.strip("|").split("|"))
            rule = all(_RULE_CELL_RE.match(c) for c in cells if c)
            yield Line(number, Kind.TABLE_RULE if rule else Kind.TABLE_ROW, stripped, cells=cells)
        elif m := _ITEM_RE.match(line):
            box = m.group(2)
            checked = None if box is None else box != " "
            yield Line(number, Kind.ITEM, m.group(3).strip(), level=len(m.group(1)), checked=checked)
        else:
            yield Line(number, Kind.TEXT, stripped)


def split_kv(text: str, *, plain: bool = False) -> tuple[str, str] | None:
    """("Key", "value") of "**Key**: value" and its variants; `plain` also takes "Key: value"."""
    for rx in _KV_RES:
        m = rx.match(text)
        if m:
            return m.group(1).strip(), m.group(2).strip()
    if plain and (m := _PLAIN_KV_RE.match(text)):
        return m.group(1).strip(), m.group(2).strip()
    return None
