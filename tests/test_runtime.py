"""The process settings `serve` runs with."""

from __future__ import annotations

import gc
import sys

import pytest

from monitor import runtime


def test_the_daemon_loop_is_uvloop_where_installed() -> None:
    """`serve` runs on uvloop when it is installed (a dependency on Linux and macOS)."""
    uvloop = pytest.importorskip("uvloop")
    loop = runtime.loop_factory()()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_tuning_shortens_the_gil_switch_and_spaces_collections() -> None:
    """A worker thread holds the interpreter at most 1 ms before a due check may run, and the
    young generation is collected every 20,000 allocations rather than every 700."""
    before, thresholds = sys.getswitchinterval(), gc.get_threshold()
    try:
        runtime.tune_for_daemon()
        assert sys.getswitchinterval() == pytest.approx(0.001)
        assert gc.get_threshold()[0] == 20_000
    finally:
        sys.setswitchinterval(before)
        gc.set_threshold(*thresholds)
