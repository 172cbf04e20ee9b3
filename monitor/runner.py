"""The runner: owns timeout, timing, outcome and reason, the way blackbox_exporter's handler
owns them for its probers. Whatever a probe does, the runner returns a CheckResult. Its duration
is the provider's time the probe's context counted, or the time it took to give up.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

import aiohttp
import structlog

from monitor import httpclient
from monitor.config.durations import format_duration
from monitor.config.resolved import ResolvedCheck
from monitor.logs import check_run_fields
from monitor.model import Assertion, CheckResult, Findings, Outcome, ProbeError
from monitor.probes import PROBES, ProbeContext
from monitor.template import TemplateError

log = structlog.get_logger("monitor.runner")


def new_run_id() -> str:
    """Short, sortable-enough and unique: it also names objects CRUD checks create. Not a secret,
    so the suffix comes from `random` rather than uuid4's getrandom syscall (~4 µs a run)."""
    return f"{_utc_second(int(time.time()))}-{random.getrandbits(32):08x}"


@functools.lru_cache(maxsize=4)
def _utc_second(epoch_s: int) -> str:
    # A thousand runs a second share one stamp: format it once per second, not per run.
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(epoch_s))


async def run_check(check: ResolvedCheck, ctx: ProbeContext, *, retries: int = 0) -> CheckResult:
    """Run one check. Network errors (refused, reset) are retried up to `retries` times — never a
    wrong answer or a timeout — and a pass that needed a retry is marked flaky."""
    started = datetime.now(UTC)
    attempts = 0
    while True:
        attempts += 1
        ctx.waited_s = 0.0
        t0 = time.perf_counter()
        findings, error, retryable = await _attempt(check, ctx)
        # The provider's time when it answered; the time it took to give up when it did not.
        duration = ctx.waited_s if findings is not None and ctx.waited_s else time.perf_counter() - t0
        if findings is None and retryable and attempts <= retries:
            log.info("check_retry", integration=check.integration, check=check.name, reason=error)
            continue
        break
    if findings is None:
        return CheckResult(
            run_id=ctx.run_id,
            integration=check.integration,
            check=check.name,
            category=check.category,
            outcome=Outcome.ERROR,
            started_at=started,
            duration_s=duration,
            reason=ctx.scrubber.text(error or "unknown error"),
            attempts=attempts,
        )
    assertions = list(findings.assertions)
    if check.latency_under is not None:
        assertions.append(
            Assertion(
                "latency",
                f"under {format_duration(check.latency_under)}",
                f"{duration * 1000:.0f}ms",
                duration < check.latency_under,
            )
        )
    outcome, reason = _judge(assertions, findings)
    return CheckResult(
        run_id=ctx.run_id,
        integration=check.integration,
        check=check.name,
        category=check.category,
        outcome=outcome,
        started_at=started,
        duration_s=duration,
        reason=ctx.scrubber.text(reason),
        http_status=findings.http_status,
        assertions=tuple(_scrub_assertion(a, ctx) for a in assertions),
        evidence=findings.evidence,
        ratelimit=findings.ratelimit,
        attempts=attempts,
        flaky=attempts > 1 and outcome is Outcome.PASS,
    )


async def _attempt(check: ResolvedCheck, ctx: ProbeContext) -> tuple[Findings | None, str | None, bool]:
    """(findings, error, retryable). Only connection-level failures are worth a second try."""
    try:
        async with asyncio.timeout(check.timeout):
            return await PROBES[check.kind](check, ctx), None, False
    except TimeoutError:
        return None, f"no answer within the {format_duration(check.timeout)} timeout", False
    except httpclient.ConnectError as exc:
        return None, str(exc), True
    except httpclient.ConnectionLost as exc:
        return None, f"connection lost: {exc}", True
    except httpclient.ClientError as exc:
        return None, f"HTTP client error: {exc}", False
    except aiohttp.ClientConnectorError as exc:
        return None, f"cannot connect to {exc.host}:{exc.port}: {exc.strerror or exc.os_error}", True
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        return None, f"connection lost: {type(exc).__name__}: {exc}", True
    except aiohttp.ClientError as exc:
        return None, f"HTTP client error: {type(exc).__name__}: {exc}", False
    except TemplateError as exc:
        return None, f"check cannot be run as written: {exc}", False
    except ProbeError as exc:
        return None, str(exc), exc.retryable
    except Exception as exc:  # a crashing probe is a result, never a crashed monitor
        log.exception("probe_crashed", integration=check.integration, check=check.name)
        return None, f"probe crashed: {type(exc).__name__}: {exc}", False


def _judge(assertions: list[Assertion], findings: Findings) -> tuple[Outcome, str]:
    failed = [a for a in assertions if not a.passed]
    rl = findings.ratelimit
    # A 429 from the API or from the OAuth2 token endpoint alike means "not now", not "broken".
    status_failed = any(a.name in ("status", "token endpoint") for a in failed)
    if rl is not None and rl.refused and status_failed:
        # The provider refused to answer for quota, so nothing was judged: skipped, not failed.
        wait = f"; retry after {format_duration(round(rl.retry_after_s))}" if rl.retry_after_s else ""
        return Outcome.SKIPPED, f"rate limited by the provider (HTTP {findings.http_status}{wait})"
    if failed:
        more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
        return Outcome.FAIL, failed[0].describe() + more
    if not assertions:
        return Outcome.ERROR, "the probe made no assertions"
    held = "the 1 assertion held" if len(assertions) == 1 else f"all {len(assertions)} assertions held"
    return Outcome.PASS, held


def _scrub_assertion(a: Assertion, ctx: ProbeContext) -> Assertion:
    s = ctx.scrubber
    expected, actual = s.text(a.expected), s.text(a.actual)
    if expected == a.expected and actual == a.actual:
        return a  # nothing to redact (almost always): keep it rather than build it again
    return Assertion(a.name, expected, actual, a.passed, a.step)


async def run_many(
    checks: Iterable[ResolvedCheck],
    make_ctx: Callable[[ResolvedCheck], ProbeContext],
    *,
    concurrency: int,
    per_integration: int,
    on_result: Callable[[CheckResult], Awaitable[None]],
) -> list[CheckResult]:
    """Run checks concurrently within a global and a per-integration limit.

    A hanging provider holds only its own integration's slots, so others finish on time.
    """
    global_sem = asyncio.Semaphore(concurrency)
    per: dict[str, asyncio.Semaphore] = {}
    results: list[CheckResult] = []

    async def one(check: ResolvedCheck) -> None:
        sem = per.setdefault(check.integration, asyncio.Semaphore(per_integration))
        async with sem, global_sem:
            result = await run_check(check, make_ctx(check))
        results.append(result)
        log.info("check_run", **check_run_fields(result))
        await on_result(result)

    async with asyncio.TaskGroup() as tg:
        for check in checks:
            tg.create_task(one(check))
    return results
