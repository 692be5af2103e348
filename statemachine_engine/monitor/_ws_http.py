"""Plain HTTP on the WebSocket port: the published package's ``GET /health`` and
``GET /initial`` there, beside the WebSocket handshake.

Each connection's request head is read first. A WebSocket upgrade is handed to
trio-websocket with the bytes already read put back in front of the stream; any other
request gets one JSON answer and the connection is closed:

* ``/health``: ``{"status": "ok", "connections", "last_event_time",
  "seconds_since_last_event", "unix_socket_active"}`` (the published package's shape;
  ``last_event_time`` is the server's start until an event arrives, and
  ``unix_socket_active`` says whether this monitor listens on an event socket);
* ``/initial``: the snapshot a WebSocket client gets first, ``{"type": "initial",
  "machines": [...], "timestamp"}``; 401 without the token when the monitor requires one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Mapping
from functools import partial
from typing import Any

import trio
import trio_websocket

from statemachine_engine.monitor._hub import MonitorHub
from statemachine_engine.monitor._origin import host_allowed
from statemachine_engine.monitor._token import token_accepted

__all__ = ["PlainHttp", "serve_connection", "serve_tcp"]

#: a request head larger than this is refused (browsers send a few KiB at most)
MAX_HEAD = 16 * 1024
#: how long a client may take to send its request head
HEAD_TIMEOUT = 10.0

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    426: "Upgrade Required",
}


class _ReplayStream(trio.abc.Stream):
    """A stream that first gives back bytes already read from it."""

    def __init__(self, stream: trio.abc.Stream, head: bytes) -> None:
        self._stream = stream
        self._head = head

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._head:
            size = len(self._head) if max_bytes is None else max_bytes
            data, self._head = self._head[:size], self._head[size:]
            return data
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        if isinstance(self._stream, trio.abc.HalfCloseableStream):
            await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()


class PlainHttp:
    """The answers to plain HTTP requests on the WebSocket port."""

    def __init__(
        self,
        hub: MonitorHub,
        *,
        bind_host: str,
        allowed_hosts: Collection[str] = (),
        event_socket_active: Callable[[], bool] = lambda: False,
        token: str | None = None,
    ) -> None:
        self.hub = hub
        self.token = token
        self.bind_host = bind_host
        self.allowed_hosts = frozenset(allowed_hosts)
        self.event_socket_active = event_socket_active
        self.started = hub.wall_time()

    def answer(self, method: str, target: str, headers: Mapping[str, str]) -> tuple[int, Any]:
        """The status and JSON body for one request (``headers`` with lower-case names)."""
        host = headers.get("host")
        path, _, query = target.partition("?")
        if not host_allowed(host, bind_host=self.bind_host, allowed=self.allowed_hosts):
            return 403, {"error": f"host {host!r} not allowed"}
        if method not in ("GET", "HEAD"):
            return 405, {"error": f"{method} not allowed; use GET"}
        if path == "/health":
            return 200, self.health()
        if path == "/initial":
            if not token_accepted(self.token, headers, query):
                return 401, {
                    "error": "this monitor needs its token: send ?token=... or "
                    "'Authorization: Bearer TOKEN'"
                }
            return 200, self.hub.snapshot()
        if path.startswith("/ws"):
            return 426, {"error": "connect with a WebSocket client"}
        return 404, {"error": f"no endpoint {path}; try /health, /initial or a WebSocket"}

    def health(self) -> dict[str, Any]:
        last = self.hub.last_event_time
        if last is None:
            last = self.started
        return {
            "status": "ok",
            "connections": self.hub.stats().clients,
            "last_event_time": last,
            "seconds_since_last_event": round(max(self.hub.wall_time() - last, 0.0), 2),
            "unix_socket_active": self.event_socket_active(),
        }


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]] | None:
    """Method, target (path and query) and lower-cased headers of a request head, or None
    if it is not one."""
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return method, target, headers


async def _read_head(stream: trio.abc.Stream) -> bytes | None:
    """Everything received up to the end of the request head (maybe more), or None."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            return None
        chunk = await stream.receive_some(4096)
        if not chunk:
            return None
        data += chunk
    return data


async def _respond(stream: trio.abc.Stream, status: int, body: Any, *, head_only: bool) -> None:
    payload = json.dumps(body).encode()
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        "Cache-Control: no-store",
        "Connection: close",
    ]
    if status == 426:
        lines.append("Upgrade: websocket")
    message = ("\r\n".join(lines) + "\r\n\r\n").encode()
    await stream.send_all(message if head_only else message + payload)


async def serve_connection(
    stream: trio.abc.Stream,
    *,
    websocket: Callable[[trio_websocket.WebSocketRequest], Awaitable[None]],
    plain: PlainHttp,
) -> None:
    """One TCP connection on the WebSocket port: a WebSocket, or one plain HTTP answer."""
    head: bytes | None = None
    try:
        with trio.move_on_after(HEAD_TIMEOUT):
            head = await _read_head(stream)
            parsed = _parse_head(head) if head is not None else None
            if head is None or parsed is None:
                if head is not None:
                    await _respond(stream, 400, {"error": "not an HTTP request"}, head_only=False)
                return
            method, path, headers = parsed
            if "websocket" not in headers.get("upgrade", "").lower():
                status, body = plain.answer(method, path, headers)
                await _respond(stream, status, body, head_only=method == "HEAD")
                return
        if head is None:
            return  # the head did not arrive in time
        async with trio.open_nursery() as nursery:
            request = await trio_websocket.wrap_server_stream(nursery, _ReplayStream(stream, head))
            await websocket(request)
            nursery.cancel_scope.cancel()
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        with trio.CancelScope(shield=True):
            await stream.aclose()


async def serve_tcp(
    handler: Callable[[trio.abc.Stream], Awaitable[None]],
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``handler`` on ``host:port`` until cancelled; starts with the bound port."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(trio.serve_listeners, handler, listeners))
        task_status.started(listeners[0].socket.getsockname()[1])
