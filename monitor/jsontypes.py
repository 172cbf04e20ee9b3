"""The JSON Schema type name of a decoded JSON value, as every message about a body reports it."""

from __future__ import annotations

from typing import Any


def json_type(value: Any) -> str:
    """`integer`, not `number`, for ints, and `boolean` before `integer` (bool is an int in Python)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
