"""Plain HTTP on the WebSocket port: the published package's ``GET /health`` and
``GET /initial``, beside the WebSocket (which keeps working on the same port)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
from trio_websocket import open_websocket

from statemachine_engine.monitor import EVENTS_PATH, MonitorHub, WebSocketMonitor, serve_websocket
from statemachine_engine.transport import MachineEvent


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def running(hub: MonitorHub, **kwargs: Any) -> AsyncIterator[WebSocketMonitor]:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: serve_websocket(
                hub, "127.0.0.1", 0, task_status=task_status, **kwargs
            )
        )
        yield server
        nursery.cancel_scope.cancel()


async def get(
    server: WebSocketMonitor, path: str, *, host: str = "127.0.0.1", method: str = "GET"
) -> tuple[int, dict[str, str], Any]:
    """Status, headers and decoded JSON body of one plain HTTP request."""
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    async with stream:
        await stream.send_all(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while chunk := await stream.receive_some():
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body) if body else None


async def test_health_has_the_published_shape() -> None:
    clock = Clock()
    hub = MonitorHub(wall_time=clock)
    with trio.fail_after(10):
        async with running(hub, event_socket_active=lambda: True) as server:
            clock.now = 1003.5
            status, headers, body = await get(server, "/health")
            assert status == 200 and headers["content-type"] == "application/json"
            # before any event, the time since the server started
            assert body == {
                "status": "ok",
                "connections": 0,
                "last_event_time": 1000.0,
                "seconds_since_last_event": 3.5,
                "unix_socket_active": True,
            }
            hub.publish(MachineEvent("w", "activity_log", {"message": "hi"}, 1002.0))
            async with open_websocket("127.0.0.1", server.port, EVENTS_PATH, use_ssl=False) as ws:
                initial = json.loads(await ws.get_message())
                assert initial["type"] == "initial"
                _, _, body = await get(server, "/health")
                assert body["connections"] == 1
                assert body["last_event_time"] == 1002.0
                assert body["seconds_since_last_event"] == 1.5


async def test_initial_is_the_snapshot() -> None:
    clock = Clock()
    hub = MonitorHub(wall_time=clock)
    registered = {"current_state": "idle", "config_type": "worker"}
    hub.publish(MachineEvent("w", "machine_registered", registered, 1.0))
    with trio.fail_after(10):
        async with running(hub) as server:
            status, _, body = await get(server, "/initial")
    assert status == 200
    assert body == hub.snapshot()
    assert body["type"] == "initial" and body["timestamp"] == 1000.0
    assert [m["machine_name"] for m in body["machines"]] == ["w"]


async def test_other_requests() -> None:
    hub = MonitorHub()
    with trio.fail_after(10):
        async with running(hub) as server:
            assert (await get(server, "/nope"))[0] == 404
            status, headers, _ = await get(server, EVENTS_PATH)
            assert (status, headers["upgrade"]) == (426, "websocket")
            assert (await get(server, "/health", method="POST"))[0] == 405
            # a page on another host name (DNS rebinding) reads nothing
            assert (await get(server, "/initial", host="evil.example:3002"))[0] == 403
            status, headers, body = await get(server, "/health", method="HEAD")
            assert (status, body) == (200, None) and int(headers["content-length"]) > 0


async def test_serve_monitor_says_whether_it_listens_on_an_event_socket(tmp_path: Any) -> None:
    from statemachine_engine.monitor import serve_monitor

    for path, active in ((str(tmp_path / "ev.sock"), True), (None, False)):
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                served = await nursery.start(
                    lambda task_status, p=path: serve_monitor(
                        ui_port=None, websocket_port=0, event_socket_path=p, task_status=task_status
                    )
                )
                _, _, body = await get(served.websocket, "/health")
                assert body["unix_socket_active"] is active
                nursery.cancel_scope.cancel()
