"""Turning every config mistake into one line: `file:line: yaml.path: problem`.

Pydantic's messages are written for Python programmers; these are written for someone editing YAML.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

YamlPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    file: str
    path: YamlPath
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {format_path(self.path) or '(top level)'}: {self.message}"


class ConfigError(Exception):
    """Raised with every issue found, so the user fixes them all in one round."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


def format_path(path: YamlPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, bool):  # YAML 1.1 reads an unquoted `off:` key as false
            out += f".{str(part).lower()}" if out else str(part).lower()
        elif isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def _yaml_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(err: Any) -> str:
    kind = err["type"]
    loc = err["loc"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    key = next((p for p in reversed(loc) if isinstance(p, str)), "value")
    if kind == "extra_forbidden":
        return f"unknown key {key!r}"
    if kind == "missing":
        return f"missing required key {key!r}"
    if kind == "enum":
        return f"unknown {key} {_short(value)} (expected one of: {_choices(ctx.get('expected', ''))})"
    if kind == "literal_error":
        return f"unknown value {_short(value)} (expected one of: {_choices(ctx.get('expected', ''))})"
    if kind == "union_tag_invalid":
        tags = _choices(ctx.get("expected_tags", ""))
        field = ctx.get("discriminator", "kind").strip("'")
        return f"unknown {field} {ctx.get('tag')!r} (expected one of: {tags})"
    if kind == "union_tag_not_found":
        return f"missing required key {ctx.get('discriminator', 'kind').strip(chr(39))!r}"
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {_yaml_type(value)} {_short(value)}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"{_short(value)} is out of range ({err['msg'].lower()})"
    return str(err["msg"])


def _choices(expected: str) -> str:
    # pydantic says "'a', 'b' or 'c'"; users read "a, b, c".
    return expected.replace(" or ", ", ").replace("'", "")


def issues_from_validation(
    exc: ValidationError, file: str, lines: dict[YamlPath, int], prefix: YamlPath = ()
) -> list[ConfigIssue]:
    out: list[ConfigIssue] = []
    seen: set[tuple[YamlPath, str]] = set()
    for err in exc.errors():
        # pydantic inserts union branch names ("function-after[...]") into loc; YAML has none.
        path = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        # An unknown or missing key is reported at its parent, naming the key in the message.
        where = path[:-1] if err["type"] in ("extra_forbidden", "missing") else path
        msg = _message(err)
        if (where, msg) in seen:
            continue
        seen.add((where, msg))
        out.append(ConfigIssue(file, where, msg, line_for(lines, path)))
    return out


def line_for(lines: dict[YamlPath, int], path: YamlPath) -> int | None:
    """The line of the deepest part of `path` that exists in the YAML."""
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


def sort_issues(issues: Iterable[ConfigIssue]) -> list[ConfigIssue]:
    return sorted(issues, key=lambda i: (i.file, i.line or 0, format_path(i.path)))
