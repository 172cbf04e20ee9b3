"""Configuration: config.yaml plus the check packs it names, validated with one clear error per mistake."""

from monitor.config.errors import ConfigError, ConfigIssue
from monitor.config.loader import bundled_dir, config_path, load_config
from monitor.config.resolved import Config, ProbeKind, ResolvedCheck, ResolvedIntegration

__all__ = [
    "Config",
    "ConfigError",
    "ConfigIssue",
    "ProbeKind",
    "ResolvedCheck",
    "ResolvedIntegration",
    "bundled_dir",
    "config_path",
    "load_config",
]
