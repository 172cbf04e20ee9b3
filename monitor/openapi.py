"""The OpenAPI 3.0 description of the daemon's own API, served at /api/v1/openapi.json.

Written by hand next to the handlers it describes; schemathesis tests both against each other.
"""

from __future__ import annotations

from typing import Any

from monitor import __version__
from monitor.model import Category, Outcome


def _error() -> dict[str, Any]:
    return {
        "description": "An error, with a sentence saying what to do",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


_NULLABLE_STR = {"type": "string", "nullable": True}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "issues": {"type": "array", "items": {"type": "string"}}},
    },
    "Assertion": {
        "type": "object",
        "required": ["name", "expected", "actual", "passed"],
        "properties": {
            "name": {"type": "string"},
            "expected": {"type": "string"},
            "actual": {"type": "string"},
            "passed": {"type": "boolean"},
            "step": _NULLABLE_STR,
        },
    },
    "CheckResult": {
        "type": "object",
        "required": [
            "run_id",
            "integration",
            "check",
            "category",
            "outcome",
            "started_at",
            "duration_s",
            "reason",
        ],
        "properties": {
            "run_id": {"type": "string"},
            "integration": {"type": "string"},
            "check": {"type": "string"},
            "category": {"type": "string", "enum": [c.value for c in Category]},
            "outcome": {"type": "string", "enum": [o.value for o in Outcome]},
            "started_at": {"type": "string", "format": "date-time"},
            "duration_s": {"type": "number", "minimum": 0},
            "reason": {"type": "string"},
            "http_status": {"type": "integer", "nullable": True},
            "assertions": {"type": "array", "items": {"$ref": "#/components/schemas/Assertion"}},
            "evidence": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "request": {"type": "string"},
                    "status": {"type": "integer", "nullable": True},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "body_excerpt": {"type": "string"},
                },
            },
            "ratelimit": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "remaining": {"type": "integer", "nullable": True},
                    "limit": {"type": "integer", "nullable": True},
                    "reset_at": {"type": "number", "nullable": True},
                    "retry_after_s": {"type": "number", "nullable": True},
                },
            },
            "attempts": {"type": "integer", "minimum": 1},
            "flaky": {"type": "boolean"},
        },
    },
    "ResultPage": {
        "type": "object",
        "required": ["results", "total", "limit", "offset"],
        "properties": {
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/CheckResult"}},
            "total": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1},
            "offset": {"type": "integer", "minimum": 0},
        },
    },
    "Integration": {
        "type": "object",
        "required": ["name", "pack", "provider", "base_url", "checks"],
        "properties": {
            "name": {"type": "string"},
            "pack": {"type": "string"},
            "provider": {"type": "string"},
            "base_url": {"type": "string"},
            "claimed_status": _NULLABLE_STR,
            "checks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "category", "kind", "interval_s", "timeout_s", "last"],
                    "properties": {
                        "name": {"type": "string"},
                        "category": {"type": "string", "enum": [c.value for c in Category]},
                        "kind": {"type": "string"},
                        "interval_s": {"type": "number"},
                        "timeout_s": {"type": "number"},
                        "last": {
                            "type": "object",
                            "nullable": True,
                            "required": ["outcome", "started_at", "duration_s", "reason"],
                            "properties": {
                                "outcome": {"type": "string", "enum": [o.value for o in Outcome]},
                                "started_at": {"type": "string", "format": "date-time"},
                                "duration_s": {"type": "number"},
                                "reason": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}


def _param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def openapi_document(integrations: list[str] | None = None) -> dict[str, Any]:
    """The daemon's API. Given the configured integrations, names are an enum: a client (and
    schemathesis) learns which values exist instead of discovering them from 400s."""
    names: dict[str, Any] = {"type": "string"}
    if integrations:
        names["enum"] = sorted(integrations)
    status = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}
    admin: list[dict[str, list[str]]] = [{"adminToken": []}]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "atom-monitor",
            "version": __version__,
            "description": "Integration readiness, measured: results, integrations and runs.",
        },
        "paths": {
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Liveness: the process answers",
                    "responses": {
                        "200": {"description": "alive", "content": {"application/json": {"schema": status}}}
                    },
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Readiness: the scheduler runs and the store answers",
                    "responses": {
                        "200": {"description": "ready", "content": {"application/json": {"schema": status}}},
                        "503": {
                            "description": "not ready",
                            "content": {"application/json": {"schema": status}},
                        },
                    },
                }
            },
            "/api/v1/integrations": {
                "get": {
                    "operationId": "listIntegrations",
                    "summary": "Configured integrations, their checks and each check's last result",
                    "responses": {
                        "200": {
                            "description": "integrations",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["integrations"],
                                        "properties": {
                                            "integrations": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Integration"},
                                            }
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/api/v1/results": {
                "get": {
                    "operationId": "listResults",
                    "summary": "Stored results, newest first, filtered and paged",
                    "parameters": [
                        _param("integration", {"type": "string"}, "only this integration"),
                        _param("check", {"type": "string"}, "only this check"),
                        _param(
                            "category", {"type": "string", "enum": [c.value for c in Category]}, "category"
                        ),
                        _param("outcome", {"type": "string", "enum": [o.value for o in Outcome]}, "outcome"),
                        _param("since", {"type": "string", "format": "date-time"}, "started at or after"),
                        _param("until", {"type": "string", "format": "date-time"}, "started before"),
                        _param("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "page size"),
                        _param(
                            "offset",
                            {"type": "integer", "minimum": 0, "maximum": 1_000_000_000},
                            "results to skip",
                        ),
                    ],
                    "responses": {"200": _json("#/components/schemas/ResultPage", "a page"), "400": _error()},
                }
            },
            "/api/v1/runs": {
                "post": {
                    "operationId": "triggerRun",
                    "summary": "Run checks now (admin token)",
                    "security": admin,
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "integrations": {"type": "array", "items": names},
                                        "wait": {"type": "boolean"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "finished (wait: true)",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["results"],
                                        "properties": {
                                            "results": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/CheckResult"},
                                            }
                                        },
                                    }
                                }
                            },
                        },
                        "202": {
                            "description": "started",
                            "content": {"application/json": {"schema": status}},
                        },
                        "400": _error(),
                        "401": _error(),
                        "403": _error(),
                    },
                }
            },
            "/api/v1/reload": {
                "post": {
                    "operationId": "reloadConfig",
                    "summary": "Reload config.yaml; a broken one is refused and the old one keeps running",
                    "security": admin,
                    "responses": {
                        "200": {
                            "description": "reloaded",
                            "content": {"application/json": {"schema": status}},
                        },
                        "400": _error(),
                        "401": _error(),
                        "403": _error(),
                    },
                }
            },
            "/api/v1/readiness": {
                "get": {
                    "operationId": "readiness",
                    "summary": "The live readiness document (the JSON report; reports/readiness.schema.json)",
                    "responses": {
                        "200": {
                            "description": "verdicts, evidence and claims per integration",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": [
                                            "schema_version",
                                            "generated_at",
                                            "summary",
                                            "integrations",
                                        ],
                                        "properties": {
                                            "schema_version": {"type": "integer"},
                                            "generated_at": {"type": "string", "format": "date-time"},
                                            "summary": {"type": "object"},
                                            "integrations": {"type": "array", "items": {"type": "object"}},
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/report": {
                "get": {
                    "operationId": "report",
                    "summary": "The live readiness report as one self-contained HTML page",
                    "responses": {
                        "200": {
                            "description": "HTML",
                            "content": {"text/html": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.0",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }
