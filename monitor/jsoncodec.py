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
import re
from typing import Any

import orjson

_LONG_DIGITS = re.compile(r"\d{19}")


def loads(text: str) -> Any:
    """Parse like json.loads (raises ValueError on anything that is not JSON)."""
    if _LONG_DIGITS.search(text) is None:
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
