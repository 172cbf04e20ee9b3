"""The benchmark's target: a tiny HTTP/1.1 server, run in its own process.

Raw asyncio (no framework) so that serving 1,000+ requests/s costs the shared 2-core machine as
little as possible. `GET /delay?ms=50&id=X` answers after a fixed delay. Because event-loop timers
overshoot by up to a millisecond, the server also records how long it really held each request
(from the parsed request to the response write), keyed by `id`: that is the "true" latency the
monitors' reported durations are compared with. `GET /stats` returns those records.

Usage: python bench/target.py --port 0   (prints the bound port on stdout, then serves)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import parse_qs, urlsplit

_BODY = b'{"ok": true, "service": "bench-target"}'


class Holds:
    """id -> nanoseconds the server actually held the request before answering."""

    def __init__(self) -> None:
        self.by_id: dict[str, int] = {}
        self.served = 0


class HttpProtocol(asyncio.Protocol):
    """One connection. Keep-alive by default (HTTP/1.1); no pipelining, no request bodies."""

    def __init__(self, holds: Holds) -> None:
        self._holds = holds
        self._buf = b""
        self._transport: asyncio.Transport | None = None
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while b"\r\n\r\n" in self._buf:
            head, _, self._buf = self._buf.partition(b"\r\n\r\n")
            self._handle(head, time.perf_counter_ns())

    def _handle(self, head: bytes, received_ns: int) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        target = parts[1] if len(parts) > 1 else "/"
        close = any(line.lower().startswith("connection:") and "close" in line.lower() for line in lines[1:])
        url = urlsplit(target)
        query = parse_qs(url.query)
        if url.path == "/delay":
            delay = float(query.get("ms", ["0"])[0]) / 1000.0
            ident = query.get("id", [""])[0]
            loop = asyncio.get_running_loop()
            loop.call_later(delay, self._reply_body, _BODY, close, ident, received_ns)
        elif url.path == "/stats":
            body = json.dumps({"served": self._holds.served, "holds_ns": self._holds.by_id}).encode()
            self._reply_body(body, close, "", received_ns)
        elif url.path == "/reset":
            self._holds.by_id.clear()
            self._reply_body(b"{}", close, "", received_ns)
        else:
            self._reply_body(_BODY, close, "", received_ns)

    def _reply_body(self, body: bytes, close: bool, ident: str, received_ns: int) -> None:
        if self._transport is None:
            return
        hold = time.perf_counter_ns() - received_ns
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Hold-Us: {hold // 1000}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
        )
        self._transport.write(head.encode() + body)
        self._holds.served += 1
        if ident:
            self._holds.by_id[ident] = hold
        if close:
            self._transport.close()


async def serve(host: str, port: int) -> None:
    """Bind, announce the port on stdout (the parent reads it), serve until killed."""
    holds = Holds()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpProtocol(holds), host, port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    print(bound, flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
