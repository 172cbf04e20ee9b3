"""Glue between the store, readiness and the report document, for `report`, `gate` and the
daemon's /report. Kept apart so that readiness stays pure and the report never reads the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from monitor.config import Config, ConfigError, ConfigIssue
from monitor.config.errors import issues_from_validation
from monitor.config.models import Policy
from monitor.evidence import WindowEvidence, from_results
from monitor.model import CheckResult
from monitor.readiness import IntegrationReadiness, assess_evidence, latency_percentiles
from monitor.report import ReportInput, build, categories_of, checks_of
from monitor.store import Store


def document(
    config: Config, results: list[CheckResult], now: datetime, window_s: float | None = None
) -> dict[str, Any]:
    """The report of a list of results (`gate --fresh`, tests): the same path as the store's."""
    config = _windowed(config, window_s)
    policy = config.file.policy
    evidence = from_results(
        results,
        since=now - timedelta(seconds=policy.window),
        until=now,
        percentiles=latency_percentiles(policy, config.integrations),
    )
    return document_of(config, evidence)


def document_of(config: Config, evidence: WindowEvidence) -> dict[str, Any]:
    """The report of a window's evidence, generated at its end. `config`'s policy window must be
    the evidence's (`_windowed` does that)."""
    policy = config.file.policy
    assessed = _assessed(config, evidence)
    return build(
        ReportInput(
            config=config,
            assessed=assessed,
            generated_at=evidence.until,
            window_s=policy.window,
            distribution={n: ev.distribution for n, ev in evidence.integrations.items()},
        )
    )


def _assessed(config: Config, evidence: WindowEvidence) -> dict[str, IntegrationReadiness]:
    return assess_evidence(
        evidence,
        policy=config.file.policy,
        integrations=categories_of(config),
        claims={n: i.claims for n, i in config.integrations.items()},
        checks=checks_of(config),
    )


async def verdicts_from_store(config: Config, store: Store) -> dict[str, IntegrationReadiness]:
    """Each integration's verdict, score and contradicted claims over the policy window ending
    now: what the daemon's gauges show. The same judging as from_store, without the document and
    without reading the newest results' assertions and evidence back (a verdict needs neither):
    decoding those and building a document held the daemon's event loop for most of an
    assessment (bench/README.md)."""
    evidence = await _window_evidence(config, store, datetime.now(UTC), detail=False)
    # ~10 ms for a thousand checks: in one piece on the event loop it made due checks late.
    return await asyncio.to_thread(_assessed, config, evidence)


async def from_store(
    config: Config, window_s: float | None = None, store: Store | None = None, *, now: datetime | None = None
) -> dict[str, Any]:
    """The report of the policy window in the store. The store aggregates the window in SQL and
    hands back counts, percentiles and a few full results per check: the cost of a report grows
    with the number of checks, and only the database's grows with the number of results. `now`
    (default: the clock) ends the window."""
    config = _windowed(config, window_s)
    own = store is None
    store = store or await Store.open(config.file.monitor.store)
    try:
        evidence = await _window_evidence(config, store, now or datetime.now(UTC), detail=True)
    finally:
        if own:
            await store.close()
    # A thousand checks' document is still milliseconds of CPU:
    # in a thread, so a daemon's scheduled checks start on time meanwhile.
    return await asyncio.to_thread(document_of, config, evidence)


async def _window_evidence(config: Config, store: Store, now: datetime, *, detail: bool) -> WindowEvidence:
    """The evidence of `config`'s policy window ending `now`, with the percentiles it judges by."""
    policy = config.file.policy
    return await store.window_evidence(
        now - timedelta(seconds=policy.window),
        now,
        percentiles=latency_percentiles(policy, config.integrations),
        detail=detail,
    )


def _windowed(config: Config, window_s: float | None) -> Config:
    if window_s is None:
        return config
    policy = config.file.policy.model_copy(update={"window": window_s})
    return dataclasses.replace(config, file=config.file.model_copy(update={"policy": policy}))


async def fresh(config: Config) -> dict[str, Any]:
    """Run every check now and judge only that run: one sample per check is enough evidence."""
    from monitor.engine import start_engine

    async with start_engine(config) as engine:
        results = await engine.run_once()
    base = config.file.policy
    overrides = {n: o.model_copy(update={"min_samples": None}) for n, o in base.overrides.items()}
    policy = base.model_copy(update={"min_samples": 1, "overrides": overrides})
    cfg = dataclasses.replace(config, file=config.file.model_copy(update={"policy": policy}))
    return document(cfg, results, datetime.now(UTC))


def read_report(path: Path) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(path), (), "no such report file")]) from None
    except ValueError as exc:
        raise ConfigError([ConfigIssue(str(path), (), f"not a JSON report: {exc}")]) from None
    if not isinstance(doc, dict) or doc.get("schema_version") != 1 or "integrations" not in doc:
        raise ConfigError(
            [ConfigIssue(str(path), (), "not an atom-monitor readiness report (schema_version 1)")]
        )
    return doc


def with_policy(config: Config, path: Path) -> Config:
    """`gate --policy F`: a YAML file holding a policy (or a `policy:` mapping) replaces config's."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(path), (), "no such policy file")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(str(path), (), f"not valid YAML: {exc}")]) from None
    prefix: tuple[str, ...] = ()
    if isinstance(raw, dict) and "policy" in raw:
        raw, prefix = raw["policy"], ("policy",)
    try:
        policy = Policy.model_validate(raw or {})
    except ValidationError as exc:
        raise ConfigError(issues_from_validation(exc, str(path), {}, prefix)) from None
    return dataclasses.replace(config, file=config.file.model_copy(update={"policy": policy}))
