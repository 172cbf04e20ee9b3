"""Dropbox API v2 (`https://api.dropboxapi.com/2`): the account, folder listing and folder CRUD.

What the real API does and this reproduces: RPC style, every call a POST to `/2/<namespace>/<route>`
with JSON arguments (a route without arguments takes a `null` body or none at all); a wrong or
missing Content-Type, undecodable JSON or a missing Authorization header is 400 with a plain-text
`Error in call to API function "...": ...`; a bad token is 401 `invalid_access_token` (an expired
one `expired_access_token`); route errors are HTTP 409 with `error_summary` and a tagged union
(`path/not_found/`), which is Dropbox's documented not-found; listing pages with `cursor` and
`has_more`; 429 with `Retry-After` and a `too_many_requests` reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import web

from monitor.sandbox.common import add_oauth_token_route, auth_middleware, provider_app, rfc3339
from monitor.sandbox.faults import ProviderHooks
from monitor.sandbox.state import ProviderState

NAME = "dropbox"
BASE_PATH = ""
SANDBOX_FOLDER = "/atom-monitor-sandbox"
_ACCOUNT_ID = "dbid:AAD5sandboxAtomMonitorAccount0000000"
_NAMESPACE = "3235641"
_JSON_TYPES = ("application/json", "application/json; charset=utf-8", "text/plain; charset=dropbox-cors-hack")
_PATH_PATTERN = "(/(.|[\\r\\n])*)|(ns:[0-9]+(/.*)?)|(id:.*)"
_EXPECTING = "Expecting one of " + ", ".join(f'"{t}"' for t in _JSON_TYPES) + "."
# (path, size): a size makes a file, None a folder.
_SEED: tuple[tuple[str, int | None], ...] = (
    (SANDBOX_FOLDER, None),
    (f"{SANDBOX_FOLDER}/Archive", None),
    (f"{SANDBOX_FOLDER}/readme.txt", 1024),
    (f"{SANDBOX_FOLDER}/report.csv", 2048),
    ("/Photos", None),
)

Meta = dict[str, Any]
Rpc = Callable[["_Drive", dict[str, Any]], Any]


class _Hooks(ProviderHooks):
    def rate_limited(self, retry_after: int) -> web.Response:
        error = {"reason": {".tag": "too_many_requests"}, "retry_after": retry_after}
        return web.json_response(
            {"error_summary": "too_many_requests/..", "error": error},
            status=429,
            headers={"Retry-After": str(retry_after)},
        )

    def server_error(self, status: int) -> web.Response:
        return web.Response(status=status, text="Internal Server Error", content_type="text/plain")


def _function(request: web.Request) -> str:
    return request.path.partition("/2/")[2]


def _bad_input(function: str, message: str) -> web.Response:
    # Malformed calls are 400 with a plain-text sentence, not the JSON route-error shape.
    return web.Response(
        status=400, text=f'Error in call to API function "{function}": {message}', content_type="text/plain"
    )


def _union(tags: list[str]) -> dict[str, Any]:
    """`["path", "not_found"]` -> `{".tag": "path", "path": {".tag": "not_found"}}`."""
    head, *rest = tags
    return {".tag": head, head: _union(rest)} if rest else {".tag": head}


def _route_error(*tags: str) -> web.Response:
    # Route-specific errors are HTTP 409 (a missing path included: there is no 404 here).
    return web.json_response(
        {"error_summary": "/".join(tags) + "/..", "error": _union(list(tags))}, status=409
    )


def _reject(state: ProviderState) -> Callable[[web.Request], web.Response]:
    def reject(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if not auth:
            return _bad_input(
                _function(request),
                'Must provide HTTP header "Authorization" or URL parameter "authorization".',
            )
        if not auth.lower().startswith("bearer "):
            return _bad_input(
                _function(request),
                'Invalid authorization value in HTTP header "Authorization".  '
                'Expecting "Bearer <oauth2-access-token>".',
            )
        tag = "expired_access_token" if state.token_expired() else "invalid_access_token"
        return web.json_response({"error_summary": f"{tag}/...", "error": {".tag": tag}}, status=401)

    return reject


class _Drive:
    """The user's files by lower-cased path; folders the checks create are also `state.objects`."""

    def __init__(self, state: ProviderState) -> None:
        self.state = state
        self.tree: dict[str, Meta] = {}
        for path, size in _SEED:
            self.tree[path.lower()] = self._meta(path, size)

    def _meta(self, path: str, size: int | None = None) -> Meta:
        meta: Meta = {
            ".tag": "folder" if size is None else "file",
            "name": path.rsplit("/", 1)[1],
            "path_lower": path.lower(),
            "path_display": path,
            "id": "id:" + secrets.token_urlsafe(16),
        }
        if size is not None:
            stamp = rfc3339(1_700_000_000)
            meta.update(client_modified=stamp, server_modified=stamp, rev=secrets.token_hex(7), size=size)
            meta.update(is_downloadable=True, content_hash=secrets.token_hex(32))
        return meta

    def find(self, path: str) -> Meta | None:
        if path.startswith("id:"):
            return next((m for m in self.tree.values() if m["id"] == path), None)
        return self.tree.get(path.lower().rstrip("/"))

    def children(self, folder: str, recursive: bool) -> list[Meta]:
        prefix = folder + "/"
        return [
            m
            for key, m in sorted(self.tree.items())
            if key.startswith(prefix) and (recursive or "/" not in key[len(prefix) :])
        ]

    def create_folder(self, path: str) -> Meta:
        meta = self._meta(path)
        self.tree[meta["path_lower"]] = meta
        self.state.objects[meta["id"]] = meta
        return meta

    def move(self, meta: Meta, to_path: str) -> Meta:
        old = meta["path_lower"]
        for key in [k for k in self.tree if k == old or k.startswith(old + "/")]:
            moved = self.tree.pop(key)
            display = to_path + moved["path_display"][len(old) :]
            moved.update(path_display=display, path_lower=display.lower(), name=display.rsplit("/", 1)[1])
            self.tree[moved["path_lower"]] = moved
        return meta

    def delete(self, meta: Meta) -> Meta:
        old = meta["path_lower"]
        for key in [k for k in self.tree if k == old or k.startswith(old + "/")]:
            self.state.objects.pop(self.tree.pop(key)["id"], None)
        return meta


class _BadInput(Exception):
    """A malformed call: 400 with a plain-text sentence."""


class _RouteError(Exception):
    """A route's own error: 409 with its tagged union."""

    def __init__(self, *tags: str) -> None:
        super().__init__("/".join(tags))
        self.tags = tags


async def _args(request: web.Request, void: bool) -> dict[str, Any]:
    """The route's JSON argument (a route without one takes `null` or no body at all)."""
    raw, ctype = await request.read(), request.headers.get("Content-Type", "")
    if void and not raw and not ctype:
        return {}
    if not ctype:
        raise _BadInput(f'Missing or empty HTTP "Content-Type" header.  {_EXPECTING}')
    if ctype.lower().replace("; ", ";").replace(";", "; ") not in _JSON_TYPES:
        raise _BadInput(f'Bad HTTP "Content-Type" header: "{ctype}".  {_EXPECTING}')
    try:
        body = json.loads(raw)
    except ValueError:
        raise _BadInput("request body: could not decode input as JSON") from None
    if void:
        if body is not None:
            raise _BadInput("request body: expected null, got value")
        return {}
    if not isinstance(body, dict):
        raise _BadInput("request body: expected object")
    return body


def _path(args: dict[str, Any], key: str = "path", root_ok: bool = False) -> str:
    path = args.get(key)
    if not isinstance(path, str):
        raise _BadInput(f"request body: {key}: expected string, got {json.dumps(path)}")
    if path == "" and not root_ok:
        raise _BadInput(f"request body: {key}: The root folder is unsupported.")
    if path and not path.startswith(("/", "id:", "ns:")):
        raise _BadInput(f"request body: {key}: '{path}' did not match pattern '{_PATH_PATTERN}'")
    return path


def _existing(drive: _Drive, path: str, *missing: str) -> Meta:
    meta = drive.find(path)
    if meta is None:
        raise _RouteError(*missing, "not_found")
    return meta


def create_app(state: ProviderState) -> web.Application:
    app = provider_app(state, _Hooks(), [auth_middleware(state, _reject(state), public=("/oauth2/token",))])
    # Long-lived access comes from a refresh token at POST /oauth2/token on the same host.
    add_oauth_token_route(app, state, "/oauth2/token")
    drive = _Drive(state)

    def rpc(name: str, fn: Rpc, void: bool = False) -> None:
        async def handler(request: web.Request) -> web.Response:
            try:
                return web.json_response(fn(drive, await _args(request, void)))
            except _BadInput as exc:
                return _bad_input(name, str(exc))
            except _RouteError as exc:
                return _route_error(*exc.tags)

        app.router.add_post(f"/2/{name}", handler)

    rpc("users/get_current_account", _current_account, void=True)
    rpc("check/user", _check_user)
    rpc("files/list_folder", _list_folder)
    rpc("files/list_folder/continue", _list_folder_continue)
    rpc("files/get_metadata", lambda d, a: _existing(d, _path(a), "path"))
    rpc("files/create_folder_v2", _create_folder)
    rpc("files/move_v2", _move)
    rpc("files/delete_v2", lambda d, a: {"metadata": d.delete(_existing(d, _path(a), "path_lookup"))})
    app.router.add_route("*", "/{tail:.*}", _unknown_function)
    return app


def _current_account(_drive: _Drive, _args: dict[str, Any]) -> Any:
    name = {"given_name": "Atom", "surname": "Monitor", "familiar_name": "Atom"}
    root = {".tag": "user", "root_namespace_id": _NAMESPACE, "home_namespace_id": _NAMESPACE}
    return {
        "account_id": _ACCOUNT_ID,
        "name": {**name, "display_name": "Atom Monitor", "abbreviated_name": "AM"},
        "email": "monitor@example.com",
        "email_verified": True,
        "disabled": False,
        "country": "US",
        "locale": "en",
        "referral_link": "https://www.dropbox.com/referrals/AAsandbox",
        "is_paired": False,
        "account_type": {".tag": "basic"},
        "root_info": root,
    }


def _check_user(_drive: _Drive, args: dict[str, Any]) -> Any:
    query = args.get("query", "")
    if not isinstance(query, str) or len(query) > 500:
        raise _BadInput("request body: query: expected a string of at most 500 characters")
    return {"result": query}


def _page(drive: _Drive, folder: str, recursive: bool, offset: int, limit: int) -> Any:
    """One page of a listing; the cursor (opaque to clients) remembers where the next begins."""
    entries = drive.children(folder, recursive)
    chunk = entries[offset : offset + limit]
    state = json.dumps({"f": folder, "r": recursive, "o": offset + len(chunk)}).encode()
    cursor = "AAH" + base64.urlsafe_b64encode(state).decode().rstrip("=")
    return {"entries": chunk, "cursor": cursor, "has_more": offset + limit < len(entries)}


def _list_folder(drive: _Drive, args: dict[str, Any]) -> Any:
    path, limit = _path(args, root_ok=True), args.get("limit", 2000)
    if not isinstance(limit, int) or not 1 <= limit <= 2000:
        raise _BadInput("request body: limit: must be between 1 and 2000")
    folder = _existing(drive, path, "path") if path else {".tag": "folder", "path_lower": ""}
    if folder[".tag"] != "folder":
        raise _RouteError("path", "not_folder")
    return _page(drive, folder["path_lower"], bool(args.get("recursive")), 0, limit)


def _list_folder_continue(drive: _Drive, args: dict[str, Any]) -> Any:
    try:
        raw = str(args.get("cursor")).removeprefix("AAH")
        state = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        folder, recursive, offset = str(state["f"]), bool(state["r"]), int(state["o"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _BadInput('Invalid "cursor" parameter') from None
    if folder and drive.find(folder) is None:
        raise _RouteError("reset")  # the listed folder is gone: start over with list_folder
    return _page(drive, folder, recursive, offset, 2000)


def _create_folder(drive: _Drive, args: dict[str, Any]) -> Any:
    path = _path(args).rstrip("/")
    if path.startswith("id:"):
        raise _RouteError("path", "malformed_path")
    if (existing := drive.find(path)) is not None:
        if not args.get("autorename"):
            raise _RouteError("path", "conflict", existing[".tag"])
        path = next(f"{path} ({n})" for n in range(1, 10_000) if drive.find(f"{path} ({n})") is None)
    meta = drive.create_folder(path)
    # CreateFolderResult.metadata is a FolderMetadata, not the Metadata union: no ".tag".
    return {"metadata": {k: v for k, v in meta.items() if k != ".tag"}}


def _move(drive: _Drive, args: dict[str, Any]) -> Any:
    meta, target = _existing(drive, _path(args, "from_path"), "from_lookup"), _path(args, "to_path")
    if (existing := drive.find(target)) is not None:
        raise _RouteError("to", "conflict", existing[".tag"])
    if target.lower().startswith(meta["path_lower"] + "/"):
        raise _RouteError("cant_move_folder_into_itself")
    return {"metadata": drive.move(meta, target.rstrip("/"))}


async def _unknown_function(request: web.Request) -> web.Response:
    function = _function(request) or request.path
    text = f'Error in call to API function "{function}": Unknown API function: /2/{function}'
    return web.Response(status=404, text=text, content_type="text/plain")
