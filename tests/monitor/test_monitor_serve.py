"""serve_monitor as a whole: fed by a runtime in-process, or by publishers on the event socket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import WebSocketConnection, wrap_client_stream

from statemachine_engine.actors import open_runtime
from statemachine_engine.config import load_config_text
from statemachine_engine.errors import StoreError
from statemachine_engine.monitor import MonitorHub, MonitorServer, embedded_monitor, serve_monitor
from statemachine_engine.monitor._registry import DatabaseRegistry
from statemachine_engine.persistence import open_store
from statemachine_engine.transport import (
    FanoutPublisher,
    MachineEvent,
    RecordingPublisher,
    SocketEventPublisher,
)

MACHINE = """\
initial_state: idle
states: [idle, busy, completed]
transitions:
  - {from: idle, to: busy, event: go}
  - {from: busy, to: completed, event: done}
"""


@asynccontextmanager
async def websocket(port: int) -> AsyncIterator[WebSocketConnection]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream, trio.open_nursery() as nursery:
        ws = await wrap_client_stream(nursery, stream, "127.0.0.1", "/ws/events")
        try:
            yield ws
        finally:
            with trio.move_on_after(2):
                await ws.aclose()
            nursery.cancel_scope.cancel()


async def next_of(ws: WebSocketConnection, kind: str) -> dict[str, Any]:
    while True:
        message = json.loads(await ws.get_message())
        if message["type"] == kind:
            return message


async def test_embedded_monitor_is_the_publisher_the_runtime_is_built_with(
    tmp_path: Path,
) -> None:
    (tmp_path / "job.yaml").write_text(MACHINE)
    spec = load_config_text(MACHINE, file=str(tmp_path / "job.yaml"))
    servers: list[MonitorServer] = []
    start = embedded_monitor(
        ui_port=0, websocket_port=0, configs=[tmp_path / "job.yaml"], announce=servers.append
    )
    with trio.fail_after(20):
        async with trio.open_nursery() as services:
            publisher = await start(None, None, services)
            [server] = servers  # announced once every part listens
            assert publisher is server.hub and server.websocket is not None
            async with open_runtime(publisher=publisher) as runtime:
                ref = await runtime.spawn(spec, name="job_001")
                await ref.wait_state("idle")
                async with websocket(server.websocket.port) as ws:
                    snapshot = await next_of(ws, "initial")
                    assert [
                        (m["machine_name"], m["current_state"], m["config_type"])
                        for m in snapshot["machines"]
                    ] == [("job_001", "idle", "job")]
                    await ref.send("go")
                    change = await next_of(ws, "state_change")
                    assert change["machine_name"] == "job_001"
                    assert change["payload"]["to_state"] == "busy"
                    await ref.send("done")
                    await next_of(ws, "machine_terminated")
                    assert server.hub.machines == {}
            services.cancel_scope.cancel()


async def test_embedded_monitor_publishes_next_to_the_event_socket_publisher() -> None:
    recording = RecordingPublisher()
    start = embedded_monitor(ui_port=None, websocket_port=None)
    with trio.fail_after(20):
        async with trio.open_nursery() as services:
            publisher = await start(None, recording, services)
            assert isinstance(publisher, FanoutPublisher)
            assert publisher.publishers[0] is recording
            event = MachineEvent("w", "machine_registered", {"current_state": "a"}, 1.0)
            publisher.publish(event)
            assert recording.events == [event]
            assert isinstance(publisher.publishers[1], MonitorHub)
            assert set(publisher.publishers[1].machines) == {"w"}
            services.cancel_scope.cancel()


async def test_events_from_the_event_socket_reach_clients_and_bad_lines_are_counted(
    short_dir: Path,
) -> None:
    path = str(short_dir / "events.sock")
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server: MonitorServer = await nursery.start(
                lambda task_status: serve_monitor(
                    ui_port=None, websocket_port=0, event_socket_path=path, task_status=task_status
                )
            )
            assert server.event_socket_path == path and server.websocket is not None
            async with websocket(server.websocket.port) as ws:
                await next_of(ws, "initial")
                publisher = SocketEventPublisher(path)
                await nursery.start(publisher.run)
                publisher.publish(
                    MachineEvent(
                        "w", "machine_registered", {"current_state": "a", "config_type": "w"}, 1.0
                    )
                )
                assert (await next_of(ws, "machine_registered"))["machine_name"] == "w"
                raw = await trio.open_unix_socket(path)
                async with raw:
                    await raw.send_all(b'not json\n{"type": "no machine"}\n')
                    await raw.send_all(
                        b'{"machine_name":"w","type":"activity_log","payload":{"message":"hi"}}\n'
                    )
                    message = await next_of(ws, "activity_log")
                assert message["payload"] == {"message": "hi"}
                stats = server.hub.stats()
                assert stats.invalid == 2
                assert stats.events_relayed == 2
            nursery.cancel_scope.cancel()
    assert not Path(path).exists()


async def registered_database(path: Path) -> None:
    async with open_store(path) as store:
        store.machine_started(
            "worker_001", current_state="waiting", config_type="worker", pid=123,
            endpoint=None, timestamp=5.0,
        )  # fmt: skip


async def test_database_registry_reads_without_writing(tmp_path: Path) -> None:
    db = tmp_path / "pipeline.db"
    await registered_database(db)
    before = db.stat().st_mtime_ns
    rows = await DatabaseRegistry(db).machines()
    assert [(r["machine_name"], r["current_state"], r["config_type"]) for r in rows] == [
        ("worker_001", "waiting", "worker")
    ]
    assert db.stat().st_mtime_ns == before
    with pytest.raises(StoreError, match=r"nope\.db"):
        await DatabaseRegistry(tmp_path / "nope.db").machines()
    assert not (tmp_path / "nope.db").exists()


async def test_snapshot_is_seeded_from_the_database(tmp_path: Path) -> None:
    db = tmp_path / "pipeline.db"
    await registered_database(db)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server: MonitorServer = await nursery.start(
                lambda task_status: serve_monitor(
                    ui_port=None, websocket_port=0, store=DatabaseRegistry(db),
                    task_status=task_status))  # fmt: skip
            assert server.websocket is not None
            async with websocket(server.websocket.port) as ws:
                snapshot = await next_of(ws, "initial")
            assert snapshot["machines"] == [
                {"machine_name": "worker_001", "current_state": "waiting", "config_type": "worker",
                 "last_activity": 5.0, "metadata": {}, "pid": 123}
            ]  # fmt: skip
            nursery.cancel_scope.cancel()


async def test_an_embedded_monitor_says_where_its_generated_write_token_is(
    capsys: pytest.CaptureFixture[str], token_folder: Path
) -> None:
    start = embedded_monitor(ui_port=0, websocket_port=0, announce=lambda server: None)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await start(None, None, nursery)
            nursery.cancel_scope.cancel()
    [line] = capsys.readouterr().out.splitlines()
    link, _, saved = line.removeprefix("monitor actions: ").partition(" (write token in ")
    token = link.partition("/#token=")[2]
    assert link.startswith("http://127.0.0.1:") and len(token) >= 32
    assert Path(saved.rstrip(")")).read_text().strip() == token
    assert saved.startswith(str(token_folder))
