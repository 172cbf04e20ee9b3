"""Drift: a live response compared with its contract operation, with pointer and types."""

from __future__ import annotations

from monitor.contracts.drift import Drift, DriftKind, compare
from monitor.contracts.model import ContractOperation

OP = ContractOperation.model_validate(
    {
        "method": "GET",
        "path": "/auth.test",
        "check": "auth_valid",
        "read_only": True,
        "response": {
            "type": "object",
            "required": ["ok", "user_id"],
            "properties": {"ok": {"const": True}, "user_id": {"type": "string"}},
        },
    }
)


def _compare(body: object, status: int = 200, ctype: str = "application/json; charset=utf-8") -> list[Drift]:
    return compare(OP, status=status, content_type=ctype, body=body, body_is_json=True)


def test_conforming_response_has_no_drift() -> None:
    """A response with every contracted field, type, status and content type is not drift."""
    assert _compare({"ok": True, "user_id": "U1", "extra": 1}) == []


def test_each_kind_of_drift_is_named_with_pointer_and_types() -> None:
    """Removed field, changed type, new status and changed content type each give their own drift."""
    assert _compare({"ok": True}) == [Drift(DriftKind.REMOVED, "/user_id", "type string", "missing")]
    assert _compare({"ok": True, "user_id": 7}) == [
        Drift(DriftKind.RETYPED, "/user_id", "type string", "type integer")
    ]
    assert _compare({"ok": True, "user_id": "U1"}, status=201) == [
        Drift(DriftKind.STATUS, "", "status 200", "status 201")
    ]
    assert _compare({"ok": True, "user_id": "U1"}, ctype="text/html") == [
        Drift(DriftKind.CONTENT_TYPE, "", "content type application/json", "text/html")
    ]


def test_slack_http_200_with_ok_false_is_a_violation() -> None:
    """Slack's HTTP 200 that lies (ok: false) breaks the contract and shows Slack's error."""
    drifts = _compare({"ok": False, "error": "invalid_auth"})
    assert drifts[0] == Drift(DriftKind.VIOLATION, "/ok", "const true", "boolean false (error invalid_auth)")
