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


def test_no_spec_needs_a_note_and_graphql_needs_post(tmp_path: Path) -> None:
    """`spec: null` must say why (spec_note); a GraphQL operation is a POST naming its root field."""
    op = (
        "    path: /graphql\n    graphql: {operation: query, field: viewer}\n"
        "    check: c\n    read_only: true\n"
    )
    found = {}
    for name, head, method in (("nonote", "spec: null\n", "POST"), ("get", "spec: x.graphql\n", "GET")):
        path = tmp_path / name / "contract.yaml"
        path.parent.mkdir()
        path.write_text(f"provider: {name}\n{head}operations:\n  viewer:\n    method: {method}\n{op}")
        contract, issues = read_contract(path)
        assert contract is None
        found[name] = [str(i).removeprefix(f"{path}") for i in issues]
    assert found == {
        "nonote": [":1: (top level): a contract without a spec says why in spec_note"],
        "get": [":4: operations.viewer: a GraphQL operation is sent as a POST"],
    }
