"""One line per schema violation: where in the body (a JSON pointer), what was expected, what was found.

jsonschema's own messages repeat the whole offending value and omit where it is; a monitor's report
needs the location first and a bounded excerpt of the value.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from typing import Any, cast

from jsonschema.exceptions import ValidationError

from monitor.jsontypes import json_type

_MAX_VALUE = 60
_REQUIRED = re.compile(r"^(.*) is a required property$")
_BOUNDS = {
    "minimum": ">=",
    "maximum": "<=",
    "exclusiveMinimum": ">",
    "exclusiveMaximum": "<",
    "minLength": "length >=",
    "maxLength": "length <=",
    "minItems": "at least this many items:",
    "maxItems": "at most this many items:",
    "minProperties": "at least this many properties:",
    "maxProperties": "at most this many properties:",
    "pattern": "a string matching",
    "format": "format",
    "multipleOf": "a multiple of",
    "const": "the constant",
}


def pointer(parts: Iterable[str | int]) -> str:
    """RFC 6901 pointer of a location in the body; `(root)` for the body itself."""
    escaped = [str(p).replace("~", "~0").replace("/", "~1") for p in parts]
    return "".join("/" + p for p in escaped) or "(root)"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."


def found(value: Any) -> str:
    """`string "abc"`, `null`, `object {"a": 1}`: the JSON type and an excerpt."""
    return "null" if value is None else f"{json_type(value)} {_short(value)}"


def _expected(error: ValidationError) -> str:
    keyword, value = str(error.validator), cast(Any, error.validator_value)
    if keyword == "type":
        types = value if isinstance(value, list) else [value]
        nullable = isinstance(error.schema, dict) and error.schema.get("nullable") is True
        return "type " + " or ".join(map(str, types)) + (" or null" if nullable else "")
    if keyword == "enum":
        return "one of " + _short(value)
    if keyword in _BOUNDS:
        return f"{_BOUNDS[keyword]} {_short(value)}"
    discriminator = error.schema.get("discriminator") if isinstance(error.schema, dict) else None
    if isinstance(discriminator, dict) and "propertyName" in discriminator:
        # OAS picks the alternative by this property's value; without it no alternative is tried.
        values = sorted(discriminator.get("mapping") or {})
        known = f" (one of {_short(values)})" if values else ""
        return f"discriminating property {discriminator['propertyName']!r}{known} selecting a valid schema"
    if keyword in ("anyOf", "oneOf"):
        how_many = "exactly one" if keyword == "oneOf" else "at least one"
        return f"{how_many} of {len(value)} alternative schemas"
    if keyword == "not":
        return "a value not matching a forbidden schema"
    return f"{keyword} {_short(value)} ({error.message[:_MAX_VALUE]})"


def _required_name(error: ValidationError) -> str:
    match = _REQUIRED.match(error.message)
    if match is None:
        return "?"
    try:
        return str(ast.literal_eval(match.group(1)))
    except (ValueError, SyntaxError):
        return match.group(1)


def _undeclared(error: ValidationError) -> list[tuple[str, Any]]:
    """What `additionalProperties: false` rejected: keys in neither `properties` nor `patternProperties`."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    declared, patterns = schema.get("properties", {}), schema.get("patternProperties", {})
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [
        (key, value)
        for key, value in instance.items()
        if key not in declared and not any(re.search(p, key) for p in patterns)
    ]


def _closest(error: ValidationError) -> tuple[int, list[ValidationError]]:
    """The anyOf/oneOf alternative that came nearest: the right JSON type, then the fewest violations."""
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)

    def distance(item: tuple[int, list[ValidationError]]) -> tuple[bool, int, int]:
        wrong_type = any(e.validator == "type" and e.absolute_path == error.absolute_path for e in item[1])
        return wrong_type, len(item[1]), item[0]

    return min(branches.items(), key=distance)


Located = tuple[tuple[str | int, ...], str]


def _lines(error: ValidationError) -> list[Located]:
    """(where in the body, line) for each violation this error stands for."""
    where = tuple(error.absolute_path)
    if error.validator in ("anyOf", "oneOf") and error.context:
        branch, subs = _closest(error)
        head = f"{pointer(where)}: expected {_expected(error)}, found {found(error.instance)}"
        note = f" (closest {error.validator} alternative: #{branch + 1})"
        return [(where, head + note)] + [(at, line + note) for sub in subs for at, line in _lines(sub)]
    if error.validator == "required":
        at = (*where, _required_name(error))
        return [(at, f"{pointer(at)}: expected required property, found it missing")]
    if error.validator == "additionalProperties" and error.validator_value is False and _undeclared(error):
        return [
            (
                (*where, key),
                f"{pointer([*where, key])}: expected no such property (additionalProperties: false), "
                f"found {found(value)}",
            )
            for key, value in _undeclared(error)
        ]
    return [(where, f"{pointer(where)}: expected {_expected(error)}, found {found(error.instance)}")]


def _order(located: Located) -> tuple[tuple[tuple[int, int, str], ...], str]:
    """Body order: parents before children, array items by index."""
    where, line = located
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in where), line


def describe(errors: Iterable[ValidationError]) -> list[str]:
    """Distinct violation lines, ordered by location in the body."""
    return [line for _, line in sorted({item for error in errors for item in _lines(error)}, key=_order)]
