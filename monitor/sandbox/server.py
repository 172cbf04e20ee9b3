"""One aiohttp server hosting every simulated provider under `/<provider>`, plus a control API.

Control API (JSON, for tests and for `atom-monitor sandbox` users):
  GET    /_sandbox/healthz
  GET    /_sandbox/faults                      every active fault, per provider
  POST   /_sandbox/faults/{provider}           add one: {"kind": "latency", "ms": 300, "path": "/user"}
  DELETE /_sandbox/faults[/{provider}]         clear
  POST   /_sandbox/credentials/{provider}      accept one more credential: {"credential": "..."}
  GET    /_sandbox/objects/{provider}          objects created by CRUD checks and not yet deleted
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from monitor.sandbox import load_provider, provider_names
from monitor.sandbox.faults import Fault
from monitor.sandbox.state import STATE_KEY, ProviderState

STATES_KEY = web.AppKey("sandbox_states", dict[str, ProviderState])


def build_app(
    faults: Mapping[str, Iterable[Fault]] | None = None,
    credentials: Mapping[str, Iterable[str]] | None = None,
    providers: Iterable[str] | None = None,
    refresh_tokens: Mapping[str, Iterable[str]] | None = None,
) -> web.Application:
    root = web.Application()
    states: dict[str, ProviderState] = {}
    for name in providers or provider_names():
        module = load_provider(name)
        state = ProviderState(name)
        state.faults.extend((faults or {}).get(name, ()))
        state.credentials.update((credentials or {}).get(name, ()))
        state.refresh_tokens.update((refresh_tokens or {}).get(name, ()))
        sub = module.create_app(state)
        sub[STATE_KEY] = state
        root.add_subapp(f"/{name}{module.BASE_PATH}/", sub)
        states[name] = state
    root[STATES_KEY] = states
    root.router.add_get("/_sandbox/healthz", _healthz)
    root.router.add_get("/_sandbox/faults", _list_faults)
    root.router.add_post("/_sandbox/faults/{provider}", _add_fault)
    root.router.add_delete("/_sandbox/faults/{provider}", _clear_faults)
    root.router.add_delete("/_sandbox/faults", _clear_faults)
    root.router.add_post("/_sandbox/credentials/{provider}", _add_credential)
    root.router.add_get("/_sandbox/objects/{provider}", _objects)
    return root


def base_urls(host: str, port: int, providers: Iterable[str] | None = None) -> dict[str, str]:
    """Where each provider's real base URL maps to in the sandbox (Slack's is `/slack/api`)."""
    return {
        name: f"http://{host}:{port}/{name}{load_provider(name).BASE_PATH}"
        for name in providers or provider_names()
    }


@dataclass
class RunningSandbox:
    runner: web.AppRunner
    host: str
    port: int

    @property
    def urls(self) -> dict[str, str]:
        return base_urls(self.host, self.port)

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def states(self) -> dict[str, ProviderState]:
        app = self.runner.app
        return app[STATES_KEY] if app is not None else {}

    @property
    def control_url(self) -> str:
        return f"http://{self.host}:{self.port}/_sandbox"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start(
    listen: str = "127.0.0.1:0",
    faults: Mapping[str, Iterable[Fault]] | None = None,
    credentials: Mapping[str, Iterable[str]] | None = None,
    refresh_tokens: Mapping[str, Iterable[str]] | None = None,
) -> RunningSandbox:
    host, _, port = listen.rpartition(":")
    # A hang fault keeps handlers open; do not let them hold up shutdown.
    runner = web.AppRunner(
        build_app(faults, credentials, refresh_tokens=refresh_tokens), access_log=None, shutdown_timeout=0.5
    )
    await runner.setup()
    site = web.TCPSite(runner, host or "127.0.0.1", int(port or 0))
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    actual = sockets[0].getsockname()[1] if sockets else int(port)
    return RunningSandbox(runner, host or "127.0.0.1", actual)


def _state(request: web.Request) -> ProviderState:
    states = request.app[STATES_KEY]
    name = request.match_info.get("provider", "")
    if name not in states:
        raise web.HTTPNotFound(
            text=f'{{"error": "unknown provider {name!r}; known: {", ".join(states)}"}}',
            content_type="application/json",
        )
    return states[name]


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "providers": sorted(request.app[STATES_KEY].keys())})


async def _list_faults(request: web.Request) -> web.Response:
    states = request.app[STATES_KEY]
    return web.json_response({n: [f.to_dict() for f in s.faults] for n, s in states.items()})


async def _add_fault(request: web.Request) -> web.Response:
    state = _state(request)
    try:
        fault = Fault.parse(await request.json())
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    state.faults.append(fault)
    return web.json_response(
        {"provider": state.name, "faults": [f.to_dict() for f in state.faults]}, status=201
    )


async def _clear_faults(request: web.Request) -> web.Response:
    states = request.app[STATES_KEY]
    targets = [_state(request)] if "provider" in request.match_info else list(states.values())
    for s in targets:
        s.faults.clear()
    return web.json_response({"cleared": [s.name for s in targets]})


async def _add_credential(request: web.Request) -> web.Response:
    state = _state(request)
    body: Any = await request.json()
    if not isinstance(body, dict) or not isinstance(body.get("credential"), str):
        return web.json_response({"error": 'expected {"credential": "..."}'}, status=400)
    state.credentials.add(body["credential"])
    return web.json_response({"provider": state.name, "accepted": True}, status=201)


async def _objects(request: web.Request) -> web.Response:
    state = _state(request)
    return web.json_response(
        {"provider": state.name, "count": len(state.objects), "ids": sorted(state.objects)}
    )
