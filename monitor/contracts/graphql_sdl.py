"""Contracts of GraphQL APIs (Linear) proven against the provider's published SDL with graphql-core.

For each operation: its root field exists on Query or Mutation; the pack check's document parses,
validates against the SDL and selects that root field; every field the contract relies on under
`data.<field>` is a field of the SDL type there, with a compatible JSON type (nullable adds null,
lists are arrays, Int is integer, enums and ID are strings). GraphQL answers every operation
with HTTP 200, so that is the only status a GraphQL operation may contract.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import graphql
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
)

from monitor.config.models import Pack, RequestSpec
from monitor.contracts.drift import pointer, schema_types
from monitor.contracts.model import Contract, ContractOperation

_SCALARS = {
    "Int": {"integer"},
    "Float": {"number", "integer"},
    "String": {"string"},
    "ID": {"string"},
    "Boolean": {"boolean"},
}

# (where, expected, found): verify_offline turns each into a Violation.
Problem = tuple[str, str, str]
Violate = Callable[[str, str, str], None]


def load_sdl(path: Path) -> GraphQLSchema:
    """The SDL as a schema (graphql-core's build_schema); GraphQLError and SyntaxError propagate."""
    return graphql.build_schema(path.read_text(encoding="utf-8"))


def root_fields(query: str, operation_name: str | None = None) -> tuple[str, frozenset[str]] | None:
    """(operation type, root field names) of a GraphQL document, or None when it does not parse."""
    try:
        document = graphql.parse(query)
    except graphql.GraphQLError:
        return None
    operation = graphql.get_operation_ast(document, operation_name)
    if operation is None:
        return None
    names = frozenset(
        s.name.value for s in operation.selection_set.selections if isinstance(s, graphql.FieldNode)
    )
    return operation.operation.value, names


def request_root_fields(body: Any) -> tuple[str, frozenset[str]] | None:
    """The root fields a recorded GraphQL request asked for (its JSON body's query)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if not isinstance(body, Mapping) or not isinstance(body.get("query"), str):
        return None
    name = body.get("operationName")
    return root_fields(body["query"], name if isinstance(name, str) else None)


def verify_sdl(contract: Contract, path: Path, schema: GraphQLSchema, pack: Pack | None) -> list[Problem]:
    """Each way the contract departs from the SDL: (JSON pointer into the contract, expected, found)."""
    out: list[Problem] = []

    def violate(where: str, expected: str, found: str) -> None:
        out.append((where, expected, found))

    for name, op in contract.operations.items():
        at = f"{path}#/operations/{name}"
        if op.graphql is None:
            violate(f"{at}/graphql", f"the GraphQL operation and root field in {contract.spec}", "none")
            continue
        root = schema.query_type if op.graphql.operation == "query" else schema.mutation_type
        root_name = "Query" if op.graphql.operation == "query" else "Mutation"
        field = root.fields.get(op.graphql.field) if root is not None else None
        if field is None:
            violate(
                f"{at}/graphql/field", f"{root_name}.{op.graphql.field} in {contract.spec}", "no such field"
            )
            continue
        if op.status != 200:
            violate(f"{at}/status", "status 200 (GraphQL answers every operation with 200)", f"{op.status}")
        if pack is not None:
            _pack_call(op, at, schema, pack, violate)
        if op.response is not None:
            _response(op, at, field, violate)
    return out


def _pack_call(op: ContractOperation, at: str, schema: GraphQLSchema, pack: Pack, violate: Violate) -> None:
    assert op.graphql is not None
    check = pack.checks.get(op.check)
    if check is None:
        violate(f"{at}/check", f"a check {op.check!r} in pack {pack.provider!r}", "none")
        return
    request: RequestSpec | None = check.http
    if op.step is not None:
        request = next((s.request for s in check.steps or [] if s.name == op.step), None)
    if request is None:
        violate(f"{at}/step", f"step {op.step!r} in check {op.check!r}", "none")
        return
    if request.graphql is None or request.path != op.path or request.method != op.method:
        violate(
            f"{at}/check", f"{op.check} to send a GraphQL document to {op.method.value} {op.path}", "none"
        )
        return
    document = graphql.parse(request.graphql.query)
    errors = graphql.validate(schema, document)
    if errors:
        violate(f"{at}/check", f"{op.check}'s document valid against the SDL", errors[0].message)
        return
    found = root_fields(request.graphql.query, request.graphql.operation_name)
    want = f"{op.check} to select {op.graphql.operation} {op.graphql.field}"
    if found is None or found[0] != op.graphql.operation or op.graphql.field not in found[1]:
        seen = f"{found[0]} {', '.join(sorted(found[1]))}" if found else "no operation"
        violate(f"{at}/check", want, seen)


def _response(op: ContractOperation, at: str, field: GraphQLField, violate: Violate) -> None:
    assert op.graphql is not None and op.response is not None
    where = f"{at}/response"
    data = (op.response.get("properties") or {}).get("data")
    if not isinstance(data, Mapping):
        violate(f"{where}/properties/data", "the answer's `data` described (GraphQL)", "none")
        return
    where += "/properties/data"
    for name in dict.fromkeys([*(data.get("properties") or {}), *(data.get("required") or [])]):
        if name != op.graphql.field:
            violate(f"{where}/properties/{pointer([name])[1:]}", f"only {op.graphql.field}", name)
    sub = (data.get("properties") or {}).get(op.graphql.field)
    if isinstance(sub, Mapping):
        _compare(sub, field.type, f"{where}/properties/{op.graphql.field}", violate)


def _compare(contract: Mapping[str, Any], gql_type: Any, at: str, violate: Violate) -> None:
    nullable = not isinstance(gql_type, GraphQLNonNull)
    inner = gql_type.of_type if isinstance(gql_type, GraphQLNonNull) else gql_type
    have: set[str] | None
    if isinstance(inner, GraphQLList):
        have = {"array"}
    elif isinstance(inner, GraphQLScalarType):
        have = set(_SCALARS[inner.name]) if inner.name in _SCALARS else None  # custom: unconstrained
    elif isinstance(inner, GraphQLEnumType):
        have = {"string"}
    else:
        have = {"object"}
    if have is not None and nullable:
        have.add("null")
    want = schema_types(contract)
    if want and have and not want & have:
        violate(at, f"type {' or '.join(sorted(want))}", f"type {' or '.join(sorted(have))} in the spec")
        return
    if isinstance(inner, GraphQLList):
        items = contract.get("items")
        if isinstance(items, Mapping):
            _compare(items, inner.of_type, f"{at}/items", violate)
        return
    props = contract.get("properties") or {}
    names = [*props, *(n for n in contract.get("required") or [] if n not in props)]
    if not names:
        return
    fields = inner.fields if isinstance(inner, GraphQLObjectType | GraphQLInterfaceType) else {}
    for name in names:
        where = f"{at}/properties/{pointer([name])[1:]}"
        if name not in fields:
            violate(where, f"field {name!r} declared in the spec", "not declared")
            continue
        sub = props.get(name)
        if isinstance(sub, Mapping):
            _compare(sub, fields[name].type, where, violate)
