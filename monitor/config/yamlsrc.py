"""Reading YAML while remembering the line of every key, so errors can point at it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from monitor.config.errors import ConfigIssue, YamlPath

_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_REF = re.compile(r"__atom_env_(\d+)__")


def load_yaml(
    path: Path, env_refs: list[tuple[str, str | None]] | None = None
) -> tuple[Any, dict[YamlPath, int]]:
    """Parse one YAML file, keeping the line of every key.

    With `env_refs`, each `${VAR}` is first swapped for a YAML-safe placeholder (recorded in
    `env_refs`): `{token: ${GITHUB_TOKEN}}` is then valid flow YAML, and a value containing
    `:` or `#` cannot change the document's structure. `substitute_env` fills them in.
    """
    text = path.read_text(encoding="utf-8")
    if env_refs is not None:

        def ref(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$$"
            env_refs.append((m.group(1), m.group(2)))
            return f"__atom_env_{len(env_refs) - 1}__"

        text = _ENV.sub(ref, text)
    node = yaml.compose(text, Loader=_Loader)
    lines: dict[YamlPath, int] = {}
    if node is not None:
        _walk(node, (), lines)
    data = yaml.load(text, Loader=_Loader)
    return data, lines


def yaml_error_issue(file: str, exc: yaml.YAMLError) -> ConfigIssue:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return ConfigIssue(file, (), f"not valid YAML: {problem}", mark.line + 1 if mark else None)


def _walk(node: yaml.Node, path: YamlPath, lines: dict[YamlPath, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else str(key)
            lines[(*path, k)] = key.start_mark.line + 1
            _walk(value, (*path, k), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines)


def substitute_env(
    data: Any,
    file: str,
    lines: dict[YamlPath, int],
    refs: list[tuple[str, str | None]],
    env: dict[str, str] | None = None,
) -> tuple[Any, list[ConfigIssue]]:
    """Fill in the `${VAR}` / `${VAR:-default}` placeholders; `$$` is a literal dollar.

    Every missing variable is reported, with the path where it was used.
    """
    environ = os.environ if env is None else env
    issues: list[ConfigIssue] = []

    def sub(value: Any, path: YamlPath) -> Any:
        if isinstance(value, dict):
            return {k: sub(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [sub(v, (*path, i)) for i, v in enumerate(value)]
        if not isinstance(value, str) or ("$$" not in value and "__atom_env_" not in value):
            return value

        def repl(m: re.Match[str]) -> str:
            name, default = refs[int(m.group(1))]
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            issues.append(
                ConfigIssue(
                    file,
                    path,
                    f"environment variable {name} is not set (export it, or write ${{{name}:-default}})",
                    lines.get(path),
                )
            )
            return ""

        return _REF.sub(repl, value).replace("$$", "$")

    return sub(data, ()), issues
