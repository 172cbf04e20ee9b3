"""Jira Cloud platform REST v3 (`https://<site>.atlassian.net`): myself, projects, issues, comments.

What the real API does and this reproduces: Basic auth with `email:api_token` answered with 401
and an `errorMessages` collection; 404 "Issue does not exist or you do not have permission to
see it."; `startAt`/`maxResults` pagination with `isLast`; comment bodies in Atlassian Document
Format; 429 with `Retry-After` and `X-RateLimit-*` headers when limited.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from monitor.sandbox.common import Handler, add_oauth_token_route, auth_middleware, json_body, provider_app
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState

NAME = "jira"
BASE_PATH = ""
_SITE = "https://atom-sandbox.atlassian.net"
_API = f"{_SITE}/rest/api/3"
_ACCOUNT = "5b10a2844c20165700ede21g"
_PROJECTS = (("10000", "SBX", "Integration Sandbox"), ("10001", "OPS", "Operations"))
_ISSUES = ("SBX-1", "SBX-2")


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        return web.json_response(
            {"errorMessages": ["Rate limit exceeded."], "errors": {}},
            status=429,
            headers={
                "Retry-After": str(retry_after),
                "X-RateLimit-Limit": "350",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(time.time() + retry_after)),
                "RateLimit-Reason": "jira-burst-based",
            },
        )

    def server_error(self, status: int) -> web.Response:
        return web.json_response({"errorMessages": ["Internal server error"], "errors": {}}, status=status)


def _errors(message: str, status: int) -> web.Response:
    return web.json_response({"errorMessages": [message], "errors": {}}, status=status)


def _unauthorized(_request: web.Request) -> web.Response:
    return _errors("You are not authenticated. Authentication required to perform this operation.", 401)


def _user() -> dict[str, Any]:
    avatar = "https://avatar-management.services.atlassian.com/default/48"
    return {
        "self": f"{_API}/user?accountId={_ACCOUNT}",
        "accountId": _ACCOUNT,
        "accountType": "atlassian",
        "emailAddress": "monitor@example.com",
        "avatarUrls": {"16x16": avatar, "24x24": avatar, "32x32": avatar, "48x48": avatar},
        "displayName": "Atom Monitor",
        "active": True,
        "timeZone": "Etc/UTC",
    }


def _adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def _stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(epoch))


def create_app(state: ProviderState) -> web.Application:
    app = provider_app(state, _Hooks(), [auth_middleware(state, _unauthorized)])
    add_oauth_token_route(app, state)

    def bind(handler: Any) -> Handler:
        async def bound(request: web.Request) -> web.StreamResponse:
            return await handler(request, state)  # type: ignore[no-any-return]

        return bound

    r = app.router
    r.add_get("/rest/api/3/myself", _myself)
    r.add_get("/rest/api/3/serverInfo", _server_info)
    r.add_get("/rest/api/3/project/search", _project_search)
    r.add_get("/rest/api/3/issue/{key}", _get_issue)
    r.add_post("/rest/api/3/issue/{key}/comment", bind(_create_comment))
    r.add_get("/rest/api/3/issue/{key}/comment/{id}", bind(_get_comment))
    r.add_put("/rest/api/3/issue/{key}/comment/{id}", bind(_update_comment))
    r.add_delete("/rest/api/3/issue/{key}/comment/{id}", bind(_delete_comment))
    r.add_route("*", "/{tail:.*}", _no_route)
    return app


async def _myself(_request: web.Request) -> web.Response:
    return web.json_response(_user())


async def _server_info(_request: web.Request) -> web.Response:
    return web.json_response(
        {
            "baseUrl": _SITE,
            "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0],
            "deploymentType": "Cloud",
            "buildNumber": 100285,
            "serverTitle": "Jira",
        }
    )


async def _project_search(request: web.Request) -> web.Response:
    try:
        start = max(0, int(request.query.get("startAt", 0)))
        size = max(1, min(100, int(request.query.get("maxResults", 50))))
    except ValueError:
        return _errors("startAt and maxResults must be integers.", 400)
    projects = [
        {
            "self": f"{_API}/project/{pid}",
            "id": pid,
            "key": key,
            "name": name,
            "projectTypeKey": "software",
            "simplified": False,
            "style": "classic",
            "isPrivate": False,
        }
        for pid, key, name in _PROJECTS
    ]
    chunk = projects[start : start + size]
    body: dict[str, Any] = {
        "self": f"{_API}/project/search?startAt={start}&maxResults={size}",
        "maxResults": size,
        "startAt": start,
        "total": len(projects),
        "isLast": start + size >= len(projects),
        "values": chunk,
    }
    if not body["isLast"]:
        body["nextPage"] = f"{_API}/project/search?startAt={start + size}&maxResults={size}"
    return web.json_response(body)


def _issue_missing() -> web.Response:
    return _errors("Issue does not exist or you do not have permission to see it.", 404)


async def _get_issue(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    if key not in _ISSUES:
        return _issue_missing()
    number = _ISSUES.index(key) + 1
    return web.json_response(
        {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": str(10_100 + number),
            "self": f"{_API}/issue/{10_100 + number}",
            "key": key,
            "fields": {
                "summary": f"Sandbox issue {number}",
                "status": {"name": "To Do", "id": "10000"},
                "issuetype": {"name": "Task", "id": "10002"},
                "project": {"key": "SBX", "id": "10000"},
                "reporter": _user(),
                "created": _stamp(1_700_000_000),
                "updated": _stamp(1_700_000_000),
            },
        }
    )


def _comment_text(body: Any) -> str | None:
    """The plain text of an ADF document (v3 takes ADF, not a string: a string is a 400)."""
    if not isinstance(body, dict) or body.get("type") != "doc" or not isinstance(body.get("content"), list):
        return None
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text" and isinstance(node.get("text"), str):
                parts.append(node["text"])
            for child in node.get("content") or []:
                walk(child)

    walk(body)
    return "".join(parts)


async def _create_comment(request: web.Request, state: ProviderState) -> web.Response:
    key = request.match_info["key"]
    if key not in _ISSUES:
        return _issue_missing()
    payload = await json_body(request)
    text = _comment_text(payload.get("body") if isinstance(payload, dict) else None)
    if text is None:
        return web.json_response(
            {"errorMessages": [], "errors": {"comment": "Comment body is not valid ADF."}}, status=400
        )
    cid = str(state.next_id())
    now = _stamp(time.time())
    comment = {
        "self": f"{_API}/issue/{key}/comment/{cid}",
        "id": cid,
        "author": _user(),
        "body": _adf(text),
        "updateAuthor": _user(),
        "created": now,
        "updated": now,
        "jsdPublic": True,
    }
    state.objects[f"{key}/{cid}"] = comment
    return web.json_response(comment, status=201)


def _comment(request: web.Request, state: ProviderState) -> dict[str, Any] | None:
    return state.objects.get(f"{request.match_info['key']}/{request.match_info['id']}")


async def _get_comment(request: web.Request, state: ProviderState) -> web.Response:
    comment = _comment(request, state)
    if comment is None:
        return _errors("Can not find a comment for the id.", 404)
    return web.json_response(comment)


async def _update_comment(request: web.Request, state: ProviderState) -> web.Response:
    comment = _comment(request, state)
    if comment is None:
        return _errors("Can not find a comment for the id.", 404)
    payload = await json_body(request)
    text = _comment_text(payload.get("body") if isinstance(payload, dict) else None)
    if text is None:
        return web.json_response(
            {"errorMessages": [], "errors": {"comment": "Comment body is not valid ADF."}}, status=400
        )
    comment.update(body=_adf(text), updated=_stamp(time.time()))
    return web.json_response(comment)


async def _delete_comment(request: web.Request, state: ProviderState) -> web.Response:
    if state.objects.pop(f"{request.match_info['key']}/{request.match_info['id']}", None) is None:
        return _errors("Can not find a comment for the id.", 404)
    return web.Response(status=204)


async def _no_route(_request: web.Request) -> web.Response:
    return _errors("null for uri: no such resource", 404)
