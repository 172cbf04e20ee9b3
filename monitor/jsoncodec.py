"""JSON on the hot path: orjson where it gives the same answer, the standard library where not.

Every check run parses a response body, serialises its detail for the store and renders a log
line: with `json` that was ~20 µs a run, with orjson ~3 (bench/README.md). orjson differs from
`json` in a few corners, handled here so that callers see `json`'s behaviour:
- it reads NaN and Infinity literals as errors (json takes them): those bodies go to json;
- it reads integers past 64 bits as floats, losing digits: a body with a run of 19 or more
  digits goes to json, which keeps them exact;
- it refuses non-string keys and integers past 64 bits when writing: json writes those.
One difference is kept on purpose: orjson writes NaN and Infinity as `null`, valid JSON, where
json writes literals that no JSON parser but Python's accepts.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Digits to "0", every other byte to "x": a run of 19 digits is then a plain substring search.
# (A regular expression for it cost 15x orjson's own parse of the same text.)
_DIGITS = bytes(0x30 if 0x30 <= i <= 0x39 else 0x78 for i in range(256))
_LONG_RUN = b"0" * 19


def loads(text: str) -> Any:
    """Parse like json.loads (raises ValueError on anything that is not JSON)."""
    if _LONG_RUN not in text.encode("utf-8", "surrogatepass").translate(_DIGITS):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # NaN or Infinity literals, or not JSON at all: json decides
    return json.loads(text)


def dumps(value: Any, **kwargs: Any) -> str:
    """Serialise to compact JSON text. Keyword arguments are json.dumps's (`default`), as
    structlog's renderer passes them."""
    try:
        return orjson.dumps(value, default=kwargs.get("default")).decode()
    except TypeError:
        return json.dumps(value, **kwargs)
