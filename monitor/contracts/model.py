"""The shape of `contracts/<provider>/contract.yaml`: operations and the response fields relied on.

Only what the integration needs is written down (consumer-driven): a JSON Schema of the fields it
reads, the status and content type it expects, and the pack check that makes the call.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.config.models import HttpMethod

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GraphQLOperation(_Strict):
    """Which GraphQL operation a call is: its type and the root field it selects
    (`{operation: query, field: viewer}` is Linear's `Query.viewer`). GraphQL APIs serve every
    operation from one path, so this is what tells the calls apart, in the SDL and in cassettes."""

    operation: Literal["query", "mutation"] = "query"
    field: Annotated[str, Field(pattern=r"^[_A-Za-z][_0-9A-Za-z]*$")]


class PackRequest(_Strict):
    """Another pack request that makes the same call (a latency check re-reading `GET /me`, a CRUD
    step reading back what it wrote): its response is judged by the same schema."""

    check: str
    step: str | None = None


class ContractOperation(_Strict):
    """One call the integration makes, and what it relies on in the answer."""

    description: str = ""
    method: HttpMethod
    # The spec's path template (`/repos/{owner}/{repo}/issues`), or the GraphQL endpoint's path.
    path: str
    # For GraphQL APIs: the operation type and root field the pack's document selects. The
    # response schema then describes the whole answer: `data.<field>...`.
    graphql: GraphQLOperation | None = None
    # The pack check (and, for a sequence, its step) that makes this call.
    check: str
    step: str | None = None
    # Other pack checks (and steps) that make this same call.
    also: list[PackRequest] = Field(default_factory=list)
    # Safe to call on a schedule against production: no state changes.
    read_only: bool
    status: Annotated[int, Field(ge=100, le=599)] = 200
    # Media type of the answer (parameters such as charset ignored); None: no body (a 204).
    content_type: str | None = "application/json"
    # JSON Schema of only the fields the integration reads.
    response: dict[str, Any] | None = None

    def users(self) -> list[tuple[str, str | None]]:
        """Every pack request (check, step) that makes this call: `check`/`step` first, then `also`."""
        return [(self.check, self.step), *((a.check, a.step) for a in self.also)]

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"path {value!r} must start with '/'")
        return value

    @field_validator("response")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            try:
                Draft202012Validator.check_schema(value)
            except SchemaError as exc:
                raise ValueError(f"response is not a valid JSON Schema: {exc.message}") from None
        return value

    @model_validator(mode="after")
    def _body(self) -> ContractOperation:
        if self.response is not None and self.content_type is None:
            raise ValueError("a response schema needs a content_type (the body it describes)")
        if self.graphql is not None and self.method.value != "POST":
            raise ValueError("a GraphQL operation is sent as a POST")
        return self


class Contract(_Strict):
    provider: str
    description: str = ""
    # The provider's published description, relative to shared/provider-specs/: OpenAPI 3.0/3.1,
    # Swagger 2.0, a Google discovery document, or a GraphQL SDL (`.graphql`). None: the provider
    # publishes none we may keep, and `spec_note` says so.
    spec: str | None = None
    spec_note: str = ""
    # The response or request header that names the provider's API version (provenance).
    version_header: str | None = None
    operations: dict[str, ContractOperation]

    @field_validator("operations")
    @classmethod
    def _names(cls, value: dict[str, ContractOperation]) -> dict[str, ContractOperation]:
        bad = [n for n in value if not _NAME.match(n)]
        if bad:
            raise ValueError(f"operation names must be lower_snake_case: {', '.join(bad)}")
        if not value:
            raise ValueError("a contract needs at least one operation")
        return value

    @model_validator(mode="after")
    def _spec_or_note(self) -> Contract:
        if self.spec is None and not self.spec_note.strip():
            raise ValueError("a contract without a spec says why in spec_note")
        return self
