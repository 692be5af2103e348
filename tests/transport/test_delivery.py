"""deliver_event: one event from outside a runtime, to a machine's control socket (which
acknowledges it) or to the monitor's event socket; a failure is reported, never raised."""

from __future__ import annotations

from pathlib import Path

import trio

from statemachine_engine.transport import (
    ControlServer,
    Delivery,
    EventListener,
    MachineEvent,
    Message,
    deliver_event,
)


async def test_a_machine_acknowledges_the_event(sock_dir: Path) -> None:
    received: list[Message] = []

    async def route(message: Message) -> None:
        received.append(message)

    prefix = str(sock_dir / "ctl")
    async with trio.open_nursery() as nursery:
        await nursery.start(ControlServer(f"{prefix}-worker.sock", route).run)
        result = await trio.to_thread.run_sync(
            lambda: deliver_event(
                "worker", "go", {"n": 1}, source="cli", job_id="j1", prefix=prefix, timeout=5
            )
        )
        nursery.cancel_scope.cancel()
    assert result == Delivery(True, f"acknowledged by {prefix}-worker.sock")
    [message] = received
    assert (message.type, message.payload, message.target) == ("go", {"n": 1}, "worker")
    assert (message.source, message.job_id) == ("cli", "j1")


async def test_the_registered_endpoint_wins_over_the_convention(sock_dir: Path) -> None:
    received: list[Message] = []

    async def route(message: Message) -> None:
        received.append(message)

    path = str(sock_dir / "elsewhere.sock")
    async with trio.open_nursery() as nursery:
        await nursery.start(ControlServer(path, route).run)
        result = await trio.to_thread.run_sync(
            lambda: deliver_event(
                "worker", "go", source="cli", endpoint=path, prefix=str(sock_dir / "no")
            )
        )
        nursery.cancel_scope.cancel()
    assert result.delivered
    assert received[0].payload == {}


def test_no_runtime_listening_is_reported_not_raised(sock_dir: Path) -> None:
    delivered, note = deliver_event(
        "worker", "go", source="cli", prefix=str(sock_dir / "ctl"), timeout=1
    )
    assert not delivered
    assert "ctl-worker.sock" in note


async def test_target_ui_publishes_to_the_monitor(sock_dir: Path) -> None:
    seen: list[MachineEvent] = []
    arrived = trio.Event()

    async def handle(event: MachineEvent) -> None:
        seen.append(event)
        arrived.set()

    path = str(sock_dir / "events.sock")
    async with trio.open_nursery() as nursery:
        await nursery.start(EventListener(handle, path).run)
        result = await trio.to_thread.run_sync(
            lambda: deliver_event("ui", "note", 3, source="ops", event_socket_path=path)
        )
        with trio.fail_after(5):
            await arrived.wait()
        nursery.cancel_scope.cancel()
    assert result == Delivery(True, f"published to the monitor at {path}")
    [event] = seen
    assert (event.machine_name, event.type, event.payload) == ("ops", "note", {"value": 3})


def test_target_ui_without_a_monitor_is_reported(sock_dir: Path) -> None:
    delivered, note = deliver_event(
        "ui", "note", None, source="ops", event_socket_path=str(sock_dir / "none.sock")
    )
    assert not delivered and note
