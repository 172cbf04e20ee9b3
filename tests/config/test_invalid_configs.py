"""One invalid config per validation rule, each with its exact expected message (as
blackbox_exporter keeps testdata/invalid-*.yml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config
from tests.conftest import ROOT

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(p.stem for p in INVALID.glob("*.yaml"))


@pytest.mark.parametrize("name", CASES)
def test_invalid_config_gives_its_exact_message(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each broken config is refused with exactly the one line a user needs to fix it."""
    monkeypatch.chdir(INVALID)
    monkeypatch.delenv("ATOM_TEST_UNSET_TOKEN", raising=False)
    with pytest.raises(ConfigError) as info:
        load_config(Path(f"{name}.yaml"))
    # `{packs}` stands for every pack a config can name: the test packs and the bundled ones.
    packs = {p.stem for d in (INVALID.parent / "packs", ROOT / "checks") for p in d.glob("*.yaml")}
    expected = (INVALID / f"{name}.expected").read_text().strip().replace("{packs}", ", ".join(sorted(packs)))
    assert "\n".join(str(i) for i in info.value.issues) == expected


def test_every_rule_has_an_expected_message() -> None:
    """No invalid config fixture lacks its expected message, and none is orphaned."""
    assert {p.stem for p in INVALID.glob("*.expected")} == set(CASES)


def test_validate_command_exits_2_without_traceback() -> None:
    """`config validate` on a broken file prints the issue lines only and exits 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "config", "validate", "bad_duration.yaml"],
        cwd=INVALID,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (INVALID / "bad_duration.expected").read_text().strip()
    assert "Traceback" not in proc.stderr
