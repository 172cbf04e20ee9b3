"""The `fuzz` check: schemathesis against an integration's own OpenAPI document, bounded, off the
event loop, each finding a failed assertion with a scrubbed curl reproduction.

The service under test (tests/probes/fuzz_service.py) runs on 127.0.0.1 in a thread with its own
event loop, so the loop running the probe does nothing but the probe.
"""

from __future__ import annotations

import asyncio
import gc
import json
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from monitor.config import ProbeKind, ResolvedCheck, load_config
from monitor.config.models import BearerAuth, CheckSpec, RequestSpec
from monitor.config.resolved import FUZZ_CHECK, FuzzTarget
from monitor.httpclient import HttpClient
from monitor.model import Category, CheckResult, Outcome
from monitor.probes import ProbeContext
from monitor.runner import run_check
from monitor.scrub import Scrubber
from tests.conftest import free_port, make_integration
from tests.probes.fuzz_service import DOCUMENT, Service, serve_in_thread

pytest.importorskip("schemathesis")

TOKEN = "own-service-token-5f2c9a71"


@pytest.fixture
def collector_held() -> Iterator[None]:
    """The garbage collector off for one timed test. A full collection stops every thread, the
    loop's too, for as long as the heap is big: late in a whole test run (half a million objects)
    that is 0.4-0.9 s (measured with gc.callbacks over the suite), triggered by whichever thread
    allocates, and not a call the probe makes. The daemon freezes its startup heap for the same
    reason (monitor/daemon.py)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def fuzz_check(
    openapi: str,
    *,
    max_examples: int = 20,
    budget: float = 20.0,
    request_timeout: float = 5.0,
    timeout: float = 60,
) -> ResolvedCheck:
    return ResolvedCheck(
        integration="orders",
        name=FUZZ_CHECK,
        category=Category.ERROR,
        kind=ProbeKind.FUZZ,
        spec=CheckSpec(category=Category.ERROR, http=RequestSpec(path="/")),
        interval=3600,
        timeout=timeout,
        latency_under=None,
        headers={},
        fuzz=FuzzTarget(openapi, max_examples, budget, request_timeout=5.0),
    )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def context(session: aiohttp.ClientSession, base_url: str) -> ProbeContext:
    integration = make_integration(base_url, auth=BearerAuth(kind="bearer", token=TOKEN), name="orders")
    # The fuzz probe sends through the session; `http` (the checks' client) is never opened.
    http = HttpClient(user_agent="atom-monitor-tests")
    return ProbeContext(
        session=session, http=http, integration=integration, run_id="run-1", scrubber=Scrubber([TOKEN])
    )


@pytest.fixture
def buggy() -> Iterator[tuple[Service, str]]:
    service = Service(token=TOKEN, server_error=True, missing_field=True)
    with serve_in_thread(service) as url:
        yield service, url


@pytest.fixture
def correct() -> Iterator[tuple[Service, str]]:
    service = Service(token=TOKEN)
    with serve_in_thread(service) as url:
        yield service, url


def failed(result: CheckResult) -> dict[str, Any]:
    return {a.name: a for a in result.assertions if not a.passed}


async def test_planted_server_error_is_found_with_a_scrubbed_curl_that_reproduces_it(
    session: aiohttp.ClientSession, buggy: tuple[Service, str]
) -> None:
    """A 500 for even order ids is found within the budget and reported as a failed `error`-category
    assertion whose curl reproduction carries no configured secret and really reproduces the 500."""
    _, url = buggy
    result = await run_check(fuzz_check(f"{url}/openapi.json", budget=20), context(session, url))
    assert result.category is Category.ERROR
    assert result.outcome is Outcome.FAIL
    assert result.duration_s < 20
    finding = failed(result)["GET /orders/{order_id}: server error"]
    assert finding.expected == "no server error (5xx)"
    assert finding.actual.startswith("HTTP 500")
    curl = finding.actual.split("reproduce: ", 1)[1]
    assert curl.startswith("curl -X GET -H 'Authorization: [REDACTED]'")
    assert result.reason.startswith("GET /orders/{order_id}: server error: expected no server error (5xx)")
    assert "reproduce: curl" in result.reason
    assert result.evidence is not None and result.evidence.request == curl
    assert result.evidence.status == 500 and "KeyError" in result.evidence.body_excerpt
    assert result.http_status == 500
    # The undocumented 500 is one finding (the server error), not a second "undocumented status" one.
    assert "GET /orders/{order_id}: undocumented status" not in failed(result)
    dumped = json.dumps(result.to_dict())
    assert TOKEN not in dumped
    # With the credential put back, the reproduction reproduces.
    if shutil.which("curl") is not None:
        argv = shlex.split(curl.replace("[REDACTED]", f"Bearer {TOKEN}"))
        out = subprocess.run(
            [*argv, "-s", "-o", "/dev/null", "-w", "%{http_code}"], capture_output=True, text=True, timeout=10
        )
        assert out.stdout == "500"


async def test_missing_required_field_is_a_schema_finding(
    session: aiohttp.ClientSession, buggy: tuple[Service, str]
) -> None:
    """A response without a field the document requires is a `response schema` finding naming the field."""
    _, url = buggy
    result = await run_check(fuzz_check(f"{url}/openapi.json"), context(session, url))
    finding = failed(result)["GET /customers/{customer_id}: response schema"]
    assert finding.expected == "a body that matches the documented schema for HTTP 200"
    assert finding.actual.startswith('"email" is a required property')
    assert "reproduce: curl -X GET -H 'Authorization: [REDACTED]'" in finding.actual
    assert TOKEN not in json.dumps(result.to_dict())


async def test_correct_service_passes(session: aiohttp.ClientSession, correct: tuple[Service, str]) -> None:
    """A service that honours its document passes: one held assertion per operation, none failed."""
    service, url = correct
    result = await run_check(fuzz_check(f"{url}/openapi.json"), context(session, url))
    assert result.outcome is Outcome.PASS, result.reason
    names = {a.name for a in result.assertions}
    assert {"GET /health", "GET /orders/{order_id}", "POST /orders", "GET /customers/{customer_id}"} <= names
    assert result.evidence is None
    # Every generated request carried the configured credential: none was refused.
    assert service.hits["POST /orders"] > 0


async def test_generation_is_bounded_by_max_examples(
    session: aiohttp.ClientSession, correct: tuple[Service, str]
) -> None:
    """No operation receives more than `max_examples` generated requests."""
    service, url = correct
    result = await run_check(fuzz_check(f"{url}/openapi.json", max_examples=3), context(session, url))
    assert result.outcome is Outcome.PASS
    operations = {k: v for k, v in service.hits.items() if k != "GET /openapi.json"}
    assert len(operations) == 4
    assert all(1 <= n <= 3 for n in operations.values()), operations
    bounds = next(a for a in result.assertions if a.name == "bounds")
    assert bounds.expected == "at most 3 cases per operation within 20s"


async def test_time_budget_bounds_a_slow_service(session: aiohttp.ClientSession) -> None:
    """Against a slow service the run ends when its budget is spent, whatever max_examples says,
    and every operation still gets its share of the budget."""
    service = Service(token=TOKEN, delay_s=0.1)
    with serve_in_thread(service) as url:
        check = fuzz_check(f"{url}/openapi.json", max_examples=1000, budget=2.0)
        t0 = time.monotonic()
        result = await run_check(check, context(session, url))
        elapsed = time.monotonic() - t0
    assert result.outcome is Outcome.PASS, result.reason
    # The budget, plus the document's load and at most one request in flight.
    assert elapsed < 2.0 + 0.1 + 2.0, elapsed
    bounds = next(a for a in result.assertions if a.name == "bounds")
    assert "the budget ran out" in bounds.actual
    operations = {k: v for k, v in service.hits.items() if k != "GET /openapi.json"}
    assert len(operations) == 4 and sum(operations.values()) <= 2.0 / 0.1 + 4


async def test_unreachable_document_is_an_error_with_a_clear_reason(session: aiohttp.ClientSession) -> None:
    """An OpenAPI document nobody serves gives `error` (not a crash, not a fail) naming the document."""
    url = f"http://127.0.0.1:{free_port()}"
    result = await run_check(fuzz_check(f"{url}/openapi.json"), context(session, url), retries=1)
    assert result.outcome is Outcome.ERROR
    assert result.reason.startswith(f"cannot load the OpenAPI document {url}/openapi.json: cannot connect to")
    assert result.attempts == 2  # connection refused is worth the configured retry, as for any check
    assert "crashed" not in result.reason


async def test_document_answered_with_an_error_status_is_an_error(
    session: aiohttp.ClientSession, correct: tuple[Service, str]
) -> None:
    """A document URL that answers 404 gives `error` with the status."""
    _, url = correct
    result = await run_check(fuzz_check(f"{url}/nope.json"), context(session, url))
    assert result.outcome is Outcome.ERROR
    assert result.reason == f"cannot load the OpenAPI document {url}/nope.json: HTTP 404"


async def test_document_that_is_not_openapi_is_an_error(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """A file that is not an OpenAPI document gives `error` saying the document is unusable."""
    doc = tmp_path / "notes.json"
    doc.write_text('{"hello": "world"}')
    result = await run_check(fuzz_check(str(doc)), context(session, "http://127.0.0.1:9"))
    assert result.outcome is Outcome.ERROR
    assert result.reason.startswith(f"unusable OpenAPI document {doc}: ")


async def test_document_from_a_file_and_a_service_that_is_down(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """With the document read from a file and nothing listening at base_url, the run is `error`
    (nothing was judged), not a list of findings."""
    doc = tmp_path / "openapi.json"
    doc.write_text(json.dumps(DOCUMENT))
    url = f"http://127.0.0.1:{free_port()}"
    result = await run_check(fuzz_check(str(doc), max_examples=2), context(session, url))
    assert result.outcome is Outcome.ERROR
    assert result.reason.startswith(f"no answer from {url} to any of ")


async def test_document_from_a_file_fuzzes_the_service(
    session: aiohttp.ClientSession, tmp_path: Path, buggy: tuple[Service, str]
) -> None:
    """A document given as a file path fuzzes the service at base_url just as a URL does."""
    _, url = buggy
    doc = tmp_path / "openapi.json"
    doc.write_text(json.dumps(DOCUMENT))
    result = await run_check(fuzz_check(str(doc)), context(session, url))
    assert "GET /orders/{order_id}: server error" in failed(result)


async def test_the_event_loop_keeps_running_while_fuzzing(
    session: aiohttp.ClientSession, buggy: tuple[Service, str], collector_held: None
) -> None:
    """While schemathesis runs, the event loop keeps serving other work on time (no blocking call)."""
    _, url = buggy
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    try:
        result = await run_check(fuzz_check(f"{url}/openapi.json", max_examples=50), context(session, url))
    finally:
        tick.cancel()
    assert result.outcome is Outcome.FAIL
    assert result.duration_s > 0.5 and len(gaps) > 20
    assert max(gaps) < 0.25, max(gaps)


async def test_a_timeout_cancels_the_run_and_stops_the_thread(
    session: aiohttp.ClientSession, collector_held: None
) -> None:
    """When the runner's timeout cuts a run short the result is `error`, the probe returns at once,
    and the fuzzing thread stops sending within one request."""
    service = Service(token=TOKEN, delay_s=0.2)
    with serve_in_thread(service) as url:
        check = fuzz_check(f"{url}/openapi.json", max_examples=1000, budget=60, timeout=1.5)
        t0 = time.monotonic()
        result = await run_check(check, context(session, url))
        assert time.monotonic() - t0 < 2.0
        assert result.outcome is Outcome.ERROR
        assert result.reason == "no answer within the 1.5s timeout"
        await asyncio.sleep(0.6)  # the request in flight (0.2 s) finishes; no other starts
        sent = sum(service.hits.values())
        await asyncio.sleep(0.6)
        assert sum(service.hits.values()) == sent
        assert not [t for t in threading.enumerate() if t.name == "atom-monitor-fuzz"]


def test_config_with_openapi_gets_a_fuzz_check(tmp_path: Path) -> None:
    """`openapi:` adds a `fuzz` check in category `error` with the configured bounds, the document
    resolved against the config file, hourly by default and a timeout that covers its budget."""
    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "orders.yaml").write_text(
        "provider: orders\ndefaults: {interval: 30s, timeout: 4s}\n"
        "checks:\n  health: {category: retrieval, http: {path: /health}}\n"
    )
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "openapi.json").write_text(json.dumps(DOCUMENT))
    config = tmp_path / "config.yaml"
    config.write_text(
        "monitor: {packs_dir: packs}\n"
        "integrations:\n"
        "  orders:\n"
        "    pack: orders\n"
        "    base_url: http://127.0.0.1:8080\n"
        "    openapi: api/openapi.json\n"
        "    fuzz: {max_examples: 7, budget: 12s}\n"
        "  billing:\n"
        "    pack: orders\n"
        "    base_url: http://127.0.0.1:8081\n"
        "    openapi: http://127.0.0.1:8081/openapi.json\n"
        "    checks: {fuzz: {interval: 5m}}\n"
        "  plain:\n"
        "    pack: orders\n"
        "    base_url: http://127.0.0.1:8082\n"
    )
    checks = {c.key: c for c in load_config(config).checks}
    orders = checks["orders/fuzz"]
    assert (orders.kind, orders.category) == (ProbeKind.FUZZ, Category.ERROR)
    assert orders.fuzz == FuzzTarget(str(tmp_path / "api" / "openapi.json"), 7, 12.0, 4.0)
    assert (orders.interval, orders.timeout) == (3600.0, 12.0 + 2 * 4.0 + 10.0)
    billing = checks["billing/fuzz"]
    assert billing.fuzz is not None and billing.fuzz.openapi == "http://127.0.0.1:8081/openapi.json"
    assert (billing.fuzz.max_examples, billing.fuzz.budget, billing.interval) == (20, 30.0, 300.0)
    assert "plain/fuzz" not in checks


def test_fuzz_check_can_be_turned_off(tmp_path: Path) -> None:
    """`checks: {fuzz: {enabled: false}}` removes the fuzz check like any other."""
    (tmp_path / "orders.yaml").write_text(
        "provider: orders\nchecks:\n  health: {category: retrieval, http: {path: /health}}\n"
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        "monitor: {packs_dir: .}\nintegrations:\n  orders:\n    pack: orders\n"
        "    base_url: http://127.0.0.1:8080\n    openapi: http://127.0.0.1:8080/openapi.json\n"
        "    checks: {fuzz: {enabled: false}}\n"
    )
    assert [c.name for c in load_config(config).checks] == ["health"]
