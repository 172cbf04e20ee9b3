"""`config validate` and `config schema`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from monitor.cli.common import EXIT_OK, load
from monitor.config.models import ConfigFile


def cmd_validate(args: argparse.Namespace) -> int:
    config = load(args)
    print(f"{config.source}: ok ({len(config.integrations)} integrations, {len(config.checks)} checks)")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(config_schema(), indent=2))
    return EXIT_OK


def config_schema() -> dict[str, object]:
    schema = ConfigFile.model_json_schema(by_alias=True)
    # `sandbox: true` is shorthand for `sandbox: {enabled: true}` (a BeforeValidator): say so.
    props: Any = schema["properties"]
    props["sandbox"] = {"anyOf": [{"type": "boolean"}, props["sandbox"]], "default": False}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "atom-monitor config.yaml"
    return schema
