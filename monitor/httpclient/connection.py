"""One connection of the pool: an asyncio Protocol that writes a request and parses its answer
with llhttp (httptools) as the bytes arrive."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import cast

import httptools

from monitor.httpclient.errors import ClientError, ConnectionLost, ProtocolError

# len(b"content-length"), len(b"content-encoding"), len(b"transfer-encoding")
_FRAMING_LENGTHS = frozenset({14, 16, 17})


class Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; one exchange at a time."""

    def __init__(self, on_closed: Callable[[Connection], None]) -> None:
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
