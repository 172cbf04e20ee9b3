"""The checks' HTTP/1.1 client against scripted servers on real 127.0.0.1 sockets.

Each test runs on asyncio's loop and on uvloop, the daemon's (tests/conftest.py says how).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import shutil
import ssl
import subprocess
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from yarl import URL

from monitor.httpclient import ConnectError, ConnectionLost, HttpClient, ProtocolError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
CAP = 1000


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    c = HttpClient(user_agent="atom-monitor-tests", connect_timeout=5)
    yield c
    await c.close()


class Script:
    """A server that answers each request with the next canned bytes and remembers what it read."""

    def __init__(self, answers: list[bytes], close_after: bool = False) -> None:
        self.answers, self.close_after = answers, close_after
        self.requests: list[bytes] = []
        self.connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.answers.pop(0))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def serve(handler: Handler, tls: ssl.SSLContext | None = None) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
    return server, server.sockets[0].getsockname()[1]


def answer(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def test_a_keep_alive_connection_is_reused_for_the_next_request(client: HttpClient) -> None:
    """Two requests to one origin share one connection, and each gets its own answer."""
    script = Script([answer(b"one"), answer(b"two")])
    server, port = await serve(script)
    async with server:
        first = await client.request("GET", URL(f"http://127.0.0.1:{port}/a?x=1"), headers={}, cap=CAP)
        second = await client.request("GET", URL(f"http://127.0.0.1:{port}/b"), headers={}, cap=CAP)
    assert (first.status, first.body, second.body) == (200, b"one", b"two")
    assert script.connections == 1
    assert script.requests[0].startswith(b"GET /a?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert first.url == f"http://127.0.0.1:{port}/a?x=1"


async def test_the_request_carries_its_headers_body_and_length(client: HttpClient) -> None:
    """Given headers override the defaults, and a body goes with its Content-Length."""
    script = Script([answer(b"{}")])
    server, port = await serve(script)
    async with server:
        await client.request(
            "POST",
            URL(f"http://127.0.0.1:{port}/items"),
            headers={"Accept": "application/json", "X-Trace": "t1"},
            body=b'{"name":"x"}',
            cap=CAP,
        )
    sent = script.requests[0].decode()
    assert "Accept: application/json\r\n" in sent and "Accept: */*" not in sent
    assert "X-Trace: t1\r\n" in sent and "User-Agent: atom-monitor-tests\r\n" in sent
    assert sent.endswith('Content-Length: 12\r\n\r\n{"name":"x"}')


async def test_a_chunked_answer_is_reassembled(client: HttpClient) -> None:
    """Chunked transfer encoding yields the whole body, and the connection stays usable."""
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    script = Script([chunked, answer(b"again")])
    server, port = await serve(script)
    async with server:
        first = await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
        second = await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
    assert (first.body, second.body, script.connections) == (b"hello world", b"again", 1)


async def test_an_answer_without_length_ends_with_the_connection(client: HttpClient) -> None:
    """A body with neither Content-Length nor chunking is read until the server closes."""
    script = Script([b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"], close_after=True)
    server, port = await serve(script)
    async with server:
        resp = await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
    assert resp.body == b"all of it"


async def test_gzip_and_deflate_bodies_are_decoded(client: HttpClient) -> None:
    """Compressed answers arrive decoded, whichever deflate framing the server chose."""
    raw_deflate = zlib.compressobj(wbits=-15)
    bodies = [
        gzip.compress(b"zipped"),
        zlib.compress(b"zlibbed"),
        raw_deflate.compress(b"raw") + raw_deflate.flush(),
    ]
    script = Script(
        [
            answer(bodies[0], "Content-Encoding: gzip"),
            answer(bodies[1], "Content-Encoding: deflate"),
            answer(bodies[2], "Content-Encoding: deflate"),
        ]
    )
    server, port = await serve(script)
    async with server:
        got = [
            (await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)).body
            for _ in range(3)
        ]
    assert got == [b"zipped", b"zlibbed", b"raw"]
    assert b"Accept-Encoding: gzip, deflate\r\n" in script.requests[0]


async def test_a_compression_bomb_is_cut_at_the_cap(client: HttpClient) -> None:
    """A small gzip body that inflates past the cap is truncated, not inflated whole."""
    bomb = gzip.compress(b"0" * 10_000_000)
    script = Script([answer(bomb, "Content-Encoding: gzip")])
    server, port = await serve(script)
    async with server:
        resp = await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=100_000)
    assert resp.truncated and len(resp.body) == 100_001


async def test_a_body_over_the_cap_is_truncated_and_the_connection_dropped(client: HttpClient) -> None:
    """Past the cap reading stops, the answer says so, and the next request gets a new connection."""
    script = Script([answer(b"x" * 50_000), answer(b"small")])
    server, port = await serve(script)
    async with server:
        big = await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
        small = await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
    assert big.truncated and len(big.body) > CAP
    assert (small.body, small.truncated) == (b"small", False)
    assert script.connections == 2


async def test_a_head_answer_has_no_body_and_keeps_the_connection(client: HttpClient) -> None:
    """HEAD's Content-Length describes a body that never comes: the answer ends at its headers."""
    script = Script([b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", answer(b"next")])
    server, port = await serve(script)
    async with server:
        head = await client.request("HEAD", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
        nxt = await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
    assert (head.status, head.body, nxt.body, script.connections) == (200, b"", b"next", 1)


async def test_an_interim_answer_is_skipped(client: HttpClient) -> None:
    """A 103 Early Hints before the real answer does not become the answer."""
    script = Script(
        [b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + answer(b"real", status="201 Created")]
    )
    server, port = await serve(script)
    async with server:
        resp = await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
    assert (resp.status, resp.body) == (201, b"real")
    assert "Link" not in resp.headers


class DropSecond:
    """Answers the first request on each connection; takes the second and closes without a word,
    as a server does when its idle timeout fires just as the request arrives."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        self.requests += 1
        writer.write(answer(b"answered"))
        await writer.drain()
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            self.requests += 1
        writer.close()


async def test_a_get_lost_on_a_pooled_connection_is_sent_again_on_a_new_one(client: HttpClient) -> None:
    """A pooled connection closed before any answer costs a reconnect, not a failed GET."""
    server_side = DropSecond()
    server, port = await serve(server_side)
    async with server:
        await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
        resp = await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
    assert resp.body == b"answered"
    assert (server_side.connections, server_side.requests) == (2, 3)


async def test_a_post_lost_on_a_pooled_connection_is_not_sent_again(client: HttpClient) -> None:
    """A POST whose connection closes before an answer raises: the provider may have acted on it."""
    server_side = DropSecond()
    server, port = await serve(server_side)
    async with server:
        await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
        with pytest.raises(ConnectionLost, match="before answering"):
            await client.request("POST", URL(f"http://127.0.0.1:{port}/"), headers={}, body=b"{}", cap=CAP)
    assert (server_side.connections, server_side.requests) == (1, 2)


async def test_a_connection_the_server_closed_while_idle_is_not_reused(client: HttpClient) -> None:
    """A pooled connection whose close has arrived is dropped before use, even for a POST."""
    script = Script([answer(b"first")], close_after=True)
    server, port = await serve(script)
    async with server:
        await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
        await asyncio.sleep(0.05)  # the server's close reaches the idle connection
        script.answers.append(answer(b"second"))
        resp = await client.request("POST", URL(f"http://127.0.0.1:{port}/"), headers={}, body=b"{}", cap=CAP)
    assert resp.body == b"second" and script.connections == 2


async def test_a_connection_closed_mid_body_is_a_lost_connection(client: HttpClient) -> None:
    """A body shorter than its Content-Length is an error, never a silently short answer."""
    script = Script([b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"], close_after=True)
    server, port = await serve(script)
    async with server:
        with pytest.raises(ConnectionLost, match="mid-answer"):
            await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)


async def test_a_malformed_answer_is_a_protocol_error(client: HttpClient) -> None:
    """Bytes that are not HTTP/1.1 raise a ProtocolError naming the problem."""
    script = Script([b"SSH-2.0-OpenSSH_9.2\r\n\r\n"])
    server, port = await serve(script)
    async with server:
        with pytest.raises(ProtocolError, match="malformed HTTP answer"):
            await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)


async def test_a_refused_connection_names_the_address(client: HttpClient, unused_tcp_port: int) -> None:
    """Nothing listening is a ConnectError with the host, port and the system's reason."""
    with pytest.raises(ConnectError, match=f"cannot connect to 127.0.0.1:{unused_tcp_port}: .*refused"):
        await client.request("GET", URL(f"http://127.0.0.1:{unused_tcp_port}/"), headers={}, cap=CAP)


async def test_a_header_with_a_line_break_is_refused_before_sending(client: HttpClient) -> None:
    """A rendered header value cannot smuggle a second header or request onto the wire."""
    with pytest.raises(ProtocolError, match="line break"):
        await client.request("GET", URL("http://127.0.0.1:9/"), headers={"X-A": "v\r\nX-B: w"}, cap=CAP)


async def test_a_cancelled_request_closes_its_connection(client: HttpClient) -> None:
    """A check's timeout cancels the request, and its connection is never handed to another."""
    hold = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await hold.wait()
        writer.write(answer(b"late"))
        writer.close()

    server, port = await serve(slow)
    async with server:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
        hold.set()
        assert not client._idle.get(("http", "127.0.0.1", port))
        assert not client._open


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
async def test_https_verifies_the_certificate(
    client: HttpClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An https answer comes over TLS when the certificate is trusted, and is refused when not."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    server, port = await serve(Script([answer(b"secure")]), tls=tls)
    async with server:
        with pytest.raises(ConnectError, match="TLS certificate verify failed: self-signed certificate"):
            await client.request("GET", URL(f"https://127.0.0.1:{port}/"), headers={}, cap=CAP)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        trusting = HttpClient(user_agent="t")
        try:
            resp = await trusting.request("GET", URL(f"https://127.0.0.1:{port}/"), headers={}, cap=CAP)
        finally:
            await trusting.close()
    assert resp.body == b"secure"


async def test_elapsed_is_the_providers_time(client: HttpClient) -> None:
    """elapsed_s covers the server's hold (and the connect) and no more than the call's wall time."""

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(0.2)
        writer.write(answer(b"late"))
        await writer.drain()
        writer.close()

    server, port = await serve(slow)
    async with server:
        t0 = time.perf_counter()
        resp = await client.request("GET", URL(f"http://127.0.0.1:{port}/"), headers={}, cap=CAP)
        wall = time.perf_counter() - t0
    assert 0.2 <= resp.elapsed_s <= wall
