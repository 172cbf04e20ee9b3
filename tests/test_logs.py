"""Log lines: one JSON object per event, with every caller-given value scrubbed."""

from __future__ import annotations

import json

import pytest
import structlog

from monitor import logs
from monitor.scrub import REDACTED, Scrubber

SECRET = "xoxb-0000-secret-token-value"


def _lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_fields_nested_values_and_tracebacks_are_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    """A secret in a field, inside a nested value or in an exception's traceback never reaches
    the line, while level, timestamp and the other fields do."""
    logs.configure("info", Scrubber([SECRET]))
    log = structlog.get_logger("test")
    log.info("check_run", reason=f"got {SECRET}", detail={"note": [SECRET]}, attempts=1)
    try:
        raise RuntimeError(f"boom {SECRET}")
    except RuntimeError:
        log.exception("probe_crashed")
    err = capsys.readouterr().err
    assert SECRET not in err
    run, crash = _lines(err)
    assert run["event"] == "check_run" and run["level"] == "info" and run["attempts"] == 1
    assert run["reason"] == f"got {REDACTED}" and run["detail"] == {"note": [REDACTED]}
    assert str(run["timestamp"]).endswith("Z")
    assert crash["level"] == "error" and REDACTED in str(crash["exception"])


def test_lines_below_the_level_are_not_written(capsys: pytest.CaptureFixture[str]) -> None:
    """At `warning`, an info line is dropped and a warning is written."""
    logs.configure("warning", Scrubber())
    log = structlog.get_logger("test")
    log.info("quiet")
    log.warning("loud")
    assert [line["event"] for line in _lines(capsys.readouterr().err)] == ["loud"]
