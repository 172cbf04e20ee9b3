"""The bytes on the wire: the request head we write, the body we hand back, the reason a
connection failed. Pure functions; the connection and the client use them."""

from __future__ import annotations

import os
import socket
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from yarl import URL

from monitor.httpclient.errors import ProtocolError

_DEFAULT_HEADERS = {"accept": ("Accept", "*/*"), "accept-encoding": ("Accept-Encoding", "gzip, deflate")}


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


def connect_reason(exc: OSError) -> str:
    """Why a connection could not be made, in the words a user acts on."""
    if isinstance(exc, ssl.SSLError):
        if isinstance(exc, ssl.SSLCertVerificationError):
            return f"TLS certificate verify failed: {exc.verify_message}"
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the name: {exc.strerror}"
    # asyncio's text ("Connect call failed ...") repeats the address; the errno says why.
    return os.strerror(exc.errno) if exc.errno and exc.errno > 0 else str(exc) or type(exc).__name__


def request_head(
    method: str, url: URL, headers: Mapping[str, str], body: bytes | None, user_agent: str
) -> bytes:
    """The request line and headers: the check's own headers win over our defaults."""
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


def decode_body(raw: bytes, truncated: bool, encoding: str, cap: int) -> tuple[bytes, bool]:
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
