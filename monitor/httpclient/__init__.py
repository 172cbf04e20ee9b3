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

from monitor.httpclient.client import Client, HttpClient, SessionClient
from monitor.httpclient.errors import ClientError, ConnectError, ConnectionLost, ProtocolError
from monitor.httpclient.wire import Response

__all__ = [
    "Client",
    "ClientError",
    "ConnectError",
    "ConnectionLost",
    "HttpClient",
    "ProtocolError",
    "Response",
    "SessionClient",
]
