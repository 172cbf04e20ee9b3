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
from monitor.model import CheckResult
from monitor.readiness import assess
from monitor.report import ReportInput, build, categories_of, checks_of, durations_by_integration
from monitor.store import ResultQuery, Store

_ALL = 10**9


def document(
    config: Config, results: list[CheckResult], now: datetime, window_s: float | None = None
) -> dict[str, Any]:
    policy = config.file.policy
    if window_s is not None:
        policy = policy.model_copy(update={"window": window_s})
    assessed = assess(
        results,
        policy=policy,
        now=now,
        integrations=categories_of(config),
        claims={n: i.claims for n, i in config.integrations.items()},
        checks=checks_of(config),
    )
    cfg = dataclasses.replace(config, file=config.file.model_copy(update={"policy": policy}))
    return build(
        ReportInput(
            config=cfg,
            assessed=assessed,
            generated_at=now,
            window_s=policy.window,
            durations=durations_by_integration(results),
        )
    )


async def from_store(
    config: Config, window_s: float | None = None, store: Store | None = None
) -> dict[str, Any]:
    now = datetime.now(UTC)
    window = window_s if window_s is not None else config.file.policy.window
    own = store is None
    store = store or await Store.open(config.file.monitor.store)
    since = now - timedelta(seconds=window)
    try:
        # Outcomes and durations of everything; full detail only where a report shows it.
        light = await store.query(ResultQuery(since=since, limit=_ALL), detail=False)
        full = await store.latest(since) + await store.latest(since, failures_only=True)
    finally:
        if own:
            await store.close()
    by_key = {_key(r): r for r in full}
    results = [by_key.get(_key(r), r) for r in light]
    # Pure CPU: in a thread, so a daemon's scheduled checks start on time meanwhile.
    return await asyncio.to_thread(document, config, results, now, window_s)


def _key(r: CheckResult) -> tuple[str, str, str, datetime]:
    return (r.integration, r.check, r.run_id, r.started_at)


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
