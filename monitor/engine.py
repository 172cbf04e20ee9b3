"""The engine's long-lived parts, started and stopped together: the in-process sandbox (when
config enables it), one ClientSession, the store, the token cache and the scrubber.

`run --once` uses it for one round; the daemon keeps it for its lifetime.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp

from monitor import __version__
from monitor.auth import TokenCache, sandbox_credential, sandbox_refresh_token
from monitor.config import Config, ResolvedCheck
from monitor.httpclient import Client, HttpClient, SessionClient
from monitor.model import CheckResult
from monitor.probes import ProbeContext
from monitor.probes.context import Exchange
from monitor.probes.schemas import SchemaCache
from monitor.runner import new_run_id, run_many
from monitor.scrub import Scrubber
from monitor.store import Store

if TYPE_CHECKING:
    from monitor.sandbox.server import RunningSandbox

USER_AGENT = f"atom-monitor/{__version__} (+synthetic integration checks)"


@dataclass
class Engine:
    config: Config
    session: aiohttp.ClientSession
    http: Client
    store: Store
    scrubber: Scrubber
    tokens: TokenCache = field(default_factory=TokenCache)
    schemas: SchemaCache = field(default_factory=SchemaCache)
    sandbox: RunningSandbox | None = None
    # Sees every exchange (recording cassettes, spec-conformance tests); None in normal runs.
    observer: Callable[[Exchange], None] | None = None

    @property
    def sandbox_url(self) -> str | None:
        return self.sandbox.control_url if self.sandbox else None

    def adopt(self, config: Config) -> None:
        """Switch to a reloaded config, keeping the session, store and sandbox."""
        if self.sandbox is not None:
            _register_credentials(self.sandbox, config)
            config = config.with_base_urls(self.sandbox.urls)
        self.config = config
        self.scrubber = Scrubber(config.secrets)

    def context(self, check: ResolvedCheck, run_id: str) -> ProbeContext:
        return ProbeContext(
            session=self.session,
            http=self.http,
            integration=self.config.integrations[check.integration],
            run_id=run_id,
            scrubber=self.scrubber,
            tokens=self.tokens,
            schemas=self.schemas,
            observer=self.observer,
        )

    async def run_once(
        self,
        checks: Iterable[ResolvedCheck] | None = None,
        on_result: Callable[[CheckResult], Awaitable[None] | None] | None = None,
    ) -> list[CheckResult]:
        """Run checks once; each result is stored before `on_result` sees it."""
        run_id = new_run_id()

        async def keep(result: CheckResult) -> None:
            await self.store.write([result])
            if on_result is not None:
                maybe = on_result(result)
                if maybe is not None:
                    await maybe

        mon = self.config.file.monitor
        return await run_many(
            self.config.checks if checks is None else checks,
            lambda c: self.context(c, run_id),
            concurrency=mon.concurrency,
            per_integration=mon.per_integration_concurrency,
            on_result=keep,
        )


@asynccontextmanager
async def start_engine(config: Config, *, recordable: bool = False) -> AsyncIterator[Engine]:
    """`recordable`: checks send through the aiohttp session, where vcrpy can record and replay
    them; otherwise through the lean client, ~2.5x cheaper a request (monitor/httpclient/)."""
    sandbox = await _start_sandbox(config) if config.file.sandbox.enabled else None
    if sandbox is not None:
        config = config.with_base_urls(sandbox.urls)
    store = await Store.open(config.file.monitor.store)
    connector = aiohttp.TCPConnector(limit=config.file.monitor.concurrency * 2, ttl_dns_cache=300)
    # No cookie jar: a cookie one check's answer sets must not ride along on the next check's
    # request (checks are independent, as blackbox_exporter's probes are), and the jar's lookup
    # was a measurable share of every request.
    session = aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(),
        # Every request runs inside the runner's per-check timeout (or a probe's own, for
        # cleanups): aiohttp's default 5-minute total would only add a timer to every request.
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
    )
    scrubber = Scrubber(config.secrets)
    # The checks' own requests go through the lean client (monitor/httpclient/, why there);
    # the session serves the token endpoint, fuzzing and the sandbox's control API.
    http = SessionClient(session) if recordable else HttpClient(user_agent=USER_AGENT)
    engine = Engine(
        config=config, session=session, http=http, store=store, scrubber=scrubber, sandbox=sandbox
    )
    try:
        yield engine
    finally:
        engine.schemas.close()
        await http.close()
        await session.close()
        await store.close()
        if sandbox is not None:
            await sandbox.stop()


async def _start_sandbox(config: Config) -> RunningSandbox:
    # Imported here: the sandbox is a test double, and the engine must not need it otherwise.
    from monitor.sandbox import server
    from monitor.sandbox.faults import Fault

    faults = {
        provider: [Fault.parse({"kind": f.kind, "path": f.path, "params": f.params}) for f in specs]
        for provider, specs in config.file.sandbox.faults.items()
    }
    running = await server.start(config.file.sandbox.listen, faults=faults)
    _register_credentials(running, config)
    return running


def _register_credentials(sandbox: RunningSandbox, config: Config) -> None:
    """The in-process sandbox accepts exactly the credentials config gives its integrations."""
    for integ in config.integrations.values():
        state = sandbox.states.get(integ.provider)
        if state is None or (integ.base_url and not integ.base_url.startswith(sandbox.root_url)):
            continue
        state.credentials.update(sandbox_credential(integ.auth))
        token = sandbox_refresh_token(integ.auth)
        if token:
            state.refresh_tokens.add(token)
