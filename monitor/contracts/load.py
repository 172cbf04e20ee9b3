"""Finding and reading contracts and cassettes. Both are read with a safe YAML loader only."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from monitor.config.errors import ConfigError, ConfigIssue, issues_from_validation, sort_issues
from monitor.config.loader import bundled_dir
from monitor.config.yamlsrc import load_yaml, yaml_error_issue
from monitor.contracts.model import Contract

CONTRACT_FILE = "contract.yaml"
CASSETTES = "cassettes"
_SafeLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def contracts_dirs(config_dir: Path | None = None, contracts_dir: str = "contracts") -> list[Path]:
    """Where contracts are looked up: beside the config first, then the bundled copy."""
    dirs = [config_dir / contracts_dir] if config_dir is not None else []
    bundled = bundled_dir("contracts")
    return [*dirs, bundled] if bundled not in dirs else dirs


def find_contract(provider: str, dirs: Iterable[Path]) -> Path | None:
    if "/" in provider or "\\" in provider or provider.startswith("."):
        return None
    for d in dirs:
        candidate = d / provider / CONTRACT_FILE
        if candidate.is_file():
            return candidate
    return None


def all_contracts(dirs: Iterable[Path]) -> dict[str, Path]:
    """provider -> contract file, the first directory winning."""
    found: dict[str, Path] = {}
    for d in dirs:
        for path in sorted(d.glob(f"*/{CONTRACT_FILE}")) if d.is_dir() else []:
            found.setdefault(path.parent.name, path)
    return found


def read_contract(path: Path) -> tuple[Contract | None, list[ConfigIssue]]:
    """The contract, or every mistake in it as `file:line: yaml.path: problem`."""
    file = str(path)
    try:
        raw, lines = load_yaml(path)
    except yaml.YAMLError as exc:
        return None, [yaml_error_issue(file, exc)]
    try:
        contract = Contract.model_validate(raw or {})
    except ValidationError as exc:
        return None, sort_issues(issues_from_validation(exc, file, lines))
    if contract.provider != path.parent.name:
        msg = f"provider {contract.provider!r} does not match its directory {path.parent.name!r}"
        return None, [ConfigIssue(file, ("provider",), msg, lines.get(("provider",)))]
    return contract, []


def load_contract(path: Path) -> Contract:
    contract, issues = read_contract(path)
    if contract is None:
        raise ConfigError(issues)
    return contract


def cassette_files(contract_file: Path) -> list[Path]:
    folder = contract_file.parent / CASSETTES
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def load_cassette(path: Path) -> dict[str, Any]:
    """A vcrpy cassette as data (safe loader: no Python tags are ever constructed)."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise ValueError(f"{path}: not a vcrpy cassette (no interactions list)")
    return data
