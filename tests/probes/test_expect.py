"""Expectations: every rule yields an assertion with what was expected beside what was seen."""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitor.config.models import Expect
from monitor.probes.expect import evaluate, short
from monitor.probes.schemas import SchemaCache


def _eval(
    expect: dict[str, Any],
    status: int = 200,
    body: Any = None,
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> list[Any]:
    return evaluate(
        Expect.model_validate(expect),
        status=status,
        headers=headers or {},
        body=body,
        body_is_json=kw.pop("is_json", True),
        variables=kw.pop("variables", {}),
        schemas=SchemaCache(),
        **kw,
    )


def test_status_defaults_to_2xx() -> None:
    """Without `status`, any 2xx passes and a 500 fails."""
    assert all(a.passed for a in _eval({}, 204))
    [a] = _eval({}, 500)
    assert (a.expected, a.actual, a.passed) == ("2xx", "500", False)


def test_slack_http_200_that_lies_fails_on_ok_false() -> None:
    """HTTP 200 with `ok: false` fails the `ok: true` body condition: status alone is not success."""
    out = _eval({"status": 200, "body": {"ok": True}}, 200, {"ok": False, "error": "invalid_auth"})
    assert [a.passed for a in out] == [True, False]
    assert out[1].actual == "boolean false"


def test_schema_violations_name_the_pointer() -> None:
    """A removed field and a retyped field each give one failed assertion naming its JSON pointer."""
    schema = {
        "type": "object",
        "required": ["id", "login"],
        "properties": {"id": {"type": "integer"}, "login": {"type": "string"}},
    }
    out = _eval({"schema": schema}, 200, {"id": "12"})
    failed = {a.name: (a.expected, a.actual) for a in out if not a.passed}
    assert failed == {
        "schema /": ("field 'login' present", "missing"),
        "schema /id": ("type integer", "string 12"),
    }


def test_non_json_body_fails_when_json_is_needed() -> None:
    """A garbage body is a failed `body` assertion, not a crash."""
    out = _eval({"body": {"ok": True}}, 200, "<html>oops", is_json=False)
    assert out[-1].name == "body" and not out[-1].passed and "not JSON" in out[-1].actual


def test_conditions_and_templates() -> None:
    """contains/matches/type/exists/min_items work, and expected values take `{{vars}}`."""
    body = {"text": "hello run-42", "items": [1, 2], "n": 3}
    out = _eval(
        {
            "body": {
                "text": {"contains": "{{run_id}}", "matches": "^hello"},
                "items": {"min_items": 2, "type": "array"},
                "n": {"type": "integer", "not_equals": 4},
                "gone": {"exists": False},
            }
        },
        200,
        body,
        variables={"run_id": "run-42"},
    )
    assert all(a.passed for a in out), [a.describe() for a in out if not a.passed]


def test_header_condition_is_case_insensitive() -> None:
    """Header names match regardless of case, as HTTP says."""
    out = _eval(
        {"headers": {"Content-Type": {"contains": "json"}}},
        200,
        {},
        headers={"content-type": "application/json"},
    )
    assert all(a.passed for a in out)


def test_graphql_errors_with_http_200_fail() -> None:
    """A GraphQL `errors` array with HTTP 200 is a failed assertion."""
    out = _eval({}, 200, {"data": None, "errors": [{"message": "Authentication required"}]}, graphql=True)
    assert (
        out[-1].name == "graphql errors"
        and not out[-1].passed
        and "Authentication required" in out[-1].actual
    )


@pytest.mark.parametrize(
    "value", [True, False, None, 0, -7, 2**70, 1.5, float("nan"), "a\nb", [1, "x"], {"k": None}]
)
def test_short_spells_a_value_as_json_does(value: object) -> None:
    """A seen value is shown in JSON's spelling (true, null, 1.5), newlines flattened."""
    assert short(value) == json.dumps(value, default=str).replace("\n", " ") or (
        isinstance(value, str) and short(value) == value.replace("\n", " ")
    )
