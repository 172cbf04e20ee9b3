"""GitHub REST (`https://api.github.com`): the user, a repository's issues and issue comments.

What the real API does and this reproduces: Bearer (or `token`) auth answered with 401
`{"message": "Bad credentials"}`; `X-RateLimit-*` headers on every response and 403/429 with
`Retry-After` when limited; `Link` header pagination; 404 `{"message": "Not Found"}` for a
missing issue; comments created, edited and deleted on an issue (201, 200, 204).
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from monitor.sandbox.common import (
    Handler,
    add_oauth_token_route,
    auth_middleware,
    json_body,
    page,
    provider_app,
    rfc3339,
)
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState

NAME = "github"
BASE_PATH = ""
_API = "https://api.github.com"
_DOCS = "https://docs.github.com/rest"
_LOGIN = "atom-monitor-bot"
_SEED_ISSUES = 3


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        return web.json_response(
            {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes.",
                "documentation_url": _DOCS,
            },
            status=429,
            headers={"Retry-After": str(retry_after), "X-RateLimit-Remaining": "0"},
        )

    def server_error(self, status: int) -> web.Response:
        return web.json_response({"message": "Server Error"}, status=status)


def _error(message: str, status: int) -> web.Response:
    return web.json_response(
        {"message": message, "documentation_url": _DOCS, "status": str(status)}, status=status
    )


def _bad_credentials(_request: web.Request) -> web.Response:
    return _error("Bad credentials", 401)


def _simple_user(login: str = _LOGIN, uid: int = 583231) -> dict[str, Any]:
    url = f"{_API}/users/{login}"
    return {
        "login": login,
        "id": uid,
        "node_id": f"MDQ6VXNlcj{uid}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": url,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": "User",
        "site_admin": False,
    }


def _private_user() -> dict[str, Any]:
    created = rfc3339(1_600_000_000)
    return {
        **_simple_user(),
        "name": "Atom Monitor",
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "public_repos": 1,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": created,
        "updated_at": created,
        "private_gists": 0,
        "total_private_repos": 1,
        "owned_private_repos": 1,
        "disk_usage": 42,
        "collaborators": 0,
        "two_factor_authentication": True,
        "user_view_type": "private",
    }


def _issue(owner: str, repo: str, number: int) -> dict[str, Any]:
    base = f"{_API}/repos/{owner}/{repo}"
    stamp = rfc3339(1_700_000_000 + number * 3600)
    return {
        "id": 9_000_000 + number,
        "node_id": f"I_kwDOSandbox{number}",
        "url": f"{base}/issues/{number}",
        "repository_url": base,
        "labels_url": f"{base}/issues/{number}/labels{{/name}}",
        "comments_url": f"{base}/issues/{number}/comments",
        "events_url": f"{base}/issues/{number}/events",
        "html_url": f"https://github.com/{owner}/{repo}/issues/{number}",
        "number": number,
        "state": "open",
        "title": f"Sandbox issue {number}",
        "body": "Synthetic checks comment here and clean up after themselves.",
        "user": _simple_user(),
        "labels": [],
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "comments": 0,
        "closed_at": None,
        "created_at": stamp,
        "updated_at": stamp,
        "author_association": "OWNER",
    }


def create_app(state: ProviderState) -> web.Application:
    app = provider_app(state, _Hooks(), [_quota_headers(state), auth_middleware(state, _bad_credentials)])
    add_oauth_token_route(app, state)
    r = app.router
    r.add_get("/user", _get_user)
    r.add_get("/rate_limit", _bind(_rate_limit, state))
    r.add_get("/repos/{owner}/{repo}/issues", _list_issues)
    r.add_get("/repos/{owner}/{repo}/issues/{number}", _get_issue)
    r.add_post("/repos/{owner}/{repo}/issues/{number}/comments", _bind(_create_comment, state))
    for method, handler in (("GET", _get_comment), ("PATCH", _update_comment), ("DELETE", _delete_comment)):
        r.add_route(method, "/repos/{owner}/{repo}/issues/comments/{id}", _bind(handler, state))
    r.add_route("*", "/{tail:.*}", _not_found)
    return app


def _bind(handler: Any, state: ProviderState) -> Handler:
    async def bound(request: web.Request) -> web.StreamResponse:
        return await handler(request, state)  # type: ignore[no-any-return]

    return bound


def _quota_headers(state: ProviderState) -> Any:
    @web.middleware
    async def quota(request: web.Request, handler: Handler) -> web.StreamResponse:
        # GET /rate_limit does not count against the primary limit (GitHub docs).
        counted = not request.path.endswith("/rate_limit")
        limit, remaining, reset = state.count_request() if counted else _peek(state)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Used": str(limit - remaining),
            "X-RateLimit-Resource": "core",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
        }
        if counted and remaining == 0:
            response: web.StreamResponse = _error("API rate limit exceeded for user.", 403)
        else:
            response = await handler(request)
        response.headers.update(headers)
        return response

    return quota


def _peek(state: ProviderState) -> tuple[int, int, int]:
    now = int(time.time())
    return state.quota_limit, max(0, state.quota_limit - state.quota_used), now - now % 3600 + 3600


async def _get_user(_request: web.Request) -> web.Response:
    return web.json_response(_private_user())


async def _rate_limit(_request: web.Request, state: ProviderState) -> web.Response:
    limit, remaining, reset = _peek(state)
    core = {"limit": limit, "remaining": remaining, "reset": reset, "used": limit - remaining}
    search = {"limit": 30, "remaining": 30, "reset": reset, "used": 0}
    return web.json_response({"resources": {"core": core, "search": search}, "rate": core})


def _issue_number(request: web.Request) -> int | None:
    try:
        number = int(request.match_info["number"])
    except ValueError:
        return None
    return number if 1 <= number <= _SEED_ISSUES else None


async def _list_issues(request: web.Request) -> web.Response:
    owner, repo = request.match_info["owner"], request.match_info["repo"]
    issues = [_issue(owner, repo, n) for n in range(_SEED_ISSUES, 0, -1)]
    items, number, last = page(issues, request)
    response = web.json_response(items)
    if last > 1:
        base = f"{_API}/repos/{owner}/{repo}/issues?per_page={len(items) or 30}"
        links = [
            f'<{base}&page={n}>; rel="{rel}"'
            for n, rel in ((number + 1, "next"), (last, "last"))
            if n <= last
        ]
        if links:
            response.headers["Link"] = ", ".join(links)
    return response


async def _get_issue(request: web.Request) -> web.Response:
    number = _issue_number(request)
    if number is None:
        return _error("Not Found", 404)
    return web.json_response(_issue(request.match_info["owner"], request.match_info["repo"], number))


async def _create_comment(request: web.Request, state: ProviderState) -> web.Response:
    number = _issue_number(request)
    if number is None:
        return _error("Not Found", 404)
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"]:
        return web.json_response(
            {"message": 'Invalid request.\n\n"body" wasn\'t supplied.', "documentation_url": _DOCS},
            status=422,
        )
    owner, repo = request.match_info["owner"], request.match_info["repo"]
    cid = state.next_id()
    now = rfc3339(time.time())
    comment = {
        "id": cid,
        "node_id": f"IC_kwDOSandbox{cid}",
        "url": f"{_API}/repos/{owner}/{repo}/issues/comments/{cid}",
        "html_url": f"https://github.com/{owner}/{repo}/issues/{number}#issuecomment-{cid}",
        "issue_url": f"{_API}/repos/{owner}/{repo}/issues/{number}",
        "body": body["body"],
        "user": _simple_user(),
        "created_at": now,
        "updated_at": now,
        "author_association": "OWNER",
    }
    state.objects[str(cid)] = comment
    return web.json_response(comment, status=201, headers={"Location": comment["url"]})


def _comment(request: web.Request, state: ProviderState) -> dict[str, Any] | None:
    return state.objects.get(request.match_info["id"])


async def _get_comment(request: web.Request, state: ProviderState) -> web.Response:
    comment = _comment(request, state)
    return web.json_response(comment) if comment else _error("Not Found", 404)


async def _update_comment(request: web.Request, state: ProviderState) -> web.Response:
    comment = _comment(request, state)
    if comment is None:
        return _error("Not Found", 404)
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
        return web.json_response({"message": "Invalid request.", "documentation_url": _DOCS}, status=422)
    comment.update(body=body["body"], updated_at=rfc3339(time.time()))
    return web.json_response(comment)


async def _delete_comment(request: web.Request, state: ProviderState) -> web.Response:
    if state.objects.pop(request.match_info["id"], None) is None:
        return _error("Not Found", 404)
    return web.Response(status=204)


async def _not_found(_request: web.Request) -> web.Response:
    return _error("Not Found", 404)
