"""A lean HTTP/1.1 client for the checks' own requests.

Why not aiohttp's ClientSession for these: on the bench machine a keep-alive GET through a bare
ClientSession costs 155-226 µs of CPU, and through this client 64-84 µs (bench/floor.py; round 5
in bench/README.md). A check is mostly one request, so the client was the largest part of a
check's CPU. The daemon keeps its aiohttp session for the rest:
the OAuth2 token endpoint, fuzzing, the sandbox's control API.

It speaks HTTP/1.1 over TCP or TLS with a keep-alive pool per origin; bodies by Content-Length,
chunked or to the connection's close; gzip and deflate; a cap on what is read. It does not follow
redirects (a check judges the redirect itself), use proxies or keep cookies (checks are
independent of each other, as blackbox_exporter's probes are).
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, cast

import aiohttp
import httptools
from yarl import URL

# Idle connections older than this are closed rather than reused: servers drop idle keep-alive
# connections after 5-75 s, and a request sent on one the server is closing is lost.
IDLE_S = 15.0
MAX_IDLE_PER_ORIGIN = 64
# Safe to send twice when a reused connection turns out to be closed before any answer.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_DEFAULT_HEADERS = {"accept": ("Accept", "*/*"), "accept-encoding": ("Accept-Encoding", "gzip, deflate")}

Origin = tuple[str, str, int]
# len(b"content-length"), len(b"content-encoding"), len(b"transfer-encoding")
_FRAMING_LENGTHS = frozenset({14, 16, 17})


class ClientError(Exception):
    """The request could not be completed; the runner records it as an `error`, never a `fail`."""


class ConnectError(ClientError):
    """No connection could be made: worth one retry."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot connect to {host}:{port}: {reason}")
        self.host, self.port = host, port


class ConnectionLost(ClientError):
    """The server closed the connection before the answer was complete: worth one retry."""


class ProtocolError(ClientError):
    """The answer was not HTTP/1.1 we can read, or the request could not be written."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # the last value of a repeated header wins, as dict(aiohttp's) did
    body: bytes  # decoded (gzip, deflate), at most `cap` + 1 bytes
    truncated: bool  # more than `cap` bytes: the rest was not read
    url: str
    # From sending the request (connecting first, if a new connection was needed) to its last
    # byte being parsed: the provider's time, without the wait for our task to be resumed.
    elapsed_s: float


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
        self._idle: dict[Origin, list[tuple[_Connection, float]]] = {}
        self._open: set[_Connection] = set()
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
        origin: Origin = (url.scheme, url.raw_host, url.port or (443 if url.scheme == "https" else 80))
        head = _head(method, url, headers, body, self._user_agent)
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
            decoded, truncated = _decode(raw, truncated, encoding, cap)
            return Response(status, resp_headers, decoded, truncated, str(url), elapsed + conn.elapsed_s)
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def close(self) -> None:
        for conn in list(self._open):
            conn.close()
        self._idle.clear()

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn, since = idle.pop()
            if conn.usable and now - since < IDLE_S:
                return conn
            conn.close()
        return None

    def _give_back(self, origin: Origin, conn: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) >= MAX_IDLE_PER_ORIGIN:
            conn.close()
        else:
            idle.append((conn, time.monotonic()))

    async def _connect(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        tls = self._tls_context() if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self._open.discard),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls else None,
                )
        except TimeoutError:
            raise ConnectError(host, port, f"no connection within {self._connect_timeout:g} s") from None
        except OSError as exc:  # refused, unreachable, DNS (gaierror), TLS handshake (SSLError)
            raise ConnectError(host, port, _why(exc)) from exc
        self._open.add(conn)
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:  # built on first use: loading the CA store costs ~10 ms
            self._tls = ssl.create_default_context()
        return self._tls


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; one exchange at a time."""

    def __init__(self, on_closed: Callable[[_Connection], None]) -> None:
        self._on_closed = on_closed
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.answered = False  # any byte of an answer arrived (so the request was not lost)
        self.reusable = False
        self._sent_at = 0.0
        self.elapsed_s = 0.0  # the last exchange's, from its write to its end (or its loss)

    @property
    def usable(self) -> bool:
        return not self._closed and self._transport is not None and not self._transport.is_closing()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._mark_closed()

    async def exchange(
        self, head: bytes, body: bytes | None, head_only: bool, cap: int
    ) -> tuple[int, dict[str, str], bytes, bool, str]:
        assert self._transport is not None and self._waiter is None, "one exchange at a time"
        loop = asyncio.get_running_loop()
        self._parser = httptools.HttpResponseParser(self)  # a fresh one: a HEAD answer ends early
        self._head_only, self._cap = head_only, cap
        self._status, self._size = 0, 0
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._encoding = ""
        self._chunks: list[bytes] = []
        self._truncated = self._headers_done = self._framed = False
        self.answered = self.reusable = False
        self._waiter = loop.create_future()
        self._sent_at = time.perf_counter()
        self._transport.write(head if body is None else head + body)
        try:
            await self._waiter
        finally:
            self._waiter = None
        # The last value of a repeated header wins, as in dict(aiohttp's headers).
        headers = {n.decode("latin-1"): v.decode("latin-1") for n, v in self._raw_headers}
        return self._status, headers, b"".join(self._chunks), self._truncated, self._encoding

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so this is a cast, not a check.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: the connection's framing cannot be trusted
            return
        self.answered = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(f"malformed HTTP answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._mark_closed()
        if self._waiter is None or self._waiter.done():
            return
        if self._headers_done and not self._framed:
            self._finish(keep_alive=False)  # no length, not chunked: the body ended with the connection
            return
        where = "mid-answer" if self.answered else "before answering"
        why = f": {exc}" if exc else ""
        self.elapsed_s = time.perf_counter() - self._sent_at
        self._waiter.set_exception(ConnectionLost(f"the server closed the connection {where}{why}"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw_headers.append((name, value))
        if len(name) in _FRAMING_LENGTHS:  # cheaper than lowercasing every name
            lower = name.lower()
            if lower == b"content-length":
                self._framed = True
            elif lower == b"transfer-encoding":
                self._framed = self._framed or b"chunked" in value.lower()
            elif lower == b"content-encoding":
                self._encoding = value.strip().lower().decode("latin-1")

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (103 Early Hints): the real one follows
            self._raw_headers, self._framed, self._encoding = [], False, ""
            return
        self._status, self._headers_done = status, True
        if self._head_only or status in (204, 304):
            self._framed = True
            self._finish(keep_alive=self._parser.should_keep_alive())

    def on_body(self, body: bytes) -> None:
        if self._truncated:
            return
        self._chunks.append(body)
        self._size += len(body)
        if self._size > self._cap:
            self._truncated = True
            self._finish(keep_alive=False)  # the rest is never read, so the connection is spent

    def on_message_complete(self) -> None:
        if self._headers_done:
            self._finish(keep_alive=self._parser.should_keep_alive())

    def _finish(self, keep_alive: bool) -> None:
        if self._waiter is not None and not self._waiter.done():
            self.elapsed_s = time.perf_counter() - self._sent_at
            self.reusable = keep_alive and not self._closed
            self._waiter.set_result(None)

    def _fail(self, exc: ClientError) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    def _mark_closed(self) -> None:
        if not self._closed:
            self._closed = True
            self._on_closed(self)


def _why(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        if isinstance(exc, ssl.SSLCertVerificationError):
            return f"TLS certificate verify failed: {exc.verify_message}"
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the name: {exc.strerror}"
    # asyncio's text ("Connect call failed ...") repeats the address; the errno says why.
    return os.strerror(exc.errno) if exc.errno and exc.errno > 0 else str(exc) or type(exc).__name__


def _head(method: str, url: URL, headers: Mapping[str, str], body: bytes | None, user_agent: str) -> bytes:
    given = {k.lower() for k in headers}
    # One scan of every value a template may have filled in: a line break would start a new
    # header (or request) on the wire.
    values = "".join(headers.values())
    if "\n" in values or "\r" in values or any("\n" in k or "\r" in k or ":" in k for k in headers):
        raise ProtocolError("a header contains a line break (or its name a colon): it cannot be sent")
    lines = [f"{method} {url.raw_path_qs} HTTP/1.1"]
    if "host" not in given:  # a check may name its own (a virtual host behind a shared address)
        lines.append(f"Host: {url.host_port_subcomponent}")
    if "user-agent" not in given:
        lines.append(f"User-Agent: {user_agent}")
    lines.extend(f"{name}: {value}" for key, (name, value) in _DEFAULT_HEADERS.items() if key not in given)
    lines.extend(f"{name}: {value}" for name, value in headers.items() if name.lower() != "content-length")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")  # ours, from the body actually sent
    lines.append("\r\n")
    return "\r\n".join(lines).encode()


def _decode(raw: bytes, truncated: bool, encoding: str, cap: int) -> tuple[bytes, bool]:
    """Undo gzip or deflate, reading at most `cap` + 1 bytes out: a small answer can be a bomb."""
    if encoding in ("", "identity") or not raw:
        return raw, truncated
    if encoding in ("gzip", "x-gzip", "deflate"):
        # 47: a gzip or zlib header, told apart by zlib; -15: deflate without a header, as some send.
        for wbits in (47, -15):
            inflater = zlib.decompressobj(wbits)
            try:
                out = inflater.decompress(raw, cap + 1)
            except zlib.error:
                continue
            return out, truncated or len(out) > cap or bool(inflater.unconsumed_tail)
        raise ProtocolError(f"the body is not valid {encoding}")
    raise ProtocolError(f"the body is encoded as {encoding!r}, which atom-monitor does not decode")
