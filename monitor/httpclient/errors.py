"""What the checks' HTTP client raises. The runner records each as an `error`, never a `fail`:
the provider broke no rule we could judge."""

from __future__ import annotations


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
