"""Schema validation: jsonschema's verdict and messages, with a compiled fast path for bodies that
conform."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from monitor.probes.schemas import SchemaCache, _fast_validator

# Schemas a pack or a provider's spec really holds, each within the compiled subset.
PORTABLE: list[dict[str, Any]] = [
    {
        "type": "object",
        "required": ["ok", "service"],
        "properties": {"ok": {"type": "boolean"}, "service": {"type": "string"}},
    },
    {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["id"]}},
    {"type": ["integer", "null"], "minimum": 0, "exclusiveMaximum": 100},
    {"enum": [1, "a", None, True]},
    {"const": 0},
    {"type": "string", "pattern": "^[A-Z]{2,3}-\\d+$", "maxLength": 12, "format": "date-time"},
    {"anyOf": [{"type": "string"}, {"type": "number"}], "not": {"const": 3}},
    {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 2}]},
    {
        "type": "object",
        "properties": {"a": {"type": "object", "additionalProperties": {"type": "integer"}}},
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": False,
        "minProperties": 1,
    },
    {"type": "object", "propertyNames": {"maxLength": 2}, "maxProperties": 3},
    {"allOf": [{"type": "object"}, {"required": ["id"]}], "description": "annotated", "default": {}},
]

NOT_PORTABLE: list[dict[str, Any]] = [
    {"$ref": "#/$defs/x", "$defs": {"x": {"type": "string"}}},
    {"type": "array", "prefixItems": [{"type": "string"}]},
    {"type": "array", "items": [{"type": "string"}]},
    {"type": "object", "unevaluatedProperties": False},
    {"type": "number", "exclusiveMinimum": True},
    {"$schema": "http://json-schema.org/draft-04/schema#", "type": "string"},
    {"type": "object", "properties": {"a": {"dependentRequired": {"a": ["b"]}}}},
    {"type": "array", "uniqueItems": True},
]

# The array form of `items` is not even a valid 2020-12 schema: jsonschema cannot judge with it.
JUDGED = PORTABLE + [s for s in NOT_PORTABLE if not isinstance(s.get("items"), list)]

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 120) | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "a", "AB-12", "ABC-123456789", "x", "2026-11-23"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["ok", "service", "id", "a", "x-b", "abc"]), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


@pytest.mark.parametrize("schema", PORTABLE, ids=range(len(PORTABLE)))
def test_a_portable_schema_is_compiled(schema: dict[str, Any]) -> None:
    """Schemas whose keywords mean the same in draft-07 and 2020-12 get a compiled validator."""
    assert _fast_validator(schema) is not None


@pytest.mark.parametrize("schema", NOT_PORTABLE, ids=range(len(NOT_PORTABLE)))
def test_a_schema_that_differs_between_drafts_is_left_to_jsonschema(schema: dict[str, Any]) -> None:
    """$ref, prefixItems, unevaluatedProperties, boolean bounds or a declared $schema: no fast path."""
    assert _fast_validator(schema) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=_json, which=st.integers(0, len(JUDGED) - 1))
def test_errors_are_exactly_jsonschemas(instance: Any, which: int) -> None:
    """For any body, SchemaCache.errors finds what Draft 2020-12 jsonschema finds, no more, no less."""
    schema = JUDGED[which]
    expected = [e.message for e in Draft202012Validator(schema).iter_errors(instance)]
    cache = SchemaCache()
    before = [e.message for e in cache.errors(schema, instance)]  # compiled one maybe not ready
    cache.settle()
    assert before == [e.message for e in cache.errors(schema, instance)] == expected


def test_compiling_happens_on_a_worker_thread() -> None:
    """The compiled validator is built off the calling thread (the event loop in the daemon) and
    used once it is ready; a cache that is closed drops compilations not yet started."""
    import threading

    cache = SchemaCache()
    threads: list[str] = []
    schema = PORTABLE[0]
    with pytest.MonkeyPatch.context() as mp:
        from monitor.probes import schemas

        real = schemas._compile_portable

        def spy(s: dict[str, Any]) -> Any:
            threads.append(threading.current_thread().name)
            return real(s)

        mp.setattr(schemas, "_compile_portable", spy)
        cache.errors(schema, {"ok": True, "service": "x"})
        cache.settle()
    assert threads and threads[0].startswith("atom-schema-compile")
    assert cache._validators(schema).compiled() is not None
    cache.close()
    assert cache.errors(PORTABLE[1], []) != []  # still judged, by jsonschema


def test_format_is_an_annotation_as_in_jsonschema() -> None:
    """A string that breaks its `format` still conforms: neither path checks formats."""
    assert SchemaCache().errors({"type": "string", "format": "date-time"}, "not a date") == []


def test_defaults_are_never_written_into_the_body() -> None:
    """Validating a body leaves it as the provider sent it."""
    body: dict[str, Any] = {}
    SchemaCache().errors({"type": "object", "properties": {"a": {"default": 1}}}, body)
    assert body == {}


def test_schema_cache_reuses_a_validator_by_identity_and_by_content() -> None:
    """The same schema object, or an equal one from a reloaded config, gets the same compiled
    validator, and a different schema gets its own."""
    cache = SchemaCache()
    schema = {"type": "object", "required": ["id"]}
    first = cache.validator(schema)
    assert cache.validator(schema) is first
    assert cache.validator({"required": ["id"], "type": "object"}) is first
    assert cache.validator({"type": "array"}) is not first
