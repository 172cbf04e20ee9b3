"""Linear GraphQL API (`https://api.linear.app/graphql`): viewer, teams, issues and the issue trio.

What the real API does and this reproduces: one endpoint, POST /graphql; personal API keys sent
as `Authorization: <key>` with no scheme (OAuth tokens as `Bearer`); a bad key is HTTP 400 with
`errors[0].extensions.code` AUTHENTICATION_ERROR; other failures are HTTP 200 with an `errors`
array and `data: null` ("Entity not found: Issue", INPUT_ERROR); a malformed or unknown query is
HTTP 400 (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED); Relay connections with `nodes`,
`edges` and `pageInfo {hasNextPage endCursor}`; X-RateLimit-Requests-* and -Complexity-*
headers on every answer (resets in epoch milliseconds) and RATELIMITED with Retry-After when
limited. Only the fields a query selects come back, so a response has the query's shape.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from typing import Any

import graphql
from aiohttp import web
from graphql import language as ast

from monitor.sandbox.common import Handler, add_oauth_token_route, auth_middleware, json_body, provider_app
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState

NAME = "linear"
BASE_PATH = ""
_COMPLEXITY_LIMIT = 3_000_000  # complexity points per hour for an API key (Linear docs)


class _Failure(Exception):
    """A Linear error: `message`, `extensions.code`, and the HTTP status it travels with."""

    def __init__(self, message: str, code: str, kind: str, user_message: str, http_status: int = 200) -> None:
        super().__init__(message)
        self.body = {
            "message": message,
            "extensions": {
                "type": kind,
                "code": code,
                "statusCode": 400 if code != "AUTHENTICATION_ERROR" else 401,
                "userError": True,
                "userPresentableMessage": user_message,
            },
        }
        self.http_status = http_status

    def response(self, path: list[str] | None = None) -> web.Response:
        """A request error (auth, syntax, validation) has no `data`; a failed field nulls it."""
        if path is None:
            return web.json_response({"errors": [self.body]}, status=self.http_status)
        error = {**self.body, "path": path}
        return web.json_response({"errors": [error], "data": None}, status=self.http_status)


def _invalid(message: str) -> _Failure:
    return _Failure(message, "GRAPHQL_VALIDATION_FAILED", "graphql error", message, 400)


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        reset_ms = int((time.time() + retry_after) * 1000)
        body = _Failure(
            "Rate limit exceeded",
            "RATELIMITED",
            "ratelimited",
            "Too many API requests. Try again later.",
            429,
        ).response()
        body.headers.update(
            {
                "Retry-After": str(retry_after),
                "X-RateLimit-Requests-Remaining": "0",
                "X-RateLimit-Requests-Reset": str(reset_ms),
            }
        )
        return body

    def server_error(self, status: int) -> web.Response:
        error = {"message": "Internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
        return web.json_response({"errors": [error]}, status=status)


def _unauthenticated(_request: web.Request) -> web.Response:
    # Linear answers a missing or wrong key with HTTP 400, not 401; the code says why.
    return _Failure(
        "Authentication required, not authenticated",
        "AUTHENTICATION_ERROR",
        "authentication error",
        "You need to authenticate to access this operation.",
        400,
    ).response()


def create_app(state: ProviderState) -> web.Application:
    app = provider_app(state, _Hooks(), [_quota_headers(state), auth_middleware(state, _unauthenticated)])
    add_oauth_token_route(app, state, "/oauth/token")
    world = World(state)

    async def endpoint(request: web.Request) -> web.StreamResponse:
        return await _graphql(request, world)

    app.router.add_post("/graphql", endpoint)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


def _quota_headers(state: ProviderState) -> Any:
    spent = [0]

    @web.middleware
    async def quota(request: web.Request, handler: Handler) -> web.StreamResponse:
        limit, remaining, reset = state.count_request()
        response = await handler(request)
        spent[0] += int(response.headers.get("X-Complexity", "0"))
        reset_ms = str(reset * 1000)  # Linear's reset headers are UTC epoch milliseconds
        response.headers.update(
            {
                "X-RateLimit-Requests-Limit": str(limit),
                "X-RateLimit-Requests-Remaining": str(remaining),
                "X-RateLimit-Requests-Reset": reset_ms,
                "X-RateLimit-Complexity-Limit": str(_COMPLEXITY_LIMIT),
                "X-RateLimit-Complexity-Remaining": str(max(0, _COMPLEXITY_LIMIT - spent[0])),
                "X-RateLimit-Complexity-Reset": reset_ms,
            }
        )
        return response

    return quota


async def _graphql(request: web.Request, world: World) -> web.Response:
    payload = await json_body(request)
    query = payload.get("query") if isinstance(payload, dict) else None
    if not isinstance(query, str) or not query.strip():
        message = "GraphQL operations must contain a non-empty `query`."
        return _Failure(message, "BAD_REQUEST", "graphql error", message, 400).response()
    assert isinstance(payload, dict)
    variables = payload.get("variables") or {}
    try:
        document = graphql.parse(query)
        operation = _operation(document, payload.get("operationName"))
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, ast.FragmentDefinitionNode)
        }
        data, complexity = _execute(world, operation, fragments, _with_defaults(operation, variables))
    except graphql.GraphQLSyntaxError as exc:
        message = f"Syntax Error: {exc.message}"
        return _Failure(message, "GRAPHQL_PARSE_FAILED", "graphql error", message, 400).response()
    except _FieldFailure as exc:
        return exc.failure.response([exc.field])
    except _Failure as exc:
        return exc.response()
    return web.json_response({"data": data}, headers={"X-Complexity": str(complexity)})


class _FieldFailure(Exception):
    """A root field's resolver failed: GraphQL reports it with the field's path."""

    def __init__(self, field: str, failure: _Failure) -> None:
        super().__init__(field)
        self.field, self.failure = field, failure


def _operation(document: ast.DocumentNode, name: Any) -> ast.OperationDefinitionNode:
    ops = [d for d in document.definitions if isinstance(d, ast.OperationDefinitionNode)]
    if name:
        ops = [o for o in ops if o.name is not None and o.name.value == name]
        if not ops:
            raise _invalid(f'Unknown operation named "{name}".')
    if len(ops) != 1:
        raise _invalid("Must provide operation name if query contains multiple operations.")
    return ops[0]


def _with_defaults(operation: ast.OperationDefinitionNode, given: Any) -> dict[str, Any]:
    values = dict(given) if isinstance(given, dict) else {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in values and definition.default_value is not None:
            values[name] = graphql.value_from_ast_untyped(definition.default_value)
    return values


def _execute(
    world: World,
    operation: ast.OperationDefinitionNode,
    fragments: dict[str, ast.FragmentDefinitionNode],
    variables: dict[str, Any],
) -> tuple[dict[str, Any], int]:
    """Resolve each root field, then keep only what the query selects (aliases honoured)."""
    kind = "Mutation" if operation.operation is ast.OperationType.MUTATION else "Query"
    resolvers = world.mutations if kind == "Mutation" else world.queries
    data: dict[str, Any] = {}
    counter = [0]
    for node in _fields(operation.selection_set, fragments, kind):
        name = node.name.value
        if name == "__typename":
            data[_key(node)] = kind
            continue
        resolver = resolvers.get(name)
        if resolver is None:
            raise _invalid(f'Cannot query field "{name}" on type "{kind}".')
        args = {
            a.name.value: graphql.value_from_ast_untyped(a.value, variables) for a in node.arguments or ()
        }
        args = {k: v for k, v in args.items() if v is not graphql.Undefined}
        try:
            value = resolver(args)
        except _Failure as exc:
            raise _FieldFailure(_key(node), exc) from None
        data[_key(node)] = _select(value, node.selection_set, fragments, counter)
    return data, max(1, counter[0])


def _key(node: ast.FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def _fields(
    selection_set: ast.SelectionSetNode, fragments: dict[str, ast.FragmentDefinitionNode], typename: str
) -> list[ast.FieldNode]:
    """The field nodes of a selection set, with fragment spreads and inline fragments flattened."""
    out: list[ast.FieldNode] = []
    for sel in selection_set.selections:
        if isinstance(sel, ast.FieldNode):
            out.append(sel)
            continue
        frag: ast.FragmentDefinitionNode | ast.InlineFragmentNode | None = (
            fragments.get(sel.name.value) if isinstance(sel, ast.FragmentSpreadNode) else sel  # type: ignore[assignment]
        )
        condition = frag.type_condition if frag is not None else None
        if frag is not None and (condition is None or condition.name.value == typename):
            out += _fields(frag.selection_set, fragments, typename)
    return out


def _select(
    value: Any,
    selection_set: ast.SelectionSetNode | None,
    fragments: dict[str, ast.FragmentDefinitionNode],
    counter: list[int],
) -> Any:
    if selection_set is None or value is None:
        return value
    if isinstance(value, list):
        return [_select(v, selection_set, fragments, counter) for v in value]
    typename = str(value["__typename"])
    counter[0] += 1
    out: dict[str, Any] = {}
    for node in _fields(selection_set, fragments, typename):
        name = node.name.value
        if name not in value:
            raise _invalid(f'Cannot query field "{name}" on type "{typename}".')
        out[_key(node)] = _select(value[name], node.selection_set, fragments, counter)
    return out


_ORG_KEY = "atom-sandbox"
_EPOCH = 1_700_000_000
Resolver = Callable[[dict[str, Any]], Any]


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


def _fixed_id(n: int) -> str:
    return f"5a7c1e2d-0000-4000-8000-{n:012d}"


def _node(typename: str, **fields: Any) -> dict[str, Any]:
    """An entity as a dict; `__typename` lets a query select it and fragments match it."""
    return {"__typename": typename, **fields}


def _input(args: dict[str, Any]) -> dict[str, Any]:
    value = args.get("input")
    return value if isinstance(value, dict) else {}


def _entity_not_found(kind: str) -> _Failure:
    return _Failure(
        f"Entity not found: {kind}", "INPUT_ERROR", "invalid input", f"Could not find referenced {kind}."
    )


def _connection(typename: str, items: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
    """A Relay connection: `first` (default 50) items after the `after` cursor (an entity id)."""
    first, after = args.get("first", 50), args.get("after")
    if not isinstance(first, int) or first < 0:
        raise _Failure("Argument Validation Error", "INPUT_ERROR", "invalid input", "first must be >= 0.")
    ids = [i["id"] for i in items]
    if after is not None and after not in ids:
        raise _Failure("Invalid cursor", "INPUT_ERROR", "invalid input", "The cursor is not valid.")
    start = ids.index(after) + 1 if after is not None else 0
    chunk = items[start : start + first]
    return {
        "__typename": f"{typename}Connection",
        "nodes": chunk,
        "edges": [{"__typename": f"{typename}Edge", "node": n, "cursor": n["id"]} for n in chunk],
        "pageInfo": {
            "__typename": "PageInfo",
            "hasNextPage": start + first < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": chunk[0]["id"] if chunk else None,
            "endCursor": chunk[-1]["id"] if chunk else None,
        },
    }


class World:
    """What one key sees: its organization, the viewer, team SBX and the team's issues.

    Entities are dicts carrying `__typename`; created issues live in `state.objects`.
    """

    def __init__(self, state: ProviderState) -> None:
        self.state = state
        dates = {"createdAt": _iso(_EPOCH), "updatedAt": _iso(_EPOCH)}
        self.org = _node("Organization", id=_fixed_id(1), name="Atom Sandbox", urlKey=_ORG_KEY, **dates)
        self.viewer = _node(
            "User",
            id=_fixed_id(2),
            name="Atom Monitor",
            displayName="atom-monitor",
            email="monitor@example.com",
            active=True,
            admin=False,
            guest=False,
            isMe=True,
            avatarUrl=None,
            url=f"https://linear.app/{_ORG_KEY}/profiles/atom-monitor",
            organization=self.org,
            **dates,
        )
        self.team = _node(
            "Team", id=_fixed_id(3), key="SBX", name="Integration Sandbox", private=False, **dates
        )
        self.todo = _node("WorkflowState", id=_fixed_id(4), name="Todo", type="unstarted", color="#e2e2e2")
        self.numbers = itertools.count(1)
        seeds = [
            self._new(_fixed_id(100 + n), f"Sandbox issue {n}", "", _EPOCH + n * 3600) for n in (1, 2, 3)
        ]
        self.seeds = {i["id"]: i for i in seeds}
        self.queries: dict[str, Resolver] = {
            "viewer": lambda _a: self.viewer,
            "organization": lambda _a: self.org,
            "teams": lambda a: _connection("Team", [self.team], a),
            "team": self._team,
            # `filter` and `orderBy` are accepted and not applied: the sandbox team is small.
            "issues": lambda a: _connection("Issue", self._issues(), a),
            "issue": lambda a: self._find(a.get("id")),
        }
        self.mutations: dict[str, Resolver] = {
            "issueCreate": self._create,
            "issueUpdate": self._update,
            "issueDelete": self._delete,
        }

    def _new(self, iid: str, title: str, description: str, epoch: float) -> dict[str, Any]:
        n = next(self.numbers)
        stamp = _iso(epoch)
        return {
            "__typename": "Issue",
            "id": iid,
            "identifier": f"SBX-{n}",
            "number": n,
            "title": title,
            "description": description,
            "priority": 0,
            "priorityLabel": "No priority",
            "url": f"https://linear.app/{_ORG_KEY}/issue/SBX-{n}",
            "branchName": f"atom-monitor/sbx-{n}",
            "createdAt": stamp,
            "updatedAt": stamp,
            "archivedAt": None,
            "trashed": None,
            "team": self.team,
            "state": self.todo,
            "creator": self.viewer,
            "assignee": None,
            "labelIds": [],
        }

    def _issues(self) -> list[dict[str, Any]]:
        """Newest first, as Linear orders by createdAt by default."""
        issues = [*self.seeds.values(), *self.state.objects.values()]
        return sorted(issues, key=lambda i: str(i["createdAt"]), reverse=True)

    def _find(self, key: Any) -> dict[str, Any]:
        """`issue(id:)` takes the UUID or the human identifier (SBX-1)."""
        for issue in self._issues():
            if key in (issue["id"], issue["identifier"]):
                return issue
        raise _entity_not_found("Issue")

    def _team(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("id") in (self.team["id"], self.team["key"]):
            return self.team
        raise _entity_not_found("Team")

    def _payload(self, typename: str, key: str, issue: dict[str, Any]) -> dict[str, Any]:
        return _node(typename, success=True, lastSyncId=float(self.state.next_id()), **{key: issue})

    def _create(self, args: dict[str, Any]) -> dict[str, Any]:
        data = _input(args)
        if "teamId" not in data:
            raise _invalid('Field "IssueCreateInput.teamId" of required type "String!" was not provided.')
        if data["teamId"] != self.team["id"]:
            raise _entity_not_found("Team")
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            raise _Failure("Argument Validation Error", "INPUT_ERROR", "invalid input", "Title is required.")
        issue = self._new(
            str(data.get("id") or uuid.uuid4()), title, str(data.get("description") or ""), time.time()
        )
        self.state.objects[issue["id"]] = issue
        return self._payload("IssuePayload", "issue", issue)

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        issue = self._find(args.get("id"))
        data = _input(args)
        for key in ("title", "description", "priority"):
            if key in data and data[key] is not None:
                issue[key] = data[key]
        issue["updatedAt"] = _iso(time.time())
        return self._payload("IssuePayload", "issue", issue)

    def _delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """issueDelete moves the issue to the trash; it no longer resolves as a live issue."""
        issue = self._find(args.get("id"))
        self.state.objects.pop(issue["id"], None)
        self.seeds.pop(issue["id"], None)
        issue.update(trashed=True, archivedAt=_iso(time.time()))
        return self._payload("IssueArchivePayload", "entity", issue)


async def _not_found(request: web.Request) -> web.Response:
    message = f"Cannot {request.method} /{request.match_info.get('tail', '')}"
    return web.json_response(
        {"errors": [{"message": message, "extensions": {"code": "NOT_FOUND"}}]}, status=404
    )
