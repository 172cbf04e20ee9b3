"""atom-monitor: integration readiness measured, not claimed."""

__version__ = "0.1.0"
