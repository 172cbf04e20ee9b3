"""Contract files: strict, one line per mistake, in the config's error format."""

from __future__ import annotations

from pathlib import Path

from monitor.contracts.load import read_contract
from tests.conftest import ROOT


def test_repo_contracts_are_well_formed() -> None:
    """Every committed contract loads."""
    for path in sorted((ROOT / "contracts").glob("*/contract.yaml")):
        contract, issues = read_contract(path)
        assert contract is not None and not issues, issues


def test_mistakes_are_one_line_each(tmp_path: Path) -> None:
    """An unknown key and a wrong type are each one `file:line: yaml.path: problem` line."""
    path = tmp_path / "acme" / "contract.yaml"
    path.parent.mkdir()
    path.write_text(
        "provider: acme\noperations:\n  get_thing:\n    method: GET\n    path: /thing\n"
        "    check: c\n    read_only: maybe\n    colour: red\n"
    )
    contract, issues = read_contract(path)
    assert contract is None
    assert [str(i) for i in issues] == [
        f"{path}:7: operations.get_thing.read_only: expected true or false, got string 'maybe'",
        f"{path}:8: operations.get_thing: unknown key 'colour'",
    ]
