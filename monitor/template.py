"""`{{name}}` placeholders in pack requests, and dotted paths into JSON bodies.

Deliberately not jinja: a pack fills in values, it never runs logic, and nothing a provider
returns can become code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class TemplateError(Exception):
    """A placeholder names a variable that nothing defined: the check cannot be run as written."""


MISSING: Any = object()


def placeholders(value: Any) -> set[str]:
    """Every variable name used anywhere in `value` (for validating packs before running them)."""
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    return set()


def render(value: Any, variables: Mapping[str, Any]) -> Any:
    """Fill placeholders. A string that is exactly one placeholder keeps the variable's type."""
    if isinstance(value, str):
        if "{{" not in value:
            return value  # most of a pack is literal: no regex pass for it, every run
        whole = _PLACEHOLDER.fullmatch(value.strip())
        if whole:
            return _get(variables, whole.group(1))
        return _PLACEHOLDER.sub(lambda m: str(_get(variables, m.group(1))), value)
    if isinstance(value, Mapping):
        return {k: render(v, variables) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render(v, variables) for v in value]
    return value


def _get(variables: Mapping[str, Any], name: str) -> Any:
    if name not in variables:
        known = ", ".join(sorted(variables)) or "none"
        raise TemplateError(f"unknown variable {{{{{name}}}}} (defined: {known})")
    return variables[name]


@functools.lru_cache(maxsize=4096)
def _segments(path: str) -> tuple[tuple[str | None, int | None], ...]:
    """A path's keys and indexes, parsed once: packs look the same few paths up every run."""
    return tuple(
        (m.group(1), None if m.group(2) is None else int(m.group(2)))
        for m in _SEGMENT.finditer(path.removeprefix("$."))
    )


def lookup(data: Any, path: str) -> Any:
    """The value at `a.b[0].c`, or MISSING. `$` or an empty path is the whole body."""
    if path in ("", "$"):
        return data
    current = data
    for key, index in _segments(path):
        if index is not None:
            if not isinstance(current, list) or index >= len(current):
                return MISSING
            current = current[index]
        else:
            if not isinstance(current, dict) or key not in current:
                return MISSING
            current = current[key]
    return current
