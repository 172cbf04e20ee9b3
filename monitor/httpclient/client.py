"""The pool the checks send through, and the same interface over aiohttp for vcrpy."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from typing import Protocol

import aiohttp
from yarl import URL

from monitor.httpclient.connection import Connection
from monitor.httpclient.errors import ConnectError, ConnectionLost, ProtocolError
from monitor.httpclient.wire import Response, connect_reason, decode_body, request_head

# Idle connections older than this are closed rather than reused: servers drop idle keep-alive
# connections after 5-75 s, and a request sent on one the server is closing is lost.
IDLE_S = 15.0
MAX_IDLE_PER_ORIGIN = 64
# Safe to send twice when a reused connection turns out to be closed before any answer.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

Origin = tuple[str, str, int]


class Client(Protocol):
    """What a check sends through: the lean HttpClient, or SessionClient where vcrpy must see it."""

    async def request(
        self, method: str, url: URL, *, headers: Mapping[str, str], body: bytes | None = None, cap: int
    ) -> Response: ...

    async def close(self) -> None: ...


class SessionClient:
    """The checks' requests through an aiohttp ClientSession: vcrpy records and replays cassettes
    by patching aiohttp, and never sees the lean client's sockets (`atom-monitor record`)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def request(
        self, method: str, url: URL, *, headers: Mapping[str, str], body: bytes | None = None, cap: int
    ) -> Response:
        sent = time.perf_counter()
        try:
            async with self._session.request(
                method, url, headers=headers, data=body, allow_redirects=False
            ) as resp:
                raw = await resp.content.read(cap + 1)
                elapsed = time.perf_counter() - sent
                return Response(resp.status, dict(resp.headers), raw, len(raw) > cap, str(resp.url), elapsed)
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError(exc.host, exc.port or 0, str(exc.strerror or exc.os_error)) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            raise ConnectionLost(f"{type(exc).__name__}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise ProtocolError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        """The session belongs to the engine, which closes it."""


class HttpClient:
    """One per process, like the ClientSession it stands beside: connections are pooled per origin."""

    def __init__(self, *, user_agent: str, connect_timeout: float = 30.0) -> None:
        self._user_agent = user_agent
        self._connect_timeout = connect_timeout
        self._idle: dict[Origin, list[tuple[Connection, float]]] = {}
        self._open: set[Connection] = set()
        self._tls: ssl.SSLContext | None = None

    async def request(
        self,
        method: str,
        url: URL,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        cap: int,
    ) -> Response:
        if url.scheme not in ("http", "https") or not url.raw_host:
            raise ProtocolError(f"cannot request {url}: only absolute http:// and https:// URLs")
        origin: Origin = (url.scheme, url.raw_host, url.port or 0)  # yarl fills in 80 or 443
        head = request_head(method, url, headers, body, self._user_agent)
        elapsed = 0.0  # a lost first attempt's wait counts too: the provider took that time
        for attempt in (1, 2):
            conn = self._take(origin)
            reused = conn is not None
            if conn is None:
                started = time.perf_counter()
                conn = await self._connect(origin)
                elapsed += time.perf_counter() - started
            try:
                status, resp_headers, raw, truncated, encoding = await conn.exchange(
                    head, body, method == "HEAD", cap
                )
            except ConnectionLost:
                elapsed += conn.elapsed_s
                conn.close()
                # A pooled connection the server had already closed: the request never arrived.
                if reused and not conn.answered and method in _IDEMPOTENT and attempt == 1:
                    continue
                raise
            except BaseException:  # cancelled by the check's timeout, or a bad answer: state unknown
                conn.close()
                raise
            if conn.reusable:
                self._give_back(origin, conn)
            else:
                conn.close()
            decoded, truncated = decode_body(raw, truncated, encoding, cap)
            return Response(status, resp_headers, decoded, truncated, str(url), elapsed + conn.elapsed_s)
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def close(self) -> None:
        for conn in list(self._open):
            conn.close()
        self._idle.clear()

    def _take(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn, since = idle.pop()
            if conn.usable and now - since < IDLE_S:
                return conn
            conn.close()
        return None

    def _give_back(self, origin: Origin, conn: Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) >= MAX_IDLE_PER_ORIGIN:
            conn.close()
        else:
            idle.append((conn, time.monotonic()))

    async def _connect(self, origin: Origin) -> Connection:
        scheme, host, port = origin
        tls = self._tls_context() if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: Connection(self._open.discard),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls else None,
                )
        except TimeoutError:
            raise ConnectError(host, port, f"no connection within {self._connect_timeout:g} s") from None
        except OSError as exc:  # refused, unreachable, DNS (gaierror), TLS handshake (SSLError)
            raise ConnectError(host, port, connect_reason(exc)) from exc
        self._open.add(conn)
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:  # built on first use: loading the CA store costs ~10 ms
            self._tls = ssl.create_default_context()
        return self._tls
