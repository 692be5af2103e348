"""The monitor's WebSocket server (trio-websocket): a snapshot on connect, then live events.

Protocol, as the published package's monitor speaks it: the server sends
``{"type": "initial", "machines": [...], "timestamp"}`` first, then every machine event as
published, and ``{"type": "ping", "timestamp"}`` every ``keepalive`` seconds. A client may
send the texts ``ping`` (answered ``{"type": "pong"}``), ``refresh`` (answered with a new
snapshot) and ``pong``. A client that falls a whole backlog behind during a burst gets a
fresh ``initial`` message in place of what it missed and carries on; one that reads nothing
at all (no byte of a write accepted for ``stall_timeout`` seconds) is closed with code 1008.

The same port answers plain HTTP ``GET /health`` and ``GET /initial``, as the published
package's server does (see ``_ws_http``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Sequence
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import attrs
import trio
import trio_websocket

from statemachine_engine.monitor._hub import MonitorHub, Outgoing, Subscriber, SubscriberClosed
from statemachine_engine.monitor._origin import origin_allowed
from statemachine_engine.monitor._token import token_accepted
from statemachine_engine.monitor._ws_http import PlainHttp, serve_connection, serve_tcp

__all__ = ["EVENTS_PATH", "WebSocketMonitor", "serve_websocket"]

logger = logging.getLogger(__name__)

EVENTS_PATH = "/ws/events"
#: the shortest time between two writes to one client (seconds)
WRITE_INTERVAL = 0.01
#: how long a dropped client's last batch may take before its socket is simply closed
CLOSE_GRACE = 2.0
#: how long one write to a client may wait for its socket to take it before the client is
#: taken for one that does not read and cut off (seconds)
STALL_TIMEOUT = 10.0


@attrs.frozen
class WebSocketMonitor:
    """What :func:`serve_websocket` hands to ``nursery.start``: where it listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}{EVENTS_PATH}"


async def serve_websocket(
    hub: MonitorHub,
    host: str = "127.0.0.1",
    port: int = 3002,
    *,
    allowed_origins: Collection[str] = (),
    keepalive: float = 10.0,
    paths: Sequence[str] = (EVENTS_PATH,),
    event_socket_active: Callable[[], bool] = lambda: False,
    stall_timeout: float = STALL_TIMEOUT,
    token: str | None = None,
    task_status: trio.TaskStatus[WebSocketMonitor] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the hub's events over WebSocket until cancelled.

    Use with ``await nursery.start(serve_websocket, hub, host, port)``; it returns once the
    port is bound (``port=0`` picks a free one; read it from the returned value).
    ``event_socket_active`` tells ``/health`` whether events arrive on an event socket.
    ``stall_timeout``: how long a write may wait on a client that reads nothing before it
    is cut off. ``token``: what a client must present to connect (``None``: nothing).
    """
    handler = partial(
        _handle,
        hub,
        bind_host=host,
        allowed_origins=frozenset(allowed_origins),
        keepalive=keepalive,
        paths=frozenset(paths),
        stall_timeout=stall_timeout,
        token=token,
    )
    plain = PlainHttp(
        hub,
        bind_host=host,
        allowed_hosts=allowed_origins,
        event_socket_active=event_socket_active,
        token=token,
    )
    connection = partial(serve_connection, websocket=handler, plain=plain)
    async with trio.open_nursery() as nursery:
        actual = await nursery.start(serve_tcp, connection, host, port)
        logger.info("WebSocket monitor listening on ws://%s:%d%s", host, actual, EVENTS_PATH)
        task_status.started(WebSocketMonitor(host, actual))


def _header(request: trio_websocket.WebSocketRequest, name: bytes) -> str | None:
    for key, value in request.headers:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _handle(
    hub: MonitorHub,
    request: trio_websocket.WebSocketRequest,
    *,
    bind_host: str,
    allowed_origins: frozenset[str],
    keepalive: float,
    paths: frozenset[str],
    stall_timeout: float,
    token: str | None,
) -> None:
    target = urlsplit(request.path)
    path = target.path
    if path not in paths:
        logger.info("rejected WebSocket connection to unknown path %r", request.path)
        await request.reject(404, body=f"unknown path; connect to {EVENTS_PATH}\n".encode())
        return
    origin = _header(request, b"origin")
    if not origin_allowed(
        origin, host_header=_header(request, b"host"), bind_host=bind_host, allowed=allowed_origins
    ):
        logger.warning("rejected WebSocket connection from origin %r", origin)
        await request.reject(403, body=b"origin not allowed\n")
        return
    headers = {
        bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1") for k, v in request.headers
    }
    if not token_accepted(token, headers, target.query):
        logger.warning("rejected a WebSocket connection without a valid token")
        await request.reject(
            401, body=b"this monitor needs its token: ?token=... or Authorization: Bearer\n"
        )
        return
    ws = await request.accept()
    try:
        await _serve_client(hub, ws, request, keepalive, stall_timeout)
    finally:
        # a closing handshake, also when the server shuts down (cancelled)
        with trio.move_on_after(CLOSE_GRACE) as scope:
            scope.shield = True
            await ws.aclose(1001, "server shutting down")


async def _serve_client(
    hub: MonitorHub,
    ws: trio_websocket.WebSocketConnection,
    request: trio_websocket.WebSocketRequest,
    keepalive: float,
    stall_timeout: float,
) -> None:
    with hub.subscribe(name=f"websocket {request.remote}") as sub:
        logger.info("WebSocket client connected: %s (%d clients)", sub.name, hub.stats().clients)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_write, ws, sub, nursery.cancel_scope, stall_timeout)
            nursery.start_soon(_read, ws, sub, hub, nursery.cancel_scope)
            nursery.start_soon(_keepalive, sub, hub, keepalive)
            nursery.start_soon(_watch, sub, nursery.cancel_scope)
        logger.info("WebSocket client gone: %s (%s)", sub.name, sub.closed_reason or "closed")


async def _write(
    ws: trio_websocket.WebSocketConnection,
    sub: Subscriber,
    done: trio.CancelScope,
    stall_timeout: float,
) -> None:
    raw = _raw_stream(ws) is not None  # else a trio-websocket without them: the slow path
    try:
        while True:
            batch: Sequence[Any] = await (sub.take_frames_wait() if raw else sub.take_wait())
            with trio.move_on_after(stall_timeout) as stalled:
                if raw:
                    await _send_frames(ws, batch)
                else:
                    for message in batch:
                        await ws.send_message(message.text)
            if stalled.cancelled_caught:
                await _cut_off(ws, sub, stall_timeout)
                break
            # Events arrive in bursts (one per publisher write); letting the next ones gather
            # for a moment turns many small writes per client into one, for at most this much
            # added delay. Under light traffic the first event after a pause goes out at once.
            await trio.sleep(WRITE_INTERVAL)
    except SubscriberClosed as closed:
        with trio.move_on_after(CLOSE_GRACE):
            await ws.aclose(closed.code, closed.reason[:120])
    except trio_websocket.ConnectionClosed:
        pass
    done.cancel()


async def _cut_off(ws: trio_websocket.WebSocketConnection, sub: Subscriber, waited: float) -> None:
    """End a client whose socket took nothing for ``waited`` seconds: it reads nothing.
    (A client that reads, only slowly, is resynced instead; its writes still go through.)
    The write was abandoned half done, so no close frame may follow it: the socket is
    closed at once."""
    sub.cut_off(f"client not reading: a write waited more than {waited:g} s")
    raw = _raw_stream(ws)
    if raw is not None:
        with trio.CancelScope(shield=True):
            await raw[0].aclose()


async def _read(
    ws: trio_websocket.WebSocketConnection,
    sub: Subscriber,
    hub: MonitorHub,
    done: trio.CancelScope,
) -> None:
    try:
        while True:
            message = await ws.get_message()
            if message == "ping":
                sub.put(Outgoing.of({"type": "pong"}))
            elif message == "refresh":
                sub.put(Outgoing.of(hub.snapshot()))
            elif message == "pong":
                pass
            else:
                logger.debug("ignored WebSocket message from %s: %.80r", sub.name, message)
    except trio_websocket.ConnectionClosed:
        done.cancel()


async def _keepalive(sub: Subscriber, hub: MonitorHub, every: float) -> None:
    if not math.isfinite(every) or every <= 0:
        return
    while True:
        await trio.sleep(every)
        sub.put(Outgoing.of({"type": "ping", "timestamp": hub.wall_time()}))


async def _watch(sub: Subscriber, done: trio.CancelScope) -> None:
    # The writer closes a dropped client cleanly once its current batch is out; a client
    # that has stopped reading never lets that batch finish, so it is cut off after a grace.
    await sub.wait_closed()
    await trio.sleep(CLOSE_GRACE * 2)
    done.cancel()


def _raw_stream(ws: trio_websocket.WebSocketConnection) -> Any:
    stream = getattr(ws, "_stream", None)
    lock = getattr(ws, "_stream_lock", None)
    return (stream, lock) if stream is not None and lock is not None else None


async def _send_frames(ws: trio_websocket.WebSocketConnection, frames: Sequence[bytes]) -> None:
    """Send text frames in one write.

    Server frames are unmasked, so the hub encodes each event's frame once for all clients
    and this writes them straight to the connection's stream, under the connection's own
    send lock (the reader task sends pongs and close replies through the same lock).
    trio-websocket has no public call for several frames at once; without it, a hundred
    clients at thousands of events a second cost one system call per event per client.
    """
    stream, lock = _raw_stream(ws)
    data = b"".join(frames)
    # The lock is nearly always free: taking it without a trip through the scheduler
    # matters when a hundred writers each do this a hundred times a second.
    try:
        lock.acquire_nowait()
    except trio.WouldBlock:
        await lock.acquire()
    try:
        # Checked under the lock: once the peer's close frame has been answered, no data
        # frame may follow it.
        if ws.closed is not None:
            raise trio_websocket.ConnectionClosed(ws.closed)
        try:
            await stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise trio_websocket.ConnectionClosed(ws.closed) from None
    finally:
        lock.release()
