"""Schemathesis against the daemon's own API: generated requests to every operation of the
OpenAPI document the daemon serves never produce a 5xx, and every response conforms to it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ADMIN, http_get

schemathesis = pytest.importorskip("schemathesis")
pytestmark = pytest.mark.e2e


def test_api_conforms_to_its_openapi_document(daemon: dict[str, Any]) -> None:
    """For each operation, bounded generated cases (with and without the admin token) get
    documented, schema-conformant answers and never a server error."""
    status, body = http_get(f"{daemon['url']}/api/v1/openapi.json")
    assert status == 200
    schema = schemathesis.openapi.from_dict(json.loads(body))
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 7
    checked: list[str] = []
    for op in operations:
        _generated_cases(op, daemon["url"])()
        checked.append(op.label)
    assert "POST /api/v1/reload" in checked


def _generated_cases(op: Any, base_url: str) -> Any:
    """A hypothesis test over one operation's generated cases (a closure: @given forbids defaults)."""

    @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(), admin=st.booleans())
    def run(case: Any, admin: bool) -> None:
        headers = {"Authorization": f"Bearer {ADMIN}"} if admin else {}
        if op.path == "/api/v1/runs" and isinstance(case.body, dict):
            case.body["wait"] = False  # a generated run must not hold the test for a full round
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        assert response.status_code < 500, (op.label, response.status_code, response.text[:300])
        case.validate_response(response)

    return run
