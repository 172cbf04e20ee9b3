"""JSON Schema validation for `expect.schema`: jsonschema's verdict, at a compiled validator's cost.

jsonschema (Draft 2020-12) names every violation, which is what a report shows; but walking the
schema costs ~18 µs for even a five-line one, the largest single part of judging a response
(bench/README.md). Most responses conform, so each schema is also compiled to plain Python with
fastjsonschema (on a worker thread: see SchemaCache), and a body it accepts is accepted without
jsonschema. Anything it rejects is judged again by jsonschema, whose verdict and messages stand.

fastjsonschema implements draft-07, not 2020-12, so only schemas whose every keyword means the
same in both are compiled (`_portable`); any other schema ($ref, prefixItems,
unevaluatedProperties, ...) is judged by jsonschema alone. `format` is dropped before compiling:
jsonschema treats it as an annotation (no format checker), fastjsonschema would assert it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from concurrent import futures
from concurrent.futures import Future
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

# Each config reload brings new (equal) schema objects; forget old identities past this many.
_MAX_SCHEMA_OBJECTS = 10_000

# Keywords whose draft-07 and 2020-12 meanings agree, split by what their value holds.
_PLAIN = frozenset(
    {
        "type", "enum", "const", "required", "minProperties", "maxProperties", "minItems",
        "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum",
        # Annotations: no effect on validity in either draft.
        "title", "description", "default", "examples", "$comment", "deprecated", "readOnly",
        "writeOnly", "nullable", "example", "xml", "externalDocs",
    }
)  # fmt: skip
_ONE_SCHEMA = frozenset({"additionalProperties", "not", "items", "propertyNames"})
_SCHEMA_LIST = frozenset({"allOf", "anyOf", "oneOf"})
_SCHEMA_MAP = frozenset({"properties", "patternProperties"})
_DROPPED = frozenset({"format"})
# Bounds must be plain numbers: OpenAPI 3.0's boolean exclusiveMinimum means something else.
_NUMERIC = frozenset(
    {
        "minProperties", "maxProperties", "minItems", "maxItems", "minLength", "maxLength",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    }
)  # fmt: skip

_Fast = Callable[[Any], Any]


class _Validators:
    """One schema's jsonschema validator, and its compiled one once a worker has built it."""

    __slots__ = ("_pending", "fast", "full")

    def __init__(self, full: Draft202012Validator, pending: Future[_Fast | None] | None) -> None:
        self.full = full
        self.fast: _Fast | None = None
        self._pending = pending

    def compiled(self) -> _Fast | None:
        pending = self._pending
        if pending is not None and pending.done():
            self._pending = None
            if not pending.cancelled() and pending.exception() is None:
                self.fast = pending.result()
        return self.fast

    def wait(self, timeout: float | None) -> None:
        if self._pending is not None:
            futures.wait([self._pending], timeout=timeout)


class SchemaCache:
    """Validators by schema identity: packs are loaded once, validators reused per run.

    Compiling takes ~1.5 ms plus ~0.3 ms a property (a big provider schema, a good part of a
    second): too long to hold the event loop. So it happens on a worker thread, and until it is
    done, jsonschema alone judges; the verdict is the same either way.
    """

    def __init__(self) -> None:
        self._by_key: dict[str, _Validators] = {}
        # The same schema object comes back every run: find it by identity before serialising
        # it to a key (that json.dumps was 5% of the daemon's CPU). The entry keeps the schema
        # alive, so its id cannot be reused by another object.
        self._by_id: dict[int, tuple[Mapping[str, Any], _Validators]] = {}
        self._compiler: futures.ThreadPoolExecutor | None = None

    def validator(self, schema: Mapping[str, Any]) -> Draft202012Validator:
        return self._validators(schema).full

    def errors(self, schema: Mapping[str, Any], instance: Any) -> list[ValidationError]:
        """Every violation of `schema` by `instance`, as jsonschema names them ([] if none)."""
        found = self._validators(schema)
        fast = found.compiled()
        if fast is not None:
            try:
                fast(instance)
            except Exception:  # a violation, or a fault of the fast path: jsonschema decides
                pass
            else:
                return []
        return list(found.full.iter_errors(instance))

    def settle(self, timeout: float | None = None) -> None:
        """Wait until every compilation asked for so far is done (for tests and benchmarks)."""
        for found in self._by_key.values():
            found.wait(timeout)

    def close(self) -> None:
        """Drop compilations not yet started; one under way finishes in its thread."""
        if self._compiler is not None:
            self._compiler.shutdown(wait=False, cancel_futures=True)
            self._compiler = None

    def _validators(self, schema: Mapping[str, Any]) -> _Validators:
        known = self._by_id.get(id(schema))
        if known is not None and known[0] is schema:
            return known[1]
        key = json.dumps(schema, sort_keys=True)
        found = self._by_key.get(key)
        if found is None:
            found = self._by_key[key] = _Validators(Draft202012Validator(schema), self._compile(schema))
        if len(self._by_id) >= _MAX_SCHEMA_OBJECTS:
            self._by_id.clear()
        self._by_id[id(schema)] = (schema, found)
        return found

    def _compile(self, schema: Mapping[str, Any]) -> Future[_Fast | None] | None:
        portable = _portable(schema)
        if portable is None:
            return None
        if self._compiler is None:
            self._compiler = futures.ThreadPoolExecutor(1, thread_name_prefix="atom-schema-compile")
        return self._compiler.submit(_compile_portable, portable)


def _fast_validator(schema: Mapping[str, Any]) -> _Fast | None:
    """A compiled validator for a schema that means the same in draft-07, else None."""
    portable = _portable(schema)
    return None if portable is None else _compile_portable(portable)


def _compile_portable(portable: dict[str, Any]) -> _Fast | None:
    try:
        # use_default=False: fastjsonschema would otherwise write defaults into the body.
        return fastjsonschema.compile(portable, use_default=False)
    except Exception:  # anything it cannot compile is left to jsonschema
        return None


def _portable(schema: Any) -> Any:
    """`schema` without `format`, or None if any keyword's meaning differs between the drafts."""
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, Mapping):
        return None
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROPPED:
            continue
        if key in _NUMERIC and (isinstance(value, bool) or not isinstance(value, int | float)):
            return None
        if key in _PLAIN:
            out[key] = value
        elif key in _ONE_SCHEMA:
            if key == "items" and not isinstance(value, Mapping | bool):
                return None  # the array form means prefixItems in draft-07, an error in 2020-12
            out[key] = _portable(value)
        elif key in _SCHEMA_LIST:
            out[key] = [_portable(v) for v in value] if isinstance(value, list) else None
        elif key in _SCHEMA_MAP:
            out[key] = {k: _portable(v) for k, v in value.items()} if isinstance(value, Mapping) else None
        else:
            return None
        if _has_none(out[key]) and key not in _PLAIN:
            return None
    return out


def _has_none(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, list):
        return any(v is None for v in value)
    if isinstance(value, dict):
        return any(v is None for v in value.values())
    return False
