"""Probe kind `fuzz`: schemathesis generates bounded cases from an integration's own OpenAPI
document, and every finding (a server error, an undocumented status, a response that breaks the
document, a request left unanswered) becomes a failed assertion with a scrubbed curl reproduction.

Schemathesis is synchronous (requests and hypothesis), so the run happens in a thread of its own:
never on the event loop, and never in the loop's default executor, which aiohttp's DNS resolver
shares. It is bounded three ways: `max_examples` generated cases per operation, a time `budget`
for the whole run (shared fairly by the operations; time one leaves unused goes to the next), and
a timeout on every request. When the runner's timeout or a shutdown cancels the probe, a stop flag
ends the thread at its next case, so a cancelled run never keeps sending requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp

from monitor.config.durations import format_duration
from monitor.config.models import AuthMode
from monitor.config.resolved import FuzzTarget, ResolvedCheck
from monitor.model import Assertion, Evidence, Findings, ProbeError
from monitor.probes.context import EVIDENCE_BODY, ProbeContext, auth_for
from monitor.scrub import REDACTED, Scrubber

MAX_DOCUMENT = 10 * 1024 * 1024
# Distinct findings kept per run; the rest are counted, not listed.
MAX_FINDINGS = 20

T = TypeVar("T")


@dataclass
class FuzzFinding:
    """One distinct problem (operation x kind x detail), with the first case that showed it."""

    operation: str
    kind: str
    expected: str
    actual: str
    curl: str  # scrubbed
    status: int | None
    content_type: str
    body: str  # scrubbed excerpt
    rank: int  # report order: server errors first
    count: int = 1


@dataclass
class FuzzReport:
    """What one run found. Built in the fuzzing thread; read on the loop once the thread is done."""

    cases: dict[str, int] = field(default_factory=dict)  # operation -> requests sent
    not_fuzzed: dict[str, str] = field(default_factory=dict)  # operation -> why
    findings: dict[tuple[str, str, str], FuzzFinding] = field(default_factory=dict)
    unlisted: int = 0
    responses: int = 0
    unanswered: int = 0
    first_unanswered: str = ""
    budget_spent: bool = False
    elapsed: float = 0.0


class _Stop(BaseException):
    """Ends a hypothesis run at once (a BaseException: hypothesis must not treat it as a failure)."""


async def probe_fuzz(check: ResolvedCheck, ctx: ProbeContext) -> Findings:
    target = check.fuzz
    assert target is not None  # the loader gives every fuzz check its target
    base_url = ctx.integration.base_url
    if not base_url:
        raise ProbeError(f"integration {ctx.integration.name!r} has no base_url to fuzz")
    creds = await auth_for(ctx, check, AuthMode.VALID)
    if not creds.obtained:
        return Findings(assertions=creds.assertions, http_status=creds.status, ratelimit=creds.ratelimit)
    headers = {**check.headers, **creds.headers}
    # schemathesis sends the requests from its own thread, so the whole run is the provider's time.
    started = time.perf_counter()
    document = None
    if _is_url(target.openapi):
        # Credentials go only to the service itself, never to a document hosted elsewhere.
        same = _origin(target.openapi) == _origin(base_url)
        document = await _fetch_document(ctx, target, headers if same else {}, creds.query if same else {})
    stop = threading.Event()
    run = functools.partial(fuzz, target, document, base_url, headers, dict(creds.query), ctx.scrubber, stop)
    report = await off_loop(run, stop)
    ctx.waited_s += time.perf_counter() - started
    return findings_of(report, target, base_url, ctx.scrubber)


async def off_loop(fn: Callable[[], T], stop: threading.Event) -> T:
    """Run `fn` in a thread of its own and await it. Cancelling the await sets `stop`, which `fn`
    polls between cases, and returns at once: the event loop never waits for the thread."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def deliver(apply: Callable[[], None]) -> None:
        def settle() -> None:
            if not done.done():  # else cancelled meanwhile: nobody waits for this run any more
                apply()

        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(settle)

    def target() -> None:
        try:
            value = fn()
        except Exception as exc:
            deliver(functools.partial(done.set_exception, exc))
        except BaseException as exc:  # never let the thread die silently with the future pending
            error = RuntimeError(f"fuzzing thread stopped: {type(exc).__name__}")
            deliver(functools.partial(done.set_exception, error))
        else:
            deliver(functools.partial(done.set_result, value))

    threading.Thread(target=target, name="atom-monitor-fuzz", daemon=True).start()
    try:
        return await done
    finally:
        stop.set()


async def _fetch_document(
    ctx: ProbeContext, target: FuzzTarget, headers: Mapping[str, str], query: Mapping[str, str]
) -> str:
    """The document over HTTP, with the engine's session, bounded in time and size."""
    where = f"cannot load the OpenAPI document {ctx.scrubber.url(target.openapi)}"
    try:
        async with asyncio.timeout(target.request_timeout):
            async with ctx.session.get(
                target.openapi, headers=dict(headers), params=dict(query) or None, allow_redirects=False
            ) as resp:
                raw = await resp.content.read(MAX_DOCUMENT + 1)
                status = resp.status
    except TimeoutError:
        raise ProbeError(f"{where}: no answer within {format_duration(target.request_timeout)}") from None
    except aiohttp.ClientConnectorError as exc:
        reason = f"cannot connect to {exc.host}:{exc.port}: {exc.strerror or exc.os_error}"
        raise ProbeError(f"{where}: {reason}", retryable=True) from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        raise ProbeError(f"{where}: connection lost: {type(exc).__name__}", retryable=True) from None
    except aiohttp.ClientError as exc:
        raise ProbeError(f"{where}: {type(exc).__name__}: {exc}") from None
    if status != 200:
        raise ProbeError(f"{where}: HTTP {status}")
    if len(raw) > MAX_DOCUMENT:
        raise ProbeError(f"{where}: larger than {MAX_DOCUMENT // (1024 * 1024)} MiB")
    return raw.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- the fuzzing thread


def fuzz(
    target: FuzzTarget,
    document: str | None,
    base_url: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    scrubber: Scrubber,
    stop: threading.Event,
) -> FuzzReport:
    """Synchronous: load the document (text fetched already, or a file) and fuzz every operation.

    Runs in the fuzzing thread. Raises ProbeError when nothing could be judged.
    """
    try:
        import requests
        import schemathesis
    except ImportError:  # an optional dependency: the `fuzz` extra
        raise ProbeError("the fuzz check needs schemathesis: pip install 'atom-monitor[fuzz]'") from None
    schema = _load_schema(schemathesis, target, document, scrubber)
    report = FuzzReport()
    operations = []
    for result in schema.get_all_operations():
        try:
            operations.append(result.ok())
        except Exception as exc:  # an operation the document describes in a way we cannot use
            label = f"{str(getattr(exc, 'method', '')).upper()} {getattr(exc, 'path', '')}".strip()
            report.not_fuzzed[label or "an operation"] = _first_line(exc)
    if not operations and not report.not_fuzzed:
        raise ProbeError(f"the OpenAPI document {scrubber.url(target.openapi)} describes no operations")
    session = requests.Session()
    # Like the engine's aiohttp session: no proxies from the environment, no ~/.netrc credentials.
    session.trust_env = False
    started = time.monotonic()
    deadline = started + target.budget
    try:
        for index, operation in enumerate(operations):
            now = time.monotonic()
            if stop.is_set() or now >= deadline:
                report.budget_spent = report.budget_spent or not stop.is_set()
                break
            # A fair share of what is left: an operation that finishes early leaves its time to the next.
            share = now + (deadline - now) / (len(operations) - index)
            fuzzer = _Operation(operation, target, base_url, headers, query, scrubber, stop, share, report)
            fuzzer.run(session)
    finally:
        session.close()
        report.elapsed = time.monotonic() - started
    for op in operations:
        if not report.cases.get(op.label) and op.label not in report.not_fuzzed and report.budget_spent:
            report.not_fuzzed[op.label] = "the budget ran out before it"
    if stop.is_set():  # cancelled: nobody awaits this report any more
        raise ProbeError("fuzzing cancelled")
    return report


def _load_schema(schemathesis: Any, target: FuzzTarget, document: str | None, scrubber: Scrubber) -> Any:
    from schemathesis.core.errors import LoaderError

    shown = scrubber.url(target.openapi)
    # An explicit config: never a schemathesis.toml discovered by walking up from the cwd.
    config = schemathesis.Config()
    try:
        if document is None:
            return schemathesis.openapi.from_path(target.openapi, config=config)
        schema = schemathesis.openapi.from_file(document, config=config)
        schema.location = target.openapi  # relative $refs resolve against the document's URL
        return schema
    except OSError as exc:
        raise ProbeError(f"cannot read the OpenAPI document {shown}: {exc.strerror or exc}") from None
    except LoaderError as exc:
        raise ProbeError(f"unusable OpenAPI document {shown}: {exc.message}") from None
    except Exception as exc:
        raise ProbeError(f"unusable OpenAPI document {shown}: {type(exc).__name__}: {exc}") from None


class _Operation:
    """Fuzzes one operation: hypothesis draws cases, each is sent and its response judged."""

    def __init__(
        self,
        operation: Any,
        target: FuzzTarget,
        base_url: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        scrubber: Scrubber,
        stop: threading.Event,
        deadline: float,
        report: FuzzReport,
    ) -> None:
        self.op = operation
        self.label: str = operation.label
        self.target = target
        self.base_url = base_url
        self.headers = dict(headers)
        self.query = dict(query)
        self.scrubber = scrubber
        self.stop = stop
        self.deadline = deadline
        self.report = report
        self.unsent = ""

    def run(self, session: Any) -> None:
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings

        self.report.cases[self.label] = 0

        @settings(
            max_examples=self.target.max_examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],  # findings are collected, never raised: nothing to shrink
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            print_blob=False,
        )
        @given(case=self.op.as_strategy())
        def each(case: Any) -> None:
            self.one(case, session)

        try:
            each()
        except _Stop:
            if not self.stop.is_set():
                self.report.budget_spent = True
        except Exception as exc:  # the document defeats generation (an unsatisfiable schema...)
            self.report.not_fuzzed[self.label] = f"cannot generate cases: {_first_line(exc)}"
            return
        if not self.report.cases[self.label] and self.unsent:
            self.report.not_fuzzed[self.label] = f"cannot send its cases: {self.unsent}"

    def one(self, case: Any, session: Any) -> None:
        import requests
        from schemathesis.core.failures import FailureGroup

        if self.stop.is_set() or time.monotonic() >= self.deadline:
            raise _Stop
        if self.query:  # query credentials travel in the case, so the curl reproduces them too
            case.query = {**(case.query or {}), **self.query}
        try:
            response = case.call(
                base_url=self.base_url,
                session=session,
                headers=self.headers,
                timeout=self.target.request_timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            self.report.cases[self.label] += 1
            self.no_answer(case, exc)
            return
        except Exception as exc:  # schemathesis cannot serialise this case (an unsupported media type)
            self.unsent = _first_line(exc)
            return
        self.report.cases[self.label] += 1
        self.report.responses += 1
        try:
            case.validate_response(response, checks=_checks(), headers=self.headers)
        except FailureGroup as group:
            failures = list(group.exceptions)
            server_errors = {getattr(f, "status_code", None) for f in failures if _is_server_error(f)}
            for failure in failures:
                # A 5xx the document leaves out is one problem, the server error, not two.
                if not _is_server_error(failure) and _status_of(failure) in server_errors:
                    continue
                self.record(case, response, *_describe(failure, response.status_code))
        except Exception as exc:  # the document defeats validation (an unresolvable $ref...)
            self.report.not_fuzzed.setdefault(self.label, f"cannot judge its responses: {_first_line(exc)}")

    def no_answer(self, case: Any, exc: Exception) -> None:
        self.report.unanswered += 1
        if not self.report.first_unanswered:
            self.report.first_unanswered = f"{type(exc).__name__}: {_first_line(exc)}"
        expected = f"an answer within {format_duration(self.target.request_timeout)}"
        self.record(case, None, "no answer", expected, f"{type(exc).__name__}", 1, type(exc).__name__)

    def record(
        self, case: Any, response: Any, kind: str, expected: str, actual: str, rank: int, detail: str
    ) -> None:
        key = (self.label, kind, detail)
        known = self.report.findings.get(key)
        if known is not None:
            known.count += 1
            return
        if len(self.report.findings) >= MAX_FINDINGS:
            self.report.unlisted += 1
            return
        content_type, body = "", ""
        if response is not None:
            content_type = ", ".join(response.headers.get("content-type") or [])
            body = response.content[:EVIDENCE_BODY].decode("utf-8", errors="replace")
        self.report.findings[key] = FuzzFinding(
            operation=self.label,
            kind=kind,
            expected=expected,
            actual=self.scrubber.text(actual),
            curl=self.curl(case),
            status=response.status_code if response is not None else None,
            content_type=self.scrubber.text(content_type),
            body=self.scrubber.text(body),
            rank=rank,
        )

    def curl(self, case: Any) -> str:
        """The case as a curl command, credentials redacted: headers first by name, then every
        configured secret and token shape anywhere in the text."""
        headers = self.scrubber.headers(self.headers)
        try:
            command = str(case.as_curl_command(headers=headers, base_url=self.base_url))
        except Exception:  # a case schemathesis cannot print: say what it was instead
            command = f"curl -X {case.method} {self.base_url}{case.formatted_path}"
        command = command.split("\n\n", 1)[0]  # without schemathesis' notes after the command
        # Schemathesis masks what it knows to be sensitive its own way; say it as everywhere else.
        command = command.replace("[Filtered]", REDACTED).replace("%5BFiltered%5D", REDACTED)
        return self.scrubber.text(command)


@functools.cache
def _checks() -> list[Any]:
    """The schemathesis checks the fuzz check judges by: no server error, only documented statuses,
    content types, headers and bodies that conform to the document."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]


def _is_server_error(failure: Any) -> bool:
    from schemathesis.core.failures import ServerError

    return isinstance(failure, ServerError)


def _status_of(failure: Any) -> int | None:
    status = getattr(failure, "status_code", None)
    return status if isinstance(status, int) else None


def _describe(failure: Any, status: int) -> tuple[str, str, str, int, str]:
    """(kind, expected, actual, rank, detail) of a schemathesis failure, for people to read."""
    from schemathesis.openapi.checks import JsonSchemaError, UndefinedStatusCode

    detail = str(getattr(failure, "_unique_key", "") or "")
    if _is_server_error(failure):
        return "server error", "no server error (5xx)", f"HTTP {status}", 0, str(status)
    if isinstance(failure, UndefinedStatusCode):
        documented = ", ".join(failure.defined_status_codes)
        return "undocumented status", f"a documented status ({documented})", f"HTTP {status}", 2, str(status)
    if isinstance(failure, JsonSchemaError):
        expected = f"a body that matches the documented schema for HTTP {status}"
        return "response schema", expected, _first_line(failure.message), 3, detail
    actual = _first_line(failure.message) if failure.message else str(failure.title)
    return str(failure.title).lower(), "a response that conforms to the OpenAPI document", actual, 4, detail


def _first_line(exc: BaseException | str) -> str:
    text = str(exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


# --------------------------------------------------------------------------- back on the loop


def findings_of(report: FuzzReport, target: FuzzTarget, base_url: str, scrubber: Scrubber) -> Findings:
    """The report as assertions: one failed assertion per finding (its curl in what was seen), one
    passed assertion per operation fuzzed without a finding, and the bounds the run kept."""
    if report.responses == 0 and report.unanswered:
        # The service is down or hangs: nothing was judged, so this is `error`, not a finding.
        msg = f"no answer from {scrubber.url(base_url)} to any of {report.unanswered} fuzzed requests"
        raise ProbeError(f"{msg}: {report.first_unanswered}", retryable=True)
    fuzzed = [label for label, n in report.cases.items() if n]
    if not fuzzed:
        why = "; ".join(f"{label}: {reason}" for label, reason in report.not_fuzzed.items())
        raise ProbeError(f"no operation of {scrubber.url(target.openapi)} could be fuzzed ({why})")
    found = sorted(report.findings.values(), key=lambda f: f.rank)
    assertions = [
        Assertion(
            f"{f.operation}: {f.kind}",
            f.expected,
            f"{f.actual}{f' ({f.count} cases)' if f.count > 1 else ''}; reproduce: {f.curl}",
            False,
        )
        for f in found
    ]
    flagged = {f.operation for f in found}
    assertions += [
        Assertion(
            label,
            "no server error, documented statuses, responses that conform to the document",
            f"{report.cases[label]} generated cases, no finding",
            True,
        )
        for label in fuzzed
        if label not in flagged
    ]
    total = sum(report.cases.values())
    notes = [f"{total} cases over {len(fuzzed)} operations in {report.elapsed:.1f}s"]
    if report.budget_spent:
        notes.append("the budget ran out")
    if report.unlisted:
        notes.append(f"{report.unlisted} further findings not listed")
    notes += [f"not fuzzed: {label} ({reason})" for label, reason in report.not_fuzzed.items()]
    assertions.append(
        Assertion(
            "bounds",
            f"at most {target.max_examples} cases per operation within {format_duration(target.budget)}",
            "; ".join(notes),
            True,
        )
    )
    first = found[0] if found else None
    evidence = None
    if first is not None:
        headers = {"content-type": first.content_type} if first.content_type else {}
        evidence = Evidence(request=first.curl, status=first.status, headers=headers, body_excerpt=first.body)
    return Findings(
        assertions=tuple(_scrubbed(a, scrubber) for a in assertions),
        http_status=first.status if first else None,
        evidence=evidence,
    )


def _scrubbed(a: Assertion, scrubber: Scrubber) -> Assertion:
    return Assertion(a.name, scrubber.text(a.expected), scrubber.text(a.actual), a.passed, a.step)


def _is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
