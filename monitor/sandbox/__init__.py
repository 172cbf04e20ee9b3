"""Simulated providers: one module per provider, answering its real paths, status codes, error
shapes, pagination and rate-limit headers, with fault injection. Used by `make run`, the tests and
`atom-monitor sandbox`. Nothing here is imported by the engine.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Each name is a module monitor/sandbox/<name>.py exposing NAME, BASE_PATH and create_app(state).
_PROVIDERS = (
    "github",
    "slack",
    "jira",
    "linear",
    "asana",
    "notion",
    "trello",
    "salesforce",
    "hubspot",
    "msgraph",
    "figma",
    "xero",
    "google",
    "dropbox",
)


def provider_names() -> tuple[str, ...]:
    return _PROVIDERS


def load_provider(name: str) -> ModuleType:
    if name not in provider_names():
        raise KeyError(f"no sandbox for provider {name!r} (have: {', '.join(provider_names())})")
    return importlib.import_module(f"monitor.sandbox.{name}")
