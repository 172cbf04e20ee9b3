"""The command line's shape: every command parses, and a group with no action explains itself."""

from __future__ import annotations

import pytest

from monitor.cli import main


@pytest.mark.parametrize(("group", "actions"), [("config", ("validate", "schema")), ("claims", ("import",))])
def test_group_without_action_prints_its_own_help(
    group: str, actions: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """`atom-monitor config` alone prints config's actions and exits 2, never a traceback."""
    assert main([group]) == 2
    err = capsys.readouterr().err
    assert f"usage: atom-monitor {group}" in err and all(a in err for a in actions)


def test_no_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """No command at all lists the commands and exits 2."""
    assert main([]) == 2
    err = capsys.readouterr().err
    assert all(c in err for c in ("run", "serve", "report", "gate", "verify", "record", "claims", "sandbox"))
