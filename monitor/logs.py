"""structlog as JSON lines on stderr, with every event passed through the one scrubber."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from monitor import jsoncodec
from monitor.model import CheckResult
from monitor.scrub import Scrubber

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure(level: str, scrubber: Scrubber) -> None:
    """structlog's configuration is process-wide by design; this is its one call site."""

    text, data = scrubber.text, scrubber.data

    def scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        return {
            k: text(v) if type(v) is str else data(v) if isinstance(v, dict | list) else v
            for k, v in event.items()
        }

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.format_exc_info,
            # Everything the caller gave, tracebacks included, is scrubbed; the level and the
            # timestamp are ours and come after, so a unique timestamp never costs a scrub.
            scrub,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(serializer=jsoncodec.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def check_run_fields(r: CheckResult) -> dict[str, Any]:
    """The fields of the one `check_run` line per run, wherever a run ends (daemon or run --once)."""
    return {
        "integration": r.integration,
        "check": r.check,
        "category": r.category.value,
        "outcome": r.outcome.value,
        "duration_s": round(r.duration_s, 4),
        "http_status": r.http_status,
        "attempts": r.attempts,
        "reason": r.reason,
        "run_id": r.run_id,
    }
