"""Asana REST API (`https://app.asana.com/api/1.0`): the user, workspaces, projects and tasks.

What the real API does and this reproduces: Bearer PAT answered with 401 "Not Authorized";
every body wrapped in `{"data": ...}` and every failure `{"errors": [{"message", "help"}]}`;
"<resource>: Unknown object: <gid>" (404) and "<field>: Not a recognized ID: <value>" (400);
`limit`/`offset` pagination with `next_page: {offset, path, uri}`, null on the last page; GET
/tasks refused without a project (or assignee + workspace); a created task is 201 with its URL
in `Location`; 429 with `Retry-After` when limited; 404 "No matching route for request".
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from monitor.sandbox.common import Handler, auth_middleware, json_body, provider_app
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState

NAME = "asana"
BASE_PATH = "/api/1.0"
_API = "https://app.asana.com/api/1.0"
_HELP = (
    "For more information on API status codes and how to handle them, "
    "read the docs on errors: https://developers.asana.com/docs/errors"
)
_ME = "1200000000000001"
_WORKSPACES = {"1200000000000100": "Atom Sandbox", "1200000000000101": "Personal Projects"}
_SANDBOX_WS = "1200000000000100"
_TEAM = {"gid": "1200000000000150", "resource_type": "team", "name": "Integrations"}
_PROJECTS = {"1200000000000200": "Integration Sandbox", "1200000000000201": "Operations"}
_SECTION = {"gid": "1200000000000250", "resource_type": "section", "name": "Untitled section"}
_SEED_TASKS = ("Check the sandbox", "Rotate the PAT", "Read the weekly report")


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        # Asana's rate-limit docs: 429 with Retry-After (seconds) and this sentence.
        message = (
            "You've made too many requests and hit a rate limit. Please retry after the given amount of time."
        )
        return web.json_response(
            {"errors": [{"message": message, "help": _HELP}]},
            status=429,
            headers={"Retry-After": str(retry_after)},
        )

    def server_error(self, status: int) -> web.Response:
        # 500s carry a `phrase` that Asana support can look up in its logs.
        error = {"message": "Server Error", "phrase": "6 sad squid snuggle softly", "help": _HELP}
        return web.json_response({"errors": [error]}, status=status)


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"errors": [{"message": message, "help": _HELP}]}, status=status)


def _unauthorized(_request: web.Request) -> web.Response:
    return _error("Not Authorized", 401)


def _stamp(epoch: float) -> str:
    """Asana's date-time form: `YYYY-MM-DDTHH:mm:ss.fffZ`, UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


def _compact(gid: str, resource_type: str, name: str) -> dict[str, Any]:
    return {"gid": gid, "resource_type": resource_type, "name": name}


def _me() -> dict[str, Any]:
    return _compact(_ME, "user", "Atom Monitor")


def _user() -> dict[str, Any]:
    return {
        **_me(),
        "email": "monitor@example.com",
        "photo": None,
        "workspaces": [_compact(gid, "workspace", name) for gid, name in _WORKSPACES.items()],
    }


def _project(gid: str) -> dict[str, Any]:
    created = _stamp(1_600_000_000)
    return {
        **_compact(gid, "project", _PROJECTS[gid]),
        "archived": False,
        "color": "light-green",
        "created_at": created,
        "modified_at": created,
        "default_view": "list",
        "due_on": None,
        "start_on": None,
        "notes": "Synthetic checks create tasks here and delete them again.",
        "public": True,
        "privacy_setting": "public_to_workspace",
        "completed": False,
        "completed_at": None,
        "members": [_me()],
        "followers": [_me()],
        "owner": _me(),
        "team": _TEAM,
        "custom_fields": [],
        "permalink_url": f"https://app.asana.com/0/{gid}/{gid}",
        "workspace": _compact(_SANDBOX_WS, "workspace", _WORKSPACES[_SANDBOX_WS]),
    }


def _task(gid: str, name: str, notes: str, project: str, epoch: float) -> dict[str, Any]:
    """A full task. Fields the spec cannot describe as null (allOf + nullable: parent,
    completed_by, custom_type, external) are left out rather than sent as null."""
    stamp = _stamp(epoch)
    return {
        **_compact(gid, "task", name),
        "resource_subtype": "default_task",
        "created_by": {"gid": _ME, "resource_type": "user"},
        "assignee": _me(),
        "assignee_section": _SECTION,
        "completed": False,
        "completed_at": None,
        "created_at": stamp,
        "modified_at": stamp,
        "due_at": None,
        "due_on": None,
        "start_at": None,
        "start_on": None,
        "notes": notes,
        "html_notes": f"<body>{notes}</body>",
        "liked": False,
        "likes": [],
        "num_likes": 0,
        "memberships": [{"project": _compact(project, "project", _PROJECTS[project]), "section": _SECTION}],
        "custom_fields": [],
        "followers": [_me()],
        "projects": [_compact(project, "project", _PROJECTS[project])],
        "tags": [],
        "workspace": _compact(_SANDBOX_WS, "workspace", _WORKSPACES[_SANDBOX_WS]),
        "permalink_url": f"https://app.asana.com/0/{project}/{gid}",
    }


def create_app(state: ProviderState) -> web.Application:
    app = provider_app(state, _Hooks(), [auth_middleware(state, _unauthorized)])
    project = next(iter(_PROJECTS))
    seeds = {
        str(1_200_000_000_000_300 + i): _task(str(1_200_000_000_000_300 + i), name, "", project, 1.6e9 + i)
        for i, name in enumerate(_SEED_TASKS)
    }

    def bind(handler: Any) -> Handler:
        async def bound(request: web.Request) -> web.StreamResponse:
            return await handler(request, state, seeds)  # type: ignore[no-any-return]

        return bound

    r = app.router
    r.add_get("/users/{gid}", _get_user)
    r.add_get("/workspaces", _list_workspaces)
    r.add_get("/projects", _list_projects)
    r.add_get("/projects/{gid}", _get_project)
    r.add_get("/tasks", bind(_list_tasks))
    r.add_post("/tasks", bind(_create_task))
    r.add_get("/tasks/{gid}", bind(_get_task))
    r.add_put("/tasks/{gid}", bind(_update_task))
    r.add_delete("/tasks/{gid}", bind(_delete_task))
    r.add_route("*", "/{tail:.*}", _no_route)
    return app


def _bad_gid(field: str, value: str) -> web.Response | None:
    """A gid is digits: anything else is a 400 naming the field, before any lookup."""
    return None if value.isdigit() else _error(f"{field}: Not a recognized ID: {value}", 400)


def _fields(item: dict[str, Any], request: web.Request, compact: tuple[str, ...]) -> dict[str, Any]:
    """Lists answer compact records; `opt_fields` answers exactly the fields it names, and `gid`."""
    names = [f for f in request.query.get("opt_fields", "").split(",") if f] or list(compact)
    return {k: item[k] for k in ["gid", *names] if k in item}


def _paged(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    """`limit` (1..100) pages the list; `next_page` holds an opaque offset, null on the last page."""
    raw_limit, raw_offset = request.query.get("limit"), request.query.get("offset")
    if raw_limit is None and raw_offset is None:
        return web.json_response({"data": items, "next_page": None})
    if raw_limit is not None and not (raw_limit.isdigit() and 1 <= int(raw_limit) <= 100):
        return _error("limit: Must be between 1 and 100", 400)
    limit = int(raw_limit or 100)
    start = _decode_offset(raw_offset) if raw_offset else 0
    if start is None:
        return _error("offset: Your pagination token is invalid.", 400)
    chunk = items[start : start + limit]
    next_page = None
    if start + limit < len(items):
        token = base64.urlsafe_b64encode(json.dumps({"o": start + limit}).encode()).decode()
        query = {k: v for k, v in request.query.items() if k != "offset"}
        path = f"{request.path.split(BASE_PATH, 1)[-1]}?{urlencode({**query, 'offset': token})}"
        next_page = {"offset": token, "path": path, "uri": _API + path}
    return web.json_response({"data": chunk, "next_page": next_page})


def _decode_offset(token: str) -> int | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        return None
    offset = value.get("o") if isinstance(value, dict) else None
    return offset if isinstance(offset, int) and offset >= 0 else None


async def _get_user(request: web.Request) -> web.Response:
    gid = request.match_info["gid"]
    if gid in ("me", _ME):  # the spec documents "me" as a valid user_gid
        return web.json_response({"data": _user()})
    return _bad_gid("user", gid) or _error(f"user: Unknown object: {gid}", 404)


async def _list_workspaces(request: web.Request) -> web.Response:
    items = [_compact(gid, "workspace", name) for gid, name in _WORKSPACES.items()]
    return _paged(request, [_fields(w, request, ("resource_type", "name")) for w in items])


async def _list_projects(request: web.Request) -> web.Response:
    workspace = request.query.get("workspace")
    if workspace is None:
        return _error("workspace: Missing input", 400)
    if (bad := _bad_gid("workspace", workspace)) is not None:
        return bad
    if workspace not in _WORKSPACES:
        return _error(f"workspace: Unknown object: {workspace}", 404)
    gids = list(_PROJECTS) if workspace == _SANDBOX_WS else []
    return _paged(request, [_fields(_project(g), request, ("resource_type", "name")) for g in gids])


async def _get_project(request: web.Request) -> web.Response:
    gid = request.match_info["gid"]
    if gid in _PROJECTS:
        return web.json_response({"data": _project(gid)})
    return _bad_gid("project", gid) or _error(f"project: Unknown object: {gid}", 404)


async def _list_tasks(request: web.Request, state: ProviderState, seeds: dict[str, Any]) -> web.Response:
    project = request.query.get("project")
    mine = request.query.get("assignee") in ("me", _ME) and request.query.get("workspace") == _SANDBOX_WS
    if project is None and not mine:
        return _error(
            "Must specify exactly one of project, tag, section, user task list, or assignee + workspace", 400
        )
    if project is not None:
        if (bad := _bad_gid("project", project)) is not None:
            return bad
        if project not in _PROJECTS:
            return _error(f"project: Unknown object: {project}", 404)
    tasks = [
        t
        for t in [*seeds.values(), *state.objects.values()]
        if project is None or any(p["gid"] == project for p in t["projects"])
    ]
    compact = ("resource_type", "name", "resource_subtype", "created_by")
    return _paged(request, [_fields(t, request, compact) for t in tasks])


async def _data(request: web.Request) -> dict[str, Any] | web.Response:
    """The `data` object of a write: Asana refuses bodies that are not JSON or not wrapped."""
    body = await json_body(request)
    if not isinstance(body, dict):
        return _error("Could not parse request data, invalid JSON", 400)
    stray = [k for k in body if k not in ("data", "options")]
    if stray:
        return _error(
            f"Unrecognized request field {stray[0]}. "
            "The only allowed keys at the top level are: data, options.",
            400,
        )
    data = body.get("data")
    return data if isinstance(data, dict) else _error("data: Missing input", 400)


async def _create_task(request: web.Request, state: ProviderState, _seeds: dict[str, Any]) -> web.Response:
    data = await _data(request)
    if isinstance(data, web.Response):
        return data
    projects = data.get("projects") or []
    if not projects and not data.get("workspace") and not data.get("parent"):
        return _error("You should specify one of workspace, parent, projects", 400)
    if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
        return _error("projects: Value is not an array of gids", 400)
    for i, gid in enumerate(projects):
        if not gid.isdigit():
            return _error(f"projects: [{i}]: Not a recognized ID: {gid}", 400)
        if gid not in _PROJECTS:
            return _error(f"projects: [{i}]: Unknown object: {gid}", 404)
    gid = str(1_200_000_000_010_000 + state.next_id())
    name, notes = str(data.get("name", "")), str(data.get("notes", ""))
    task = _task(gid, name, notes, projects[0] if projects else next(iter(_PROJECTS)), time.time())
    state.objects[gid] = task
    return web.json_response({"data": task}, status=201, headers={"Location": f"{_API}/tasks/{gid}"})


def _find(request: web.Request, state: ProviderState, seeds: dict[str, Any]) -> dict[str, Any] | web.Response:
    gid = request.match_info["gid"]
    task = state.objects.get(gid) or seeds.get(gid)
    if task is not None:
        return task
    return _bad_gid("task", gid) or _error(f"task: Unknown object: {gid}", 404)


async def _get_task(request: web.Request, state: ProviderState, seeds: dict[str, Any]) -> web.Response:
    task = _find(request, state, seeds)
    return task if isinstance(task, web.Response) else web.json_response({"data": task})


async def _update_task(request: web.Request, state: ProviderState, seeds: dict[str, Any]) -> web.Response:
    task = _find(request, state, seeds)
    if isinstance(task, web.Response):
        return task
    data = await _data(request)
    if isinstance(data, web.Response):
        return data
    for locked in ("projects", "tags", "workspace", "memberships", "parent"):
        if locked in data:  # these move through their own endpoints (addProject, setParent, ...)
            return _error(f"{locked}: Cannot write this property", 400)
    # Only the fields given change; any unspecified field stays as it was (updateTask).
    for key in ("name", "notes"):
        if isinstance(data.get(key), str):
            task[key] = data[key]
    if isinstance(data.get("completed"), bool):
        task["completed"] = data["completed"]
        task["completed_at"] = _stamp(time.time()) if data["completed"] else None
    task["html_notes"] = f"<body>{task['notes']}</body>"
    task["modified_at"] = _stamp(time.time())
    return web.json_response({"data": task})


async def _delete_task(request: web.Request, state: ProviderState, seeds: dict[str, Any]) -> web.Response:
    task = _find(request, state, seeds)
    if isinstance(task, web.Response):
        return task
    state.objects.pop(task["gid"], None)
    seeds.pop(task["gid"], None)
    return web.json_response({"data": {}})


async def _no_route(_request: web.Request) -> web.Response:
    return _error("No matching route for request", 404)
