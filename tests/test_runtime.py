"""The process settings `serve` runs with."""

from __future__ import annotations

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


def test_tuning_shortens_the_gil_switch_interval() -> None:
    """A worker thread holds the interpreter at most 1 ms before a due check may run."""
    before = sys.getswitchinterval()
    try:
        runtime.tune_for_daemon()
        assert sys.getswitchinterval() == pytest.approx(0.001)
    finally:
        sys.setswitchinterval(before)
