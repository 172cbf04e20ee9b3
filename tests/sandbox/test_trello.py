"""The Trello pack against the simulated Trello: healthy, faulted, and Trello's own habits (key and
token in the query string, plain-text errors, per-token rate-limit headers)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.auth import INVALID_CREDENTIAL
from monitor.model import Outcome
from monitor.sandbox.server import build_app
from monitor.specs import load_spec
from tests.sandbox.support import by_check, conformance_problems, run_pack, sandbox_config

# Every category a pack covers, and the contract checks of the provider's contract.
CATEGORIES = ("auth", "retrieval", "crud", "error", "latency", "contract")

SPEC = "trello/trello-openapi.json"
BOARD, LIST = "5abbe4b7ddc1b351ef961414", "5abbe4b7ddc1b351ef961430"
BLOCK = f"""
pack: trello
auth: {{kind: query, params: {{key: sandbox-trello-key, token: sandbox-trello-token}}}}
vars: {{board_id: {BOARD}, list_id: {LIST}}}
"""


async def test_healthy_run_passes_and_conforms(tmp_path: Path, provider_specs: Path) -> None:
    """Every check passes, all five categories and contract are covered, and every exchange fits the spec."""
    results, exchanges = await run_pack(sandbox_config(tmp_path, "trello", BLOCK))
    assert all(r.outcome is Outcome.PASS for r in results), [(r.check, r.reason) for r in results]
    assert {r.category.value for r in results} == set(CATEGORIES)
    assert conformance_problems(load_spec(provider_specs / SPEC), SPEC, exchanges) == []


async def test_expired_token_fails_auth_valid(tmp_path: Path) -> None:
    """With every token rejected, auth_valid fails on Trello's 401 and the refusal still passes."""
    results, _ = await run_pack(sandbox_config(tmp_path, "trello", BLOCK, "trello: [{kind: expired_token}]"))
    got = by_check(results)
    assert got["auth_valid"].outcome is Outcome.FAIL
    assert got["auth_valid"].http_status == 401
    assert got["auth_invalid"].outcome is Outcome.PASS


async def test_key_and_token_never_reach_evidence_or_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The query-string key and token are redacted from evidence, result JSON, logs and the store."""
    key, token = secrets.token_hex(16), secrets.token_hex(32)
    block = BLOCK.replace("sandbox-trello-key", key).replace("sandbox-trello-token", token)
    results, _ = await run_pack(sandbox_config(tmp_path, "trello", block))
    assert all(r.outcome is Outcome.PASS for r in results), [(r.check, r.reason) for r in results]
    auth = by_check(results)["auth_valid"]
    assert auth.evidence is not None
    assert "key=[REDACTED]&token=[REDACTED]" in auth.evidence.request
    for r in results:
        text = str(r.to_dict())
        assert key not in text and token not in text, r.check
    stored = (tmp_path / "results.db").read_bytes()
    assert key.encode() not in stored and token.encode() not in stored
    logs = capsys.readouterr()
    assert key not in logs.out + logs.err and token not in logs.out + logs.err


async def test_ratelimit_headers_are_read_per_token(tmp_path: Path) -> None:
    """The x-rate-limit-api-token-* headers give each result Trello's 100-per-10s token quota."""
    results, _ = await run_pack(sandbox_config(tmp_path, "trello", BLOCK))
    rl = by_check(results)["auth_valid"].ratelimit
    assert rl is not None and rl.limit == 100 and rl.remaining is not None and 0 <= rl.remaining < 100


async def test_bad_key_and_bad_token_are_told_apart_in_plain_text() -> None:
    """An unknown key is 401 `invalid key`, a known key with a wrong token 401 `invalid token`."""
    app = build_app(credentials={"trello": ["k123:t456"]}, providers=["trello"])
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        bad_key = await client.get(
            "/trello/1/members/me", params={"key": INVALID_CREDENTIAL, "token": "t456"}
        )
        assert bad_key.status == 401 and await bad_key.text() == "invalid key"
        assert bad_key.content_type == "text/plain"
        bad_token = await client.get("/trello/1/members/me", params={"key": "k123", "token": "nope"})
        assert bad_token.status == 401 and await bad_token.text() == "invalid token"
        ok = await client.get("/trello/1/members/me", params={"key": "k123", "token": "t456"})
        assert ok.status == 200 and (await ok.json())["username"] == "atommonitor"
        missing = await client.get(
            "/trello/1/cards/0123456789abcdef01234567", params={"token": "t456", "key": "k123"}
        )
        assert missing.status == 404 and await missing.text() == "The requested resource was not found."
