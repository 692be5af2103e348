"""HTTP responses of the monitor's ASGI app: JSON bodies, errors, the security headers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

__all__ = ["Response", "Send", "error"]

Send = Callable[[Mapping[str, Any]], Awaitable[None]]

#: Nothing from an event can run as script: only this server's files execute, and only
#: the monitor's own WebSocket ports are reachable.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


@attrs.frozen
class Response:
    status: int
    body: bytes
    content_type: str
    cache: str = "no-cache"
    headers: tuple[tuple[bytes, bytes], ...] = ()

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        body = json.dumps(data, default=str, separators=(",", ":")).encode()
        return cls(status, body, "application/json")

    async def send(self, send: Send, *, head: bool = False) -> None:
        headers = [
            (b"content-type", self.content_type.encode()),
            (b"content-length", str(len(self.body)).encode()),
            (b"cache-control", self.cache.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            *self.headers,
        ]
        if self.content_type.startswith("text/html"):
            headers.append((b"content-security-policy", _CSP.encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else self.body})


def error(status: int, message: str, **extra: Any) -> Response:
    return Response.json({"error": message, **extra}, status)
