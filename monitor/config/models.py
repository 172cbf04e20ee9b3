"""Pydantic models of config.yaml and of check packs (checks/<pack>.yaml).

Every model forbids unknown keys: a typo in YAML must be an error, not a silently ignored check.
Unions a user writes loosely (a status or a list of them, a value or a condition) are normalised
by `BeforeValidator`s so that a mistake yields one error, not one per union branch.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from monitor.config.durations import format_duration, parse_duration
from monitor.model import Category

# The editor schema must accept what users write ("30s"), not only the float it becomes.
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "description": "seconds"},
                {
                    "type": "string",
                    "pattern": r"^\d+(\.\d+)?(ms|s|m|h|d)$",
                    "examples": ["500ms", "10s", "5m", "1h", "1d"],
                },
            ]
        }
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --------------------------------------------------------------------------- packs


class HttpMethod(enum.StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"
    HEAD = "HEAD"


class AuthMode(enum.StrEnum):
    """Which credential a request carries: the configured one, a deliberately wrong one, or none."""

    VALID = "valid"
    INVALID = "invalid"
    NONE = "none"


class JsonType(enum.StrEnum):
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    OBJECT = "object"
    ARRAY = "array"
    NULL = "null"


class Condition(_Strict):
    """A condition on one value (a body path or a header). All given fields must hold."""

    equals: Any = None
    not_equals: Any = None
    exists: bool | None = None
    type: JsonType | None = None
    contains: str | None = None
    matches: str | None = None
    min_items: int | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError("a condition needs at least one of: " + ", ".join(Condition.model_fields))
        return self


def _to_condition(value: Any) -> Any:
    """`ok: true` is shorthand for `ok: {equals: true}`."""
    if isinstance(value, dict):
        return value
    return {"equals": value}


def _to_status_list(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    return value


ConditionSpec = Annotated[Condition, BeforeValidator(_to_condition)]


class Expect(_Strict):
    """Structured expectations on one response. Status defaults to any 2xx."""

    status: Annotated[
        list[Annotated[int, Field(ge=100, le=599)]] | None, BeforeValidator(_to_status_list)
    ] = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    body: dict[str, ConditionSpec] = Field(default_factory=dict)
    headers: dict[str, ConditionSpec] = Field(default_factory=dict)
    # GraphQL answers errors with HTTP 200 and an `errors` array; by default that is a failure.
    graphql_errors: bool = False


class GraphQL(_Strict):
    query: str
    variables: dict[str, Any] = Field(default_factory=dict)
    operation_name: str | None = None


class RequestSpec(_Strict):
    method: HttpMethod = HttpMethod.GET
    path: str
    query: dict[str, str | int | float | bool] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    form: dict[str, str] | None = None
    graphql: GraphQL | None = None
    # RPC APIs (Dropbox) want an explicit `null` JSON body: a missing body is a different request.
    json_null: bool = False

    @model_validator(mode="after")
    def _one_body(self) -> RequestSpec:
        bodies = [b for b in (self.json_body, self.form, self.graphql) if b is not None]
        if len(bodies) > 1 or (bodies and self.json_null):
            raise ValueError("give at most one of: json, form, graphql, json_null")
        if not self.path.startswith("/"):
            raise ValueError(f"path {self.path!r} must start with '/' (it is joined to base_url)")
        return self


class Step(_Strict):
    name: str
    request: RequestSpec
    expect: Expect = Field(default_factory=Expect)
    capture: dict[str, str] = Field(default_factory=dict)
    cleanup: bool = False
    auth: AuthMode = AuthMode.VALID
    # Why this step, though a successful authenticated call, is no contract operation.
    contract_exempt: Annotated[str, Field(min_length=1)] | None = None


class CheckSpec(_Strict):
    """One check in a pack. `http` and `steps` name the probe kind that runs it."""

    category: Category
    description: str = ""
    auth: AuthMode = AuthMode.VALID
    http: RequestSpec | None = None
    steps: list[Step] | None = None
    expect: Expect = Field(default_factory=Expect)
    interval: Duration | None = None
    timeout: Duration | None = None
    latency_under: Duration | None = None
    # Why this check's requests, though successful authenticated calls, are no contract operations
    # (a `$select=id` projection answers another shape than the contracted call).
    contract_exempt: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> CheckSpec:
        if (self.http is None) == (self.steps is None):
            raise ValueError("a check needs exactly one of: http (one request), steps (a sequence)")
        if self.steps is not None:
            names = [s.name for s in self.steps]
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                raise ValueError(f"step names must be unique, repeated: {', '.join(sorted(dup))}")
            if not self.steps:
                raise ValueError("steps must not be empty")
        return self


class PackDefaults(_Strict):
    interval: Duration = 60.0
    timeout: Duration = 10.0
    latency_under: Duration | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class SpecGap(_Strict):
    """A status the provider really answers that its published spec leaves out (Xero's 401)."""

    request: Annotated[str, Field(pattern=r"^(GET|POST|PUT|PATCH|DELETE|HEAD) /")]
    status: Annotated[int, Field(ge=100, le=599)]
    note: str = ""


class Pack(_Strict):
    provider: str
    description: str = ""
    # Path of the provider's published API description, relative to shared/provider-specs/.
    spec: str | None = None
    spec_note: str = ""
    # Known omissions of the spec, stated rather than hidden: conformance tests accept exactly these.
    spec_gaps: list[SpecGap] = Field(default_factory=list)
    docs: str = ""
    defaults: PackDefaults = Field(default_factory=PackDefaults)
    checks: dict[str, CheckSpec]


# --------------------------------------------------------------------------- config.yaml


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class NoAuth(_Strict):
    kind: Literal["none"]


class BearerAuth(_Strict):
    kind: Literal["bearer"]
    token: SecretStr
    # Linear's personal keys go in Authorization with no scheme: set `scheme: ""`.
    scheme: str = "Bearer"


class BasicAuth(_Strict):
    kind: Literal["basic"]
    username: str
    password: SecretStr


class HeaderAuth(_Strict):
    kind: Literal["header"]
    name: str
    value: SecretStr


class QueryAuth(_Strict):
    kind: Literal["query"]
    params: dict[str, SecretStr]


class OAuth2RefreshAuth(_Strict):
    kind: Literal["oauth2_refresh"]
    token_url: str
    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr
    scope: str | None = None


Auth = Annotated[
    NoAuth | BearerAuth | BasicAuth | HeaderAuth | QueryAuth | OAuth2RefreshAuth,
    Field(discriminator="kind"),
]


class CheckOverride(_Strict):
    enabled: bool = True
    interval: Duration | None = None
    timeout: Duration | None = None
    latency_under: Duration | None = None


class RateLimitPolicy(_Strict):
    """Our checks share the provider's quota with the production integration: spend little."""

    # Stop calling when the provider says fewer than this many requests remain.
    floor: Annotated[int, Field(ge=0)] = 0
    # At most this many requests per hour from atom-monitor (None: no cap of our own).
    hourly_budget: Annotated[int, Field(ge=1)] | None = None


class Claims(_Strict):
    """What a team's status report says about the integration; judged against evidence."""

    status: str
    source: str | None = None
    features: dict[str, str] = Field(default_factory=dict)


class FuzzSpec(_Strict):
    """Bounds of the `fuzz` check that schemathesis runs against an integration's own OpenAPI
    document: generated cases per operation, the whole run's time, and how often it runs."""

    max_examples: Annotated[int, Field(ge=1, le=1000)] = 20
    budget: Duration = 30.0
    # Fuzzing costs far more than a probe: hourly unless asked (`checks.fuzz.interval` wins).
    interval: Duration = 3600.0

    @field_validator("budget")
    @classmethod
    def _budget(cls, value: float) -> float:
        if not 1.0 <= value <= 3600.0:
            raise ValueError(
                f"{format_duration(value)} is out of range (the budget must be between 1s and 1h)"
            )
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: float) -> float:
        if value < 1.0:
            raise ValueError(
                f"{format_duration(value)} is out of range (the fuzz interval must be at least 1s)"
            )
        return value


class Integration(_Strict):
    pack: str
    enabled: bool = True
    base_url: str | None = None
    auth: Auth = Field(default_factory=lambda: NoAuth(kind="none"))
    vars: dict[str, str | int | float | bool] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    interval: Duration | None = None
    timeout: Duration | None = None
    checks: dict[str, CheckOverride] = Field(default_factory=dict)
    ratelimit: RateLimitPolicy = Field(default_factory=RateLimitPolicy)
    claims: Claims | None = None
    # The integration's own OpenAPI document (an http(s) URL, or a file relative to this config):
    # for the team's own integration service, never a third-party production API. It adds a
    # `fuzz` check (category `error`) bounded by `fuzz`.
    openapi: str | None = None
    fuzz: FuzzSpec | None = None

    @field_validator("openapi")
    @classmethod
    def _openapi(cls, value: str | None) -> str | None:
        if value is not None and "://" in value and not value.startswith(("http://", "https://")):
            raise ValueError(f"unsupported URL {value!r} (use an http:// or https:// URL, or a file path)")
        return value

    @model_validator(mode="after")
    def _url(self) -> Integration:
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url {self.base_url!r} must start with http:// or https://")
        return self


class MonitorSection(_Strict):
    listen: str = "127.0.0.1:9400"
    store: str = "sqlite:///./atom-monitor.db"
    admin_token: SecretStr | None = None
    retention: Duration = 30 * 86400.0
    log_level: LogLevel = LogLevel.INFO
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 16
    per_integration_concurrency: Annotated[int, Field(ge=1, le=100)] = 4
    # Where packs live; relative to the config file. The bundled packs are the fallback.
    packs_dir: str = "checks"
    # Where consumer contracts live (contracts/<provider>/contract.yaml); relative to the config
    # file, the bundled contracts being the fallback. Each read-only operation becomes a check.
    contracts_dir: str = "contracts"
    # Network errors (refused, reset) are retried this often; a wrong answer never is.
    retries: Annotated[int, Field(ge=0, le=3)] = 1
    # On SIGTERM, in-flight checks get this long to finish before they are cancelled.
    shutdown_grace: Duration = 10.0
    # The daemon keeps readiness.json/.html here current (relative to the config file's folder);
    # unset: only /report and /api/v1/readiness serve it.
    report_dir: str | None = None


class FaultSpec(_Strict):
    """A fault the in-process sandbox injects from the start (see monitor/sandbox/faults.py)."""

    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    # Only requests whose path contains this are affected (empty: every request).
    path: str = ""


def _to_sandbox(value: Any) -> Any:
    if isinstance(value, bool):
        return {"enabled": value}
    return value


class SandboxSection(_Strict):
    enabled: bool = False
    listen: str = "127.0.0.1:0"
    faults: dict[str, list[FaultSpec]] = Field(default_factory=dict)


class LatencyPolicy(_Strict):
    percentile: Annotated[float, Field(gt=0, le=100)] = 95
    budget: Duration = 0.8


class Policy(_Strict):
    window: Duration = 86400.0
    min_samples: Annotated[int, Field(ge=1)] = 3
    max_evidence_age: Duration = 3600.0
    require: dict[Category, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: {
            Category.AUTH: 1.0,
            Category.RETRIEVAL: 0.99,
            Category.CRUD: 0.99,
            Category.ERROR: 0.95,
            Category.CONTRACT: 1.0,
        }
    )
    latency: LatencyPolicy = Field(default_factory=LatencyPolicy)
    # Per integration: any of min_samples, max_evidence_age, require (merged per category) and
    # latency replace the defaults above for that integration alone. The window is shared.
    overrides: dict[str, PolicyOverride] = Field(default_factory=dict)

    def for_integration(self, name: str) -> Policy:
        """The policy that judges `name`: the defaults with its override applied."""
        o = self.overrides.get(name)
        if o is None:
            return self
        update: dict[str, Any] = {k: v for k, v in o if k in o.model_fields_set and k != "require"}
        if o.require:
            update["require"] = {**self.require, **o.require}
        return self.model_copy(update=update)


class PolicyOverride(_Strict):
    """One integration's departures from the policy (e.g. a beta integration allowed 90% crud)."""

    min_samples: Annotated[int, Field(ge=1)] | None = None
    max_evidence_age: Duration | None = None
    require: dict[Category, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    latency: LatencyPolicy | None = None


class ClaimsFile(_Strict):
    """What `atom-monitor claims import` writes: the claims of one status report."""

    claims: dict[str, Claims] = Field(default_factory=dict)


class ConfigFile(_Strict):
    monitor: MonitorSection = Field(default_factory=MonitorSection)
    # Files written by `atom-monitor claims import`, relative to this file. An integration's own
    # `claims:` wins; otherwise its claims are looked up by integration name, then by pack name.
    claims_files: list[str] = Field(default_factory=list)
    sandbox: Annotated[SandboxSection, BeforeValidator(_to_sandbox)] = Field(default_factory=SandboxSection)
    policy: Policy = Field(default_factory=Policy)
    integrations: dict[str, Integration] = Field(default_factory=dict)
