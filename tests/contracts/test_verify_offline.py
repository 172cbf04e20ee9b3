"""verify --offline: the repo's contracts and cassettes hold; a broken contract or a mutated
cassette fails with the exact line (JSON pointer, expected, found)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT


def _verify(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "verify", "--offline", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def _copy(tmp_path: Path, provider: str = "github") -> Path:
    dst = tmp_path / "contracts"
    shutil.copytree(ROOT / "contracts" / provider, dst / provider)
    return dst


def test_repo_contracts_and_cassettes_verify_offline(provider_specs: Path) -> None:
    """Every committed contract is declared by its published spec and every cassette satisfies it."""
    proc = _verify("--specs", str(provider_specs))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "" and "contracts: ok" in proc.stderr
    for provider in ("github", "slack", "jira"):
        assert (ROOT / "contracts" / provider / "cassettes" / "read.yaml").is_file()


def test_field_the_spec_does_not_declare_is_one_exact_line(tmp_path: Path, provider_specs: Path) -> None:
    """A contract field absent from the spec fails with one line: its pointer, expected and found."""
    contracts = _copy(tmp_path)
    path = contracts / "github" / "contract.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["operations"]["get_authenticated_user"]["response"]["properties"]["favourite_colour"] = {
        "type": "string"
    }
    path.write_text(yaml.safe_dump(doc))
    proc = _verify("--contracts", str(contracts), "--specs", str(provider_specs))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"{path}#/operations/get_authenticated_user/response/properties/favourite_colour: "
        "expected field 'favourite_colour' declared in the spec, found not declared"
    ]


def test_wrong_type_is_one_exact_line(tmp_path: Path, provider_specs: Path) -> None:
    """A contract type the spec contradicts fails with the pointer, the contract type and the spec's."""
    contracts = _copy(tmp_path, "jira")
    path = contracts / "jira" / "contract.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["operations"]["search_projects"]["response"]["properties"]["isLast"] = {"type": "string"}
    path.write_text(yaml.safe_dump(doc))
    proc = _verify("--contracts", str(contracts), "--specs", str(provider_specs))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"{path}#/operations/search_projects/response/properties/isLast: "
        "expected type string, found type boolean in the spec",
        # ...and the recorded interaction no longer satisfies the changed contract either.
        f"{contracts}/jira/cassettes/read.yaml#/interactions/1/response/body/isLast: "
        "expected type string, found type boolean",
    ]


@pytest.mark.parametrize(("mode", "found"), [("remove", "missing"), ("retype", "type string")])
def test_mutated_cassette_fails_with_exact_pointer(tmp_path: Path, mode: str, found: str) -> None:
    """A cassette whose recorded `id` was removed or retyped fails at that interaction's body pointer."""
    contracts = _copy(tmp_path)
    cassette = contracts / "github" / "cassettes" / "read.yaml"
    data = yaml.safe_load(cassette.read_text())
    body = yaml.safe_load(data["interactions"][0]["response"]["body"]["string"])
    if mode == "remove":
        del body["id"]
    else:
        body["id"] = str(body["id"])

    data["interactions"][0]["response"]["body"]["string"] = json.dumps(body)
    cassette.write_text(yaml.safe_dump(data))
    proc = _verify("--contracts", str(contracts), "--specs", str(tmp_path / "no-specs"))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"{cassette}#/interactions/0/response/body/id: expected type integer, found {found}"
    ]


def test_graphql_contract_is_proven_against_the_sdl(tmp_path: Path, provider_specs: Path) -> None:
    """Linear's contract against its SDL: an unknown root field, a field the type lacks and a type
    the SDL contradicts are each one exact line."""
    contracts = _copy(tmp_path, "linear")
    path = contracts / "linear" / "contract.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["operations"]["team"]["graphql"]["field"] = "squad"
    viewer = doc["operations"]["viewer"]["response"]["properties"]["data"]["properties"]["viewer"]
    viewer["properties"]["active"] = {"type": "string"}
    viewer["properties"]["shoeSize"] = {"type": "integer"}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    shutil.rmtree(contracts / "linear" / "cassettes")
    proc = _verify("--contracts", str(contracts), "--specs", str(provider_specs))
    assert proc.returncode == 1
    at = f"{path}#/operations"
    viewer_at = f"{at}/viewer/response/properties/data/properties/viewer/properties"
    assert proc.stdout.splitlines() == [
        f"{viewer_at}/active: expected type string, found type boolean in the spec",
        f"{viewer_at}/shoeSize: expected field 'shoeSize' declared in the spec, found not declared",
        f"{at}/team/graphql/field: expected Query.squad in linear/schema.graphql, found no such field",
    ]


def test_graphql_cassette_interactions_are_told_apart_by_root_field(tmp_path: Path) -> None:
    """All Linear calls POST /graphql; the recorded query's root field picks the operation, so a
    viewer answer missing `id` fails at that interaction's pointer."""
    contracts = _copy(tmp_path, "linear")
    cassette = contracts / "linear" / "cassettes" / "read.yaml"
    data = yaml.safe_load(cassette.read_text())
    index = next(i for i, it in enumerate(data["interactions"]) if "viewer" in it["request"]["body"])
    body = json.loads(data["interactions"][index]["response"]["body"]["string"])
    del body["data"]["viewer"]["id"]
    data["interactions"][index]["response"]["body"]["string"] = json.dumps(body)
    cassette.write_text(yaml.safe_dump(data))
    proc = _verify("--contracts", str(contracts), "--specs", str(tmp_path / "no-specs"))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"{cassette}#/interactions/{index}/response/body/data/viewer/id: expected type string, found missing"
    ]


def test_discovery_document_proves_google_fields(tmp_path: Path, provider_specs: Path) -> None:
    """Google's discovery document is read as a spec: an operation it lacks and a field its schema
    does not declare are each one exact line."""
    contracts = _copy(tmp_path, "google")
    path = contracts / "google" / "contract.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["operations"]["colors_get"]["path"] = "/colours"
    doc["operations"]["calendars_get"]["response"]["properties"]["owner"] = {"type": "string"}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = _verify("--contracts", str(contracts), "--specs", str(provider_specs))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"{path}#/operations/calendars_get/response/properties/owner: "
        "expected field 'owner' declared in the spec, found not declared",
        f"{path}#/operations/colors_get: expected GET /colours in google-calendar/calendar.v3.json, "
        "found no such operation",
    ]


def test_contract_without_a_spec_checks_the_pack_path(tmp_path: Path) -> None:
    """`spec: null` (Salesforce publishes none): the note says so, and an operation whose path the
    pack check does not call is one exact line."""
    contracts = _copy(tmp_path, "salesforce")
    path = contracts / "salesforce" / "contract.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["operations"]["limits"]["path"] = "/services/data/v60.0/limitz"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = _verify("--contracts", str(contracts), "--specs", str(tmp_path / "no-specs"))
    assert proc.returncode == 1
    assert "salesforce: no published spec" in proc.stderr
    assert proc.stdout.splitlines() == [
        f"{path}#/operations/limits/check: expected latency_limits to call GET "
        "/services/data/v60.0/limitz, found GET /services/data/v60.0/limits"
    ]
