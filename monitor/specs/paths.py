"""Which spec path templates a pack's request path can be.

A pack path mixes literal values (`/users/me`) and `{{var}}` placeholders whose value is known only
at run time. A literal value may fill a spec parameter (`{user_gid}`) or equal a literal segment;
a placeholder may only fill a parameter, since nothing says the variable holds that literal word.
Like HTTP routers, a literal spec segment beats a parameter, leftmost segment first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")
_PARAM = re.compile(r"\{[^{}/]+\}")
# Stands for a placeholder while matching: `[^/]+` accepts it, no literal spec text contains it.
_UNKNOWN = "\x00"

LITERAL, MIXED, PARAMETER = 2, 1, 0


def segments(path: str) -> list[str]:
    """`/a/b/` -> ['a', 'b']: leading and trailing slashes do not change the operation."""
    return path.strip("/").split("/")


def _segment_pattern(segment: str) -> tuple[str, int]:
    parts: list[str] = []
    pos = 0
    for param in _PARAM.finditer(segment):
        parts += [re.escape(segment[pos : param.start()]), "[^/]+"]
        pos = param.end()
    parts.append(re.escape(segment[pos:]))
    kind = LITERAL if pos == 0 else PARAMETER if _PARAM.fullmatch(segment) else MIXED
    return "".join(parts), kind


@dataclass(frozen=True)
class _Template:
    path: str
    exact: tuple[re.Pattern[str], ...]
    folded: tuple[re.Pattern[str], ...]
    rank: tuple[int, ...]


class PathIndex:
    """Spec path templates grouped by segment count, for matching request paths."""

    def __init__(self, templates: Iterable[str]) -> None:
        self._by_length: dict[int, list[_Template]] = {}
        for path in templates:
            compiled = [_segment_pattern(s) for s in segments(path)]
            template = _Template(
                path=path,
                exact=tuple(re.compile(p) for p, _ in compiled),
                folded=tuple(re.compile(p, re.IGNORECASE) for p, _ in compiled),
                rank=tuple(kind for _, kind in compiled),
            )
            self._by_length.setdefault(len(compiled), []).append(template)

    def match(self, path: str, *, ignore_case: bool = False) -> list[str]:
        """Spec templates `path` (query already stripped) can be, most specific first."""
        wanted = [_PLACEHOLDER.sub(_UNKNOWN, s) for s in segments(path)]
        found = [
            t
            for t in self._by_length.get(len(wanted), [])
            if all(p.fullmatch(s) for p, s in zip(t.folded if ignore_case else t.exact, wanted, strict=True))
        ]
        found.sort(key=lambda t: (tuple(-k for k in t.rank), t.path))
        return [t.path for t in found]
