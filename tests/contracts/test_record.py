"""Recording: scrubbed response headers and bodies with Content-Length fixed, a guard that writes
nothing when a secret survives, and a record -> replay round trip with no server running."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import vcr
import yaml
from vcr.request import Request

from monitor.config import ProbeKind, load_config
from monitor.contracts.record import (
    SecretInCassette,
    find_secrets,
    record,
    scrub_request,
    scrub_response,
    write_cassette,
)
from monitor.engine import start_engine
from monitor.model import Outcome
from monitor.scrub import REDACTED, Scrubber
from tests.conftest import ROOT

SECRET = "configured-secret-value-42"
SHAPES = [
    "ghp_" + "a" * 36,
    "gho_" + "b" * 36,
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
    "xoxb-1234567890-abcdefghij",
    "xoxp-1234567890-abcdefghij",
    "xoxa-1234567890-abcdefghij",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    "Bearer abcdefghijklmnop",
    "access_token=abcdefghijklmnop",
    '"refresh_token": "abcdefghijklmnop"',
]


def _cassette(body: str, headers: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "GET", "uri": "http://h/x", "body": None, "headers": {}},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": headers or {},
                    "body": {"string": body},
                },
            }
        ],
    }


@pytest.mark.parametrize("leak", [SECRET, *SHAPES])
def test_guard_refuses_a_secret_in_a_body_and_writes_nothing(tmp_path: Path, leak: str) -> None:
    """A configured secret or any provider token shape left in a body refuses the cassette; no file."""
    path = tmp_path / "c.yaml"
    with pytest.raises(SecretInCassette, match="survived scrubbing") as info:
        write_cassette(path, _cassette(f"echo {leak} end"), Scrubber([SECRET]))
    assert leak not in str(info.value)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_guard_refuses_a_secret_in_a_response_header(tmp_path: Path) -> None:
    """A Set-Cookie or token-bearing response header refuses the cassette, writing nothing."""
    path = tmp_path / "c.yaml"
    for headers in ({"Set-Cookie": ["sid=abc"]}, {"X-Echo": [SECRET]}):
        with pytest.raises(SecretInCassette):
            write_cassette(path, _cassette("{}", headers), Scrubber([SECRET]))
    assert not path.exists()


def test_response_headers_and_body_scrubbed_and_content_length_fixed() -> None:
    """Response headers by name and value, JSON bodies by key and shape; Content-Length matches the body."""
    body = json.dumps({"access_token": "abcdefghijkl", "note": f"key {SECRET}", "n": 1}).encode()
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Set-Cookie": ["sid=abc"], "X-Echo": [SECRET], "Content-Length": [str(len(body))]},
        "body": {"string": body},
    }
    out = scrub_response(Scrubber([SECRET]), response)
    assert out["headers"]["Set-Cookie"] == [REDACTED] and out["headers"]["X-Echo"] == [REDACTED]
    new = out["body"]["string"]
    assert json.loads(new) == {"access_token": REDACTED, "note": f"key {REDACTED}", "n": 1}
    assert out["headers"]["Content-Length"] == [str(len(new))]
    assert not find_secrets(_cassette(new.decode(), out["headers"]), Scrubber([SECRET]))


async def test_record_then_replay_without_the_sandbox(tmp_path: Path) -> None:
    """`record github` against the in-process sandbox writes scrubbed cassettes with provenance;
    replayed with vcrpy in record mode `none`, every contract check passes with no server at all."""
    config = load_config(ROOT / "config.yaml").select(["github"])
    paths, results = await record(config, "github", include_writes=True, out_dir=tmp_path)
    assert [p.name for p in paths] == ["read.yaml", "writes.yaml"]
    assert all(r.outcome is Outcome.PASS for r in results)
    text = paths[0].read_text()
    assert "sandbox-github-token" not in text and "[REDACTED]" in text
    meta = yaml.safe_load(text)["metadata"]["provenance"]
    assert meta["api_version"] == "2022-11-28" and meta["base_path"] == "/github"
    assert {"recorded_at", "base_url_host", "monitor_version"} <= set(meta)

    # Replay: an address where nothing listens; only the cassette can answer.
    offline = config.with_base_urls({"github": "http://127.0.0.1:9/github"})
    file = offline.file.model_copy(
        update={
            "sandbox": offline.file.sandbox.model_copy(update={"enabled": False}),
            "monitor": offline.file.monitor.model_copy(update={"store": "sqlite:///:memory:"}),
        }
    )
    offline = dataclasses.replace(offline, file=file)
    with vcr.use_cassette(str(paths[0]), record_mode="none", match_on=["method", "path", "query"]):
        async with start_engine(offline, recordable=True) as engine:
            checks = [c for c in engine.config.checks if c.kind is ProbeKind.CONTRACT]
            replayed = await engine.run_once(checks)
    assert len(replayed) == 4 and all(r.outcome is Outcome.PASS for r in replayed), replayed


def test_unserialised_request_bodies_are_written_as_scrubbed_json() -> None:
    """aiohttp's `json=` (a GraphQL query) and form fields (an OAuth2 refresh) reach vcrpy as
    Python objects: they are written as JSON, secrets redacted key by key, never as a repr."""
    graphql = Request("POST", "http://h/graphql", {"query": "query V { viewer { id } }", "variables": {}}, {})
    assert json.loads(scrub_request(Scrubber([SECRET]), graphql).body) == {
        "query": "query V { viewer { id } }",
        "variables": {},
    }
    form = {"grant_type": "refresh_token", "refresh_token": SECRET, "client_id": "app"}
    body = scrub_request(Scrubber([SECRET]), Request("POST", "http://h/token", form, {})).body
    assert json.loads(body) == {"grant_type": "refresh_token", "refresh_token": REDACTED, "client_id": "app"}
