"""Judging one response against a pack's structured `expect`.

Every expectation yields an Assertion, passed or not, so a report can show all that held and all
that broke, with what was expected beside what was seen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from jsonschema.exceptions import best_match

from monitor.config.models import Condition, Expect, JsonType
from monitor.jsontypes import json_type
from monitor.model import Assertion
from monitor.probes.schemas import SchemaCache
from monitor.template import MISSING, lookup, render

_TYPES: dict[JsonType, tuple[type, ...]] = {
    JsonType.STRING: (str,),
    JsonType.NUMBER: (int, float),
    JsonType.INTEGER: (int,),
    JsonType.BOOLEAN: (bool,),
    JsonType.OBJECT: (dict,),
    JsonType.ARRAY: (list,),
    JsonType.NULL: (type(None),),
}


def evaluate(
    expect: Expect,
    *,
    status: int,
    headers: Mapping[str, str],
    body: Any,
    body_is_json: bool,
    variables: Mapping[str, Any],
    schemas: SchemaCache,
    graphql: bool = False,
    step: str | None = None,
) -> list[Assertion]:
    out: list[Assertion] = []
    if expect.status:
        wanted = " or ".join(str(s) for s in expect.status)
        out.append(Assertion("status", wanted, str(status), status in expect.status, step))
    else:
        out.append(Assertion("status", "2xx", str(status), 200 <= status < 300, step))
    needs_json = expect.schema_ is not None or bool(expect.body) or graphql
    if needs_json and not body_is_json:
        out.append(Assertion("body", "a JSON document", _describe_non_json(body), False, step))
        return out + [_header(n, c, headers, variables, step) for n, c in expect.headers.items()]
    if expect.schema_ is not None:
        out += _schema(expect.schema_, body, schemas, step)
    for path, cond in expect.body.items():
        out.append(_condition(f"body {path}", cond, lookup(body, path), variables, step))
    for name, cond in expect.headers.items():
        out.append(_header(name, cond, headers, variables, step))
    if graphql and not expect.graphql_errors:
        errors = body.get("errors") if isinstance(body, dict) else None
        seen = "none" if not errors else _graphql_messages(errors)
        out.append(Assertion("graphql errors", "none", seen, not errors, step))
    return out


def _schema(schema: Mapping[str, Any], body: Any, schemas: SchemaCache, step: str | None) -> list[Assertion]:
    errors = schemas.errors(schema, body)
    if not errors:
        return [Assertion("schema", "body matches schema", "matches", True, step)]
    out = []
    for err in sorted(errors, key=lambda e: list(e.absolute_path))[:10]:
        pointer = "/" + "/".join(str(p) for p in err.absolute_path)
        out.append(Assertion(f"schema {pointer}", _expected_of(err), _seen_of(err), False, step))
    if len(errors) > 10:
        top = best_match(errors)
        out.append(
            Assertion(
                "schema",
                "no further violations",
                f"{len(errors) - 10} more, e.g. {top.message[:80]}",
                False,
                step,
            )
        )
    return out


def _expected_of(err: Any) -> str:
    if err.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", err.message)
        return f"field {missing[0]!r} present" if missing else "required fields present"
    if err.validator == "type":
        return f"type {err.validator_value}"
    return f"{err.validator} {short(err.validator_value)}"


def _seen_of(err: Any) -> str:
    if err.validator == "required":
        return "missing"
    if err.validator == "type":
        return f"{json_type(err.instance)} {short(err.instance)}"
    return short(err.instance)


def _condition(
    name: str, cond: Condition, value: Any, variables: Mapping[str, Any], step: str | None
) -> Assertion:
    checks: list[tuple[str, bool]] = []
    present = value is not MISSING
    fields = cond.model_fields_set
    if "exists" in fields and cond.exists is not None:
        checks.append(("present" if cond.exists else "absent", present == cond.exists))
    if "equals" in fields:
        want = render(cond.equals, variables)
        checks.append((f"= {short(want)}", present and value == want))
    if "not_equals" in fields:
        want = render(cond.not_equals, variables)
        checks.append((f"!= {short(want)}", not present or value != want))
    if cond.type is not None:
        ok = (
            present
            and isinstance(value, _TYPES[cond.type])
            and not (isinstance(value, bool) and cond.type in (JsonType.NUMBER, JsonType.INTEGER))
        )
        checks.append((f"type {cond.type.value}", ok))
    if cond.contains is not None:
        want = str(render(cond.contains, variables))
        ok = present and (
            (isinstance(value, str) and want in value) or (isinstance(value, list) and want in value)
        )
        checks.append((f"contains {short(want)}", ok))
    if cond.matches is not None:
        ok = present and isinstance(value, str) and re.search(cond.matches, value) is not None
        checks.append((f"matches /{cond.matches}/", ok))
    if cond.min_items is not None:
        ok = present and isinstance(value, list | dict) and len(value) >= cond.min_items
        checks.append((f"at least {cond.min_items} items", ok))
    seen = "missing" if not present else f"{json_type(value)} {short(value)}"
    return Assertion(name, " and ".join(c for c, _ in checks), seen, all(ok for _, ok in checks), step)


def _header(
    name: str, cond: Condition, headers: Mapping[str, str], variables: Mapping[str, Any], step: str | None
) -> Assertion:
    lower = {k.lower(): v for k, v in headers.items()}
    value = lower.get(name.lower(), MISSING)
    return _condition(f"header {name}", cond, value, variables, step)


def _graphql_messages(errors: Any) -> str:
    if isinstance(errors, list):
        msgs = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
        return short("; ".join(msgs))
    return short(errors)


def _describe_non_json(body: Any) -> str:
    text = body if isinstance(body, str) else repr(body)
    return f"not JSON: {short(text)}" if text else "an empty body"


def short(value: Any, limit: int = 80) -> str:
    # Scalars spelled as json.dumps spells them, without its encoder: every condition shows the
    # value it saw, and json.dumps was 3% of the daemon's time (bench/README.md).
    kind = type(value)
    text: str
    if isinstance(value, str) and kind is str:
        text = value
    elif kind is bool or value is None:
        text = "true" if value is True else "false" if value is False else "null"
    elif kind is int:
        text = int.__repr__(value)
    else:
        text = json.dumps(value, default=str)
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
