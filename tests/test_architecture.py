"""The README's import rules hold: data flows one way, and no module reaches up the stack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "monitor"


def _imports(path: Path) -> set[str]:
    """Every `monitor.*` module a file imports (including lazily, inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("monitor"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("monitor"))
    return found


def _files(prefix: str) -> list[Path]:
    target = PACKAGE / prefix
    return sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py")]


# module (file or package under monitor/) -> the monitor modules it must never import
FORBIDDEN = {
    "model": ("monitor.",),  # imports nothing of ours (monitor.model itself excepted below)
    "jsoncodec": ("monitor.",),
    "httpclient": ("monitor.",),
    "store": ("monitor.config", "monitor.probes", "monitor.engine", "monitor.cli", "monitor.server"),
    "store_schema": ("monitor.config", "monitor.probes", "monitor.engine", "monitor.cli", "monitor.server"),
    "store_window": ("monitor.config", "monitor.probes", "monitor.engine", "monitor.cli", "monitor.server"),
    "readiness": ("monitor.store", "monitor.engine", "monitor.probes", "monitor.cli", "monitor.server"),
    # Built by the store and judged by readiness, so it may import neither (nor config): only model.
    "evidence": (
        "monitor.config",
        "monitor.store",
        "monitor.readiness",
        "monitor.report",
        "monitor.engine",
        "monitor.probes",
        "monitor.cli",
        "monitor.server",
    ),
    "probes": ("monitor.store", "monitor.engine", "monitor.cli", "monitor.scheduler", "monitor.daemon"),
    "runner": ("monitor.store", "monitor.engine", "monitor.cli", "monitor.scheduler", "monitor.daemon"),
    "sandbox": ("monitor.config", "monitor.engine", "monitor.probes", "monitor.store", "monitor.cli"),
    "config": ("monitor.store", "monitor.engine", "monitor.probes", "monitor.cli", "monitor.daemon"),
    "claims": ("monitor.store", "monitor.engine", "monitor.probes", "monitor.cli", "monitor.daemon"),
}


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_module_imports_only_downstream(module: str) -> None:
    """Each layer imports only what sits below it in the README's architecture."""
    bad = []
    for path in _files(module):
        for imported in _imports(path):
            own = f"monitor.{module}"
            if imported == own or imported.startswith(own + "."):
                continue  # a package's modules import each other
            if any(imported == f or imported.startswith(f) for f in FORBIDDEN[module]):
                bad.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not bad, "\n".join(bad)


def test_the_import_scan_sees_imports() -> None:
    """The scan is not vacuous: it finds the engine's store import and a lazy one in a function."""
    assert "monitor.store" in _imports(PACKAGE / "engine.py")
    assert "monitor.sandbox" in _imports(PACKAGE / "engine.py")  # imported inside _start_sandbox
