"""Loading config.yaml and packs: env substitution, defaults, overrides and secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, ProbeKind, load_config
from monitor.config.durations import format_duration, parse_duration

PACKS = Path(__file__).parent / "packs"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"monitor: {{packs_dir: {PACKS}}}\n" + text)
    return path


def test_env_reference_in_flow_mapping_is_substituted(tmp_path: Path) -> None:
    """`{token: ${VAR}}` parses as YAML and takes the variable's value, which becomes a secret."""
    path = _write(
        tmp_path,
        "sandbox: true\nintegrations:\n  gh: {pack: demo, vars: {owner: a, repo: b},"
        " auth: {kind: bearer, token: ${GH_TEST_TOKEN}}}\n",
    )
    cfg = load_config(path, env={"GH_TEST_TOKEN": "s3cr3t-value: with # yaml chars"})
    auth = cfg.integrations["gh"].auth
    assert auth.kind == "bearer"
    assert auth.token.get_secret_value() == "s3cr3t-value: with # yaml chars"  # type: ignore[union-attr]
    assert "s3cr3t-value: with # yaml chars" in cfg.secrets


def test_env_default_and_literal_dollar(tmp_path: Path) -> None:
    """`${VAR:-default}` falls back to the default and `$$` is a literal dollar sign."""
    path = _write(
        tmp_path,
        "sandbox: true\nintegrations:\n  gh:\n    pack: demo\n"
        "    vars: {owner: '${OWNER:-acme}', repo: 'p$$q'}\n",
    )
    cfg = load_config(path, env={})
    assert cfg.integrations["gh"].vars == {"owner": "acme", "repo": "p$q"}


def test_interval_and_timeout_resolve_from_most_specific(tmp_path: Path) -> None:
    """A per-check override beats the integration, which beats the pack default."""
    path = _write(
        tmp_path,
        "sandbox: true\nintegrations:\n  gh:\n    pack: demo\n    vars: {owner: a, repo: b}\n"
        "    interval: 2m\n    checks: {whoami: {interval: 15s, timeout: 1s}}\n",
    )
    cfg = load_config(path)
    by_name = {c.name: c for c in cfg.checks}
    assert by_name["whoami"].interval == 15 and by_name["whoami"].timeout == 1
    assert by_name["issue"].interval == 120 and by_name["issue"].timeout == 5
    assert by_name["whoami"].kind is ProbeKind.HTTP


def test_disabled_check_and_integration_are_not_run(tmp_path: Path) -> None:
    """`enabled: false` removes a check or a whole integration from the run."""
    path = _write(
        tmp_path,
        "sandbox: true\nintegrations:\n  gh:\n    pack: demo\n    vars: {owner: a, repo: b}\n"
        "    checks: {issue: {enabled: false}}\n  spare:\n    pack: demo\n    enabled: false\n"
        "    vars: {owner: a, repo: b}\n",
    )
    cfg = load_config(path)
    assert [c.key for c in cfg.checks] == ["gh/whoami"]
    assert list(cfg.integrations) == ["gh"]


def test_several_mistakes_are_all_reported(tmp_path: Path) -> None:
    """All mistakes come back in one run, sorted by line."""
    path = _write(
        tmp_path,
        "sandbox: true\nintegrations:\n  a: {pack: nope}\n  b: {pack: demo, interval: 1 fortnight}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    messages = [i.message for i in info.value.issues]
    assert len(messages) == 1  # model errors stop before pack resolution
    assert "invalid duration '1 fortnight'" in messages[0]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A config path that does not exist is one clear line, not a traceback."""
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("10s", 10), ("5m", 300), ("1h", 3600), ("30d", 2592000), (7, 7.0)]
)
def test_durations_parse(text: object, seconds: float) -> None:
    """Durations accept a number with a unit, or plain seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["10 sec", "1w", "-5s", "", True, "ms"])
def test_bad_durations_are_refused(bad: object) -> None:
    """Anything else is refused with a message that shows the accepted spellings."""
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)


def test_format_duration_is_shortest_exact() -> None:
    """Reports show `24h` and `800ms`, not raw seconds."""
    assert [format_duration(s) for s in (86400, 0.8, 90, 120, 1.5)] == ["1d", "800ms", "90s", "2m", "1.5s"]


def test_shipped_config_validates_against_the_editor_schema() -> None:
    """config.yaml as shipped (durations like `30s`, `sandbox: true`) is valid for an editor
    using config.schema.json, so the yaml-language-server line does not flag correct YAML."""
    import json

    import jsonschema
    import yaml

    root = Path(__file__).parents[2]
    schema = json.loads((root / "config.schema.json").read_text())
    doc = yaml.safe_load((root / "config.yaml").read_text())
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]
    assert not errors


def test_shipped_config_schema_is_current() -> None:
    """config.schema.json (what editors validate against) matches the models; `make schema` updates it."""
    import json

    from monitor.cli import config_schema

    shipped = json.loads((Path(__file__).parents[2] / "config.schema.json").read_text())
    assert shipped == json.loads(json.dumps(config_schema()))


def test_contracted_calls_are_judged_by_the_contract_schema() -> None:
    """The contract is the one source of truth: a contracted pack request (a single check, a CRUD
    step, or an `also` user) runs with the operation's response schema and status."""
    from monitor.contracts.load import load_contract
    from tests.conftest import ROOT

    cfg = load_config(ROOT / "config.yaml")
    checks = {(c.integration, c.name): c for c in cfg.checks}
    github = load_contract(ROOT / "contracts" / "github" / "contract.yaml").operations
    assert checks[("github", "auth_valid")].spec.expect.schema_ == github["get_authenticated_user"].response
    steps = {s.name: s for s in checks[("github", "crud_issue_comment")].spec.steps or []}
    assert steps["create"].expect.schema_ == github["create_issue_comment"].response
    assert steps["read"].expect.status == [200] and steps["delete"].expect.schema_ is None
    figma = load_contract(ROOT / "contracts" / "figma" / "contract.yaml").operations
    assert checks[("figma", "latency_me")].spec.expect.schema_ == figma["get_me"].response
    # Requests no contract names keep the pack's own expectation.
    assert checks[("github", "auth_invalid")].spec.expect.schema_ is None
