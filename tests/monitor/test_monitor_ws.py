"""The WebSocket server over real loopback sockets, driven by a trio-websocket client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    WebSocketConnection,
    wrap_client_stream,
)

from statemachine_engine.monitor import EVENTS_PATH, MonitorHub, WebSocketMonitor, serve_websocket
from statemachine_engine.transport import MachineEvent


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


@asynccontextmanager
async def client(
    server: WebSocketMonitor, path: str = EVENTS_PATH, **kwargs: Any
) -> AsyncIterator[WebSocketConnection]:
    """A trio-websocket client on a TCP stream this test owns: trio-websocket's client does
    not close its socket itself when the server ends the connection."""
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    async with stream, trio.open_nursery() as nursery:
        ws = await wrap_client_stream(nursery, stream, "127.0.0.1", path, **kwargs)
        try:
            yield ws
        finally:
            with trio.move_on_after(2):
                await ws.aclose()
            nursery.cancel_scope.cancel()


async def rejection(server: WebSocketMonitor, path: str, headers: list[Any]) -> int:
    """The HTTP status a handshake is rejected with (fails when it is accepted)."""
    statuses: list[int] = []
    try:
        async with client(server, path, extra_headers=headers):
            pass
    except* ConnectionRejected as group:
        statuses = [e.status_code for e in group.exceptions if isinstance(e, ConnectionRejected)]
    assert len(statuses) == 1, "the handshake was accepted"
    return statuses[0]


async def next_json(ws: Any) -> dict[str, Any]:
    return json.loads(await ws.get_message())


def activity(name: str, message: str, ts: float = 1.0) -> MachineEvent:
    return MachineEvent(name, "activity_log", {"message": message, "level": "info"}, ts)


async def test_snapshot_then_live_events() -> None:
    hub = MonitorHub()
    hub.publish(
        MachineEvent(
            "w", "machine_registered", {"current_state": "idle", "config_type": "worker"}, 1.0
        )
    )
    with trio.fail_after(10):
        async with running(hub) as server, client(server) as ws:
            snap = await next_json(ws)
            assert snap["type"] == "initial"
            assert snap["machines"] == [
                {
                    "machine_name": "w",
                    "current_state": "idle",
                    "config_type": "worker",
                    "last_activity": 1.0,
                }
            ]
            hub.publish(
                MachineEvent(
                    "w",
                    "state_change",
                    {"from_state": "idle", "to_state": "busy", "event_trigger": "go"},
                    2.0,
                    seq=3,
                )
            )
            live = await next_json(ws)
            assert live == {
                "machine_name": "w",
                "type": "state_change",
                "timestamp": 2.0,
                "seq": 3,
                "payload": {"from_state": "idle", "to_state": "busy", "event_trigger": "go"},
            }
            assert hub.stats().clients == 1


async def test_ping_pong_and_refresh() -> None:
    hub = MonitorHub()
    with trio.fail_after(10):
        async with running(hub) as server, client(server) as ws:
            assert (await next_json(ws))["machines"] == []
            await ws.send_message("ping")
            assert await next_json(ws) == {"type": "pong"}
            hub.publish(MachineEvent("m", "machine_registered", {"current_state": "a"}, 1.0))
            assert (await next_json(ws))["type"] == "machine_registered"
            await ws.send_message("refresh")
            snap = await next_json(ws)
            assert snap["type"] == "initial"
            assert [m["machine_name"] for m in snap["machines"]] == ["m"]
            # unknown text and binary frames are ignored; the connection carries on
            await ws.send_message("what")
            await ws.send_message(b"\x00\x01")
            await ws.send_message("pong")
            await ws.send_message("ping")
            assert await next_json(ws) == {"type": "pong"}


async def test_server_keepalive_ping() -> None:
    hub = MonitorHub(wall_time=lambda: 123.0)
    with trio.fail_after(10):
        async with running(hub, keepalive=0.05) as server, client(server) as ws:
            await next_json(ws)
            assert await next_json(ws) == {"type": "ping", "timestamp": 123.0}


async def test_invalid_lines_never_reach_clients() -> None:
    hub = MonitorHub()
    with trio.fail_after(10):
        async with running(hub) as server, client(server) as ws:
            await next_json(ws)
            assert not hub.feed_line(b'{"machine_name": "m", "type": 5}')
            assert not hub.feed_line(b"garbage")
            assert hub.feed_line(json.dumps(activity("m", "ok").to_dict()).encode())
            message = await next_json(ws)
            assert message["payload"]["message"] == "ok"
            assert hub.stats().invalid == 2


async def test_stalled_client_is_cut_off_without_delaying_a_live_one() -> None:
    hub = MonitorHub(capacity=50)
    big = "x" * 16_000
    with trio.fail_after(30):
        # message_queue_size=1 and never reading: its reader stops taking from the socket,
        # so the server's writes to it block once the kernel buffers are full.
        async with (
            running(hub, stall_timeout=0.3) as server,
            client(server, message_queue_size=1) as stalled,
            client(server) as live,
        ):
            assert stalled is not None
            await next_json(live)
            i = 0
            while not hub.stats().slow_disconnects:
                hub.publish(activity("m", f"{i}:{big}"))
                with trio.fail_after(2):
                    got = await next_json(live)
                assert got["payload"]["message"].startswith(f"{i}:")
                i += 1
            stats = hub.stats()
            assert stats.slow_disconnects == 1, stats
            assert stats.clients == 1
            # the live client keeps getting events after the stalled one was cut off
            hub.publish(activity("m", "after"))
            assert (await next_json(live))["payload"]["message"] == "after"


async def test_client_behind_after_a_burst_gets_a_snapshot_and_carries_on() -> None:
    hub = MonitorHub()  # a backlog of 1,000 events
    with trio.fail_after(20):
        async with running(hub) as server, client(server) as ws:
            await next_json(ws)
            # 2,500 events without a checkpoint between them: the server's writer cannot
            # send any, so the client falls a whole backlog behind, twice
            for i in range(2500):
                hub.publish(
                    MachineEvent("m", "state_change", {"from_state": "x", "to_state": f"s{i}"}, 1.0)
                )
            snap = await next_json(ws)
            assert snap["type"] == "initial"
            assert [(m["machine_name"], m["current_state"]) for m in snap["machines"]] == [
                ("m", "s2001")
            ]
            # then every event after the one the snapshot covers, in order
            for i in range(2002, 2500):
                assert (await next_json(ws))["payload"]["to_state"] == f"s{i}"
            hub.publish(activity("m", "after"))
            assert (await next_json(ws))["payload"]["message"] == "after"
            stats = hub.stats()
            assert (stats.clients, stats.resyncs, stats.slow_disconnects) == (1, 2, 0), stats


async def test_client_that_reads_during_a_burst_is_never_cut_off() -> None:
    hub = MonitorHub(capacity=100)
    seen = {"events": 0, "snapshots": 0}
    with trio.fail_after(30):
        async with running(hub) as server, client(server) as ws:
            await next_json(ws)

            async def read() -> None:
                while True:
                    message = await next_json(ws)
                    if message["type"] == "initial":
                        seen["snapshots"] += 1
                    elif message["payload"]["message"] == "end":
                        return
                    else:
                        seen["events"] += 1

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                # bursts of 300 (three backlogs) with one checkpoint after each
                for burst in range(20):
                    for i in range(300):
                        hub.publish(activity("m", f"{burst}.{i}"))
                    await trio.lowlevel.checkpoint()
                hub.publish(activity("m", "end"))
            stats = hub.stats()
            assert stats.slow_disconnects == 0, stats
            assert stats.clients == 1
            # what it did not get as events it got as snapshots (a resync before it had
            # taken the previous snapshot replaced that one)
            assert 1 <= seen["snapshots"] <= stats.resyncs, (seen, stats)
            assert seen["events"] + stats.dropped == 6000, (seen, stats)


@pytest.mark.parametrize(
    ("origin", "allowed", "ok"),
    [
        (None, (), True),
        ("http://localhost:3001", (), True),
        ("http://127.0.0.1:3001", (), True),
        ("http://evil.example", (), False),
        ("null", (), False),
        ("http://dash.example:8080", ("dash.example",), True),
        ("http://dash.example:8080", ("http://dash.example:8080",), True),
        ("http://anything.example", ("*",), True),
    ],
)
async def test_origin_check(origin: str | None, allowed: tuple[str, ...], ok: bool) -> None:
    hub = MonitorHub()
    headers = [(b"Origin", origin.encode())] if origin else []
    with trio.fail_after(10):
        async with running(hub, allowed_origins=allowed) as server:
            if ok:
                async with client(server, extra_headers=headers) as ws:
                    assert (await next_json(ws))["type"] == "initial"
            else:
                assert await rejection(server, EVENTS_PATH, headers) == 403
                assert hub.stats().clients == 0


async def test_unknown_path_is_rejected() -> None:
    hub = MonitorHub()
    with trio.fail_after(10):
        async with running(hub) as server:
            assert await rejection(server, "/ws", []) == 404
            async with client(server, path=EVENTS_PATH + "?token=1") as ws:
                assert (await next_json(ws))["type"] == "initial"


async def test_hub_shutdown_closes_clients_as_going_away() -> None:
    hub = MonitorHub()
    with trio.fail_after(10):
        async with running(hub) as server, client(server) as ws:
            await next_json(ws)
            hub.close()
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.get_message()
            assert closed.value.reason.code == 1001
            assert closed.value.reason.reason == "monitor shutting down"
