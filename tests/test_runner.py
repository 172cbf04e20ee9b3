"""The runner owns timeout, timing and outcome; probes only report. Real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from monitor.config.models import BearerAuth, OAuth2RefreshAuth
from monitor.model import Category, Outcome
from monitor.runner import new_run_id, run_check
from tests.conftest import make_check, make_integration


class Provider:
    """A tiny provider whose behaviour each test sets; it records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.objects: set[str] = set()
        self.fail_update = False
        self.hang_read = False
        self.token_delay = 0.0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ok", self.ok)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/limited", self.limited)
        app.router.add_get("/echo", self.echo)
        app.router.add_post("/things", self.create)
        app.router.add_get("/things/{id}", self.read)
        app.router.add_patch("/things/{id}", self.update)
        app.router.add_delete("/things/{id}", self.delete)
        app.router.add_post("/oauth/token", self.token)
        app.router.add_get("/me", self.me)
        app.router.add_get("/query", self.query)
        return app

    async def query(self, r: web.Request) -> web.Response:
        return web.json_response({"q": r.query_string})

    async def ok(self, r: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def slow(self, r: web.Request) -> web.Response:
        await asyncio.sleep(float(r.query.get("s", "5")))
        return web.json_response({"ok": True})

    async def limited(self, r: web.Request) -> web.Response:
        return web.json_response({"message": "slow down"}, status=429, headers={"Retry-After": "30"})

    async def echo(self, r: web.Request) -> web.Response:
        return web.json_response({"you_sent": r.headers.get("Authorization", "")}, status=500)

    async def create(self, r: web.Request) -> web.Response:
        body = await r.json()
        oid = f"t{len(self.objects) + 1}"
        self.objects.add(oid)
        self.calls.append(f"create {body['name']}")
        return web.json_response({"id": oid}, status=201)

    async def read(self, r: web.Request) -> web.Response:
        self.calls.append("read")
        if self.hang_read:
            await asyncio.sleep(10)
        return web.json_response({"id": r.match_info["id"]})

    async def update(self, r: web.Request) -> web.Response:
        self.calls.append("update")
        if self.fail_update:
            return web.json_response({"error": "boom"}, status=500)
        return web.json_response({"id": r.match_info["id"]})

    async def delete(self, r: web.Request) -> web.Response:
        self.calls.append("delete")
        self.objects.discard(r.match_info["id"])
        return web.Response(status=204)

    async def token(self, r: web.Request) -> web.Response:
        await asyncio.sleep(self.token_delay)
        form = await r.post()
        if form.get("refresh_token") == "limited-refresh":
            return web.json_response({"error": "rate_limited"}, status=429, headers={"Retry-After": "60"})
        rotation = {"rotating-1": "rotating-2", "rotating-2": "rotating-3"}
        if form.get("refresh_token") in rotation and form["refresh_token"] not in self.objects:
            # Like Xero: every refresh returns a new refresh token and retires the one used.
            self.objects.add(str(form["refresh_token"]))
            new = rotation[str(form["refresh_token"])]
            return web.json_response(
                {"access_token": "fresh-access-123", "expires_in": 0, "refresh_token": new}
            )
        if form.get("refresh_token") != "good-refresh":
            return web.json_response({"error": "invalid_grant"}, status=400)
        return web.json_response(
            {"access_token": "fresh-access-123", "expires_in": 3600, "token_type": "Bearer"}
        )

    async def me(self, r: web.Request) -> web.Response:
        if r.headers.get("Authorization") != "Bearer fresh-access-123":
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"id": "u1"})


CRUD = """
category: crud
steps:
  - name: create
    request: {method: POST, path: /things, json: {name: "probe {{run_id}}"}}
    expect: {status: 201}
    capture: {thing_id: id}
  - name: read
    request: {method: GET, path: "/things/{{thing_id}}"}
  - name: update
    request: {method: PATCH, path: "/things/{{thing_id}}", json: {name: x}}
  - name: delete
    cleanup: true
    request: {method: DELETE, path: "/things/{{thing_id}}"}
    expect: {status: 204}
"""


@pytest.fixture
async def provider(aiohttp_server: Any) -> Any:
    p = Provider()
    server = await aiohttp_server(p.app(), host="127.0.0.1")
    p.url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return p


async def test_pass(provider: Any, probe_context: Any) -> None:
    """A request meeting every expectation passes, with its duration measured."""
    check = make_check("category: retrieval\nhttp: {path: /ok}\nexpect: {body: {ok: true}}")
    r = await run_check(check, probe_context(make_integration(provider.url)))
    assert (r.outcome, r.category, r.http_status) == (Outcome.PASS, Category.RETRIEVAL, 200)
    assert r.duration_s > 0 and r.reason == "all 2 assertions held"


async def test_query_booleans_are_sent_lowercase(provider: Any, probe_context: Any) -> None:
    """A YAML boolean in a pack's query is sent as `true`/`false`, the way HTTP APIs spell it."""
    check = make_check(
        "category: retrieval\nhttp: {path: /query, query: {archived: false, flag: true, n: 3}}\n"
        "expect: {body: {q: archived=false&flag=true&n=3}}"
    )
    r = await run_check(check, probe_context(make_integration(provider.url)))
    assert r.outcome is Outcome.PASS, r.assertions


async def test_timeout_is_an_error_not_a_failure(provider: Any, probe_context: Any) -> None:
    """A provider that does not answer within the timeout is `error` with the timeout in the reason."""
    check = make_check("category: latency\nhttp: {path: /slow}", timeout=0.2)
    r = await run_check(check, probe_context(make_integration(provider.url)))
    assert r.outcome is Outcome.ERROR and r.reason == "no answer within the 200ms timeout"
    # The time it took to give up, not the 5 s the provider would have taken (a bound with room
    # for a pause of the machine or the collector: timing is not what this test is about).
    assert 0.2 <= r.duration_s < 5.0


async def test_duration_is_the_providers_time_not_ours(provider: Any, probe_context: Any) -> None:
    """Time we spend on an answer after it arrived (here 0.3 s, as a huge body's schema might take)
    is not in the check's duration: it is the provider's time, not ours."""
    check = make_check("category: latency\nhttp: {path: /slow, query: {s: 0.1}}\nexpect: {status: 200}")
    ctx = probe_context(make_integration(provider.url))
    ctx.observer = lambda _exchange: time.sleep(0.3)
    t0 = time.perf_counter()
    r = await run_check(check, ctx)
    wall = time.perf_counter() - t0
    assert r.outcome is Outcome.PASS
    assert 0.1 <= r.duration_s <= wall - 0.3


async def test_duration_of_steps_sums_their_exchanges(provider: Any, probe_context: Any) -> None:
    """A CRUD check's duration is its four requests' time, without the work between them."""
    ctx = probe_context(make_integration(provider.url))
    ctx.observer = lambda _exchange: time.sleep(0.1)
    t0 = time.perf_counter()
    r = await run_check(make_check(CRUD), ctx)
    wall = time.perf_counter() - t0
    assert r.outcome is Outcome.PASS and provider.calls[-1] == "delete"
    assert 0 < r.duration_s <= wall - 4 * 0.1


async def test_duration_includes_the_token_endpoint(provider: Any, probe_context: Any) -> None:
    """Waiting for an OAuth2 token endpoint is the provider's time too, so it is in the duration."""
    provider.token_delay = 0.2
    r = await run_check(
        make_check("category: auth\nhttp: {path: /me}"),
        probe_context(make_integration(provider.url, _oauth("good-refresh"))),
    )
    assert r.outcome is Outcome.PASS and r.duration_s >= 0.2


async def test_connection_refused_is_an_error(probe_context: Any) -> None:
    """A port nobody listens on is `error` naming host and port."""
    from tests.conftest import free_port

    port = free_port()
    r = await run_check(
        make_check("category: auth\nhttp: {path: /ok}"),
        probe_context(make_integration(f"http://127.0.0.1:{port}")),
    )
    assert r.outcome is Outcome.ERROR and f"cannot connect to 127.0.0.1:{port}" in r.reason


async def test_429_is_skipped_with_retry_after(provider: Any, probe_context: Any) -> None:
    """A 429 means nothing was judged: `skipped`, with the provider's Retry-After recorded."""
    r = await run_check(
        make_check("category: retrieval\nhttp: {path: /limited}"),
        probe_context(make_integration(provider.url)),
    )
    assert r.outcome is Outcome.SKIPPED and "retry after 30s" in r.reason
    assert r.ratelimit is not None and r.ratelimit.retry_after_s == 30


async def test_unknown_variable_is_an_error(provider: Any, probe_context: Any) -> None:
    """A check that references an undefined variable cannot be run: `error`, naming the variable."""
    r = await run_check(
        make_check("category: retrieval\nhttp: {path: '/x/{{nope}}'}"),
        probe_context(make_integration(provider.url)),
    )
    assert r.outcome is Outcome.ERROR and "{{nope}}" in r.reason


async def test_latency_budget_is_an_assertion(provider: Any, probe_context: Any) -> None:
    """A check slower than its `latency_under` fails on a latency assertion."""
    check = make_check("category: latency\nhttp: {path: /slow, query: {s: '0.15'}}", latency_under=0.05)
    r = await run_check(check, probe_context(make_integration(provider.url)))
    assert r.outcome is Outcome.FAIL and r.reason.startswith("latency: expected under 50ms, got ")


async def test_crud_lifecycle_passes_and_names_objects_with_run_id(provider: Any, probe_context: Any) -> None:
    """Create, read, update, delete run in order with the captured id, and nothing is left behind."""
    r = await run_check(make_check(CRUD), probe_context(make_integration(provider.url)))
    assert r.outcome is Outcome.PASS, r.reason
    assert provider.calls == ["create probe run-1", "read", "update", "delete"]
    assert provider.objects == set()


async def test_cleanup_runs_after_a_failed_step(provider: Any, probe_context: Any) -> None:
    """When update fails, delete still runs, and the check fails on the update step."""
    provider.fail_update = True
    r = await run_check(make_check(CRUD), probe_context(make_integration(provider.url)))
    assert r.outcome is Outcome.FAIL and r.reason.startswith("update: status: expected 2xx, got 500")
    assert provider.calls[-1] == "delete" and provider.objects == set()


async def test_cleanup_runs_after_a_timeout(provider: Any, probe_context: Any) -> None:
    """When a step hangs past the timeout, the check is `error` and delete still runs."""
    provider.hang_read = True
    check = make_check(CRUD, timeout=0.3)
    r = await run_check(check, probe_context(make_integration(provider.url)))
    assert r.outcome is Outcome.ERROR and "timeout" in r.reason
    assert provider.calls[-1] == "delete" and provider.objects == set()


async def test_oauth2_refresh_then_fresh_token(provider: Any, probe_context: Any) -> None:
    """The refresh-token grant is exercised and its fresh access token is used for the call."""
    r = await run_check(
        make_check("category: auth\nhttp: {path: /me}"),
        probe_context(make_integration(provider.url, _oauth("good-refresh"))),
    )
    assert r.outcome is Outcome.PASS, r.reason
    assert [a.name for a in r.assertions][:1] == ["token endpoint"]


async def test_oauth2_invalid_grant_fails_auth(provider: Any, probe_context: Any) -> None:
    """A refresh token the provider refuses fails the check at the token endpoint, with its error."""
    auth = OAuth2RefreshAuth(
        kind="oauth2_refresh",
        token_url="/oauth/token",
        client_id="c",
        client_secret=SecretStr("cs"),
        refresh_token=SecretStr("revoked"),
    )
    r = await run_check(
        make_check("category: auth\nhttp: {path: /me}"), probe_context(make_integration(provider.url, auth))
    )
    assert r.outcome is Outcome.FAIL
    assert (
        r.reason == "oauth2 refresh: token endpoint: expected HTTP 200 with an access_token, "
        "got HTTP 400 invalid_grant"
    )


async def test_echoed_secret_is_scrubbed_from_evidence(provider: Any, probe_context: Any) -> None:
    """A provider echoing our token back cannot put it in the result's evidence or reason."""
    auth = BearerAuth(kind="bearer", token=SecretStr("my-very-secret-token"))
    ctx = probe_context(make_integration(provider.url, auth), secrets=("my-very-secret-token",))
    r = await run_check(make_check("category: error\nhttp: {path: /echo}"), ctx)
    assert r.outcome is Outcome.FAIL
    assert r.evidence is not None and "[REDACTED]" in r.evidence.body_excerpt
    assert "my-very-secret-token" not in repr(r.to_dict())


def _oauth(refresh: str) -> OAuth2RefreshAuth:
    return OAuth2RefreshAuth(
        kind="oauth2_refresh",
        token_url="/oauth/token",
        client_id="c",
        client_secret=SecretStr("cs"),
        refresh_token=SecretStr(refresh),
    )


async def test_oauth2_rotated_refresh_token_is_used_next(provider: Any, probe_context: Any) -> None:
    """A provider that rotates refresh tokens keeps working: the next refresh uses the new token."""
    ctx = probe_context(make_integration(provider.url, _oauth("rotating-1")))
    check = make_check("category: auth\nhttp: {path: /me}")
    first = await run_check(check, ctx)
    second = await run_check(check, ctx)  # the access token expired at once: refresh again
    assert (first.outcome, second.outcome) == (Outcome.PASS, Outcome.PASS), second.reason
    assert provider.objects == {"rotating-1", "rotating-2"}


async def test_oauth2_token_endpoint_429_is_skipped(provider: Any, probe_context: Any) -> None:
    """A token endpoint that rate-limits us skips the check with the wait, rather than failing auth."""
    ctx = probe_context(make_integration(provider.url, _oauth("limited-refresh")))
    r = await run_check(make_check("category: auth\nhttp: {path: /me}"), ctx)
    assert r.outcome is Outcome.SKIPPED
    assert r.reason == "rate limited by the provider (HTTP 429; retry after 1m)"


async def test_concurrent_checks_share_one_oauth2_refresh(provider: Any, probe_context: Any) -> None:
    """Checks that start together wait for one refresh instead of each spending one (which a
    rotating provider would punish by retiring the token the others present)."""
    ctx = probe_context(make_integration(provider.url, _oauth("good-refresh")))
    # (auth checks always exercise the token endpoint; other categories reuse a fresh token)
    check = make_check("category: retrieval\nhttp: {path: /me}")
    # A context per run, as the engine builds them, all sharing the engine's token cache.
    runs = [dataclasses.replace(ctx, run_id=f"run-{n}") for n in range(5)]
    results = await asyncio.gather(*(run_check(check, c) for c in runs))
    assert all(r.outcome is Outcome.PASS for r in results)
    refreshed = [r for r in results if any(a.name == "token endpoint" for a in r.assertions)]
    assert len(refreshed) == 1


def test_run_ids_are_the_utc_second_and_a_random_suffix() -> None:
    """A run id starts with the UTC second it was made in and is unique among many made at once."""
    before = datetime.now(UTC).replace(microsecond=0)
    ids = [new_run_id() for _ in range(10_000)]
    after = datetime.now(UTC)
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"\d{14}-[0-9a-f]{8}", i) for i in ids)
    stamp = datetime.strptime(ids[-1][:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    assert before <= stamp <= after + timedelta(seconds=1)
