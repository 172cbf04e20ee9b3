"""The hot-path JSON codec reads and writes what the standard library's json does."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from monitor import jsoncodec

BODIES = [
    '{"ok": true, "service": "bench", "n": [1, 2.5, null], "s": "\\u00e9\\ud83d\\ude00"}',
    "[]",
    '"text"',
    "12345678901234567890123",
    '{"id": 123456789012345678901234567890, "f": 1e400}',
    '{"x": NaN, "y": -Infinity}',
]


@pytest.mark.parametrize("text", BODIES)
def test_loads_agrees_with_json(text: str) -> None:
    """Bodies, huge integers and NaN literals included, parse to what json.loads gives."""
    got, want = jsoncodec.loads(text), json.loads(text)
    assert repr(got) == repr(want)


@pytest.mark.parametrize("text", ["", "{", "not json", "{'a': 1}"])
def test_loads_rejects_what_json_rejects(text: str) -> None:
    """Anything that is not JSON raises ValueError, as json.loads does."""
    with pytest.raises(ValueError):
        jsoncodec.loads(text)


@pytest.mark.parametrize(
    "value",
    [
        {"assertions": [{"name": "status", "passed": True, "step": None}], "evidence": {"status": 200}},
        {1: "non-string key"},
        {"big": 2**70},
        ["é", "\u2028"],
    ],
)
def test_dumps_round_trips_like_json(value: Any) -> None:
    """What dumps writes, json reads back as json.dumps's own output reads back."""
    assert json.loads(jsoncodec.dumps(value)) == json.loads(json.dumps(value))


def test_dumps_uses_default_for_unknown_types() -> None:
    """An object JSON cannot hold goes through `default`, as structlog's renderer expects."""
    assert json.loads(jsoncodec.dumps({"e": ValueError("x")}, default=repr)) == {"e": "ValueError('x')"}


def test_dumps_writes_nan_as_null() -> None:
    """NaN becomes null (valid JSON) rather than a literal only Python reads."""
    assert jsoncodec.dumps([math.nan]) == "[null]"
