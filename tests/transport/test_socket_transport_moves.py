"""SocketTransport remembers where a target took a message, and follows it when it moves."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from statemachine_engine.errors import DeliveryError, TransportError
from statemachine_engine.transport import ControlServer, Message, SocketTransport


class Runtime:
    """A control server hosting some machines; records what each received."""

    def __init__(self, path: Path, *machines: str) -> None:
        self.path = str(path)
        self.machines = set(machines)
        self.received: list[tuple[str | None, str]] = []
        self.server = ControlServer(self.path, self.route)
        self.scope = trio.CancelScope()

    def restart(self) -> None:
        self.scope = trio.CancelScope()

    async def route(self, message: Message) -> None:
        if message.target not in self.machines:
            raise KeyError(message.target)
        self.received.append((message.target, message.type))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with self.scope:
            await self.server.run(task_status=task_status)


async def test_a_target_that_moved_to_another_runtime_is_followed(sock_dir: Path) -> None:
    first = Runtime(sock_dir / "one.sock", "worker")
    second = Runtime(sock_dir / "two.sock")
    registry = {"worker": first.path}
    lookups: list[str] = []

    async def resolver(target: str) -> str | None:
        lookups.append(target)
        return registry.get(target)

    transport = SocketTransport(resolver, prefix=str(sock_dir / "ctl"))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(first.run)
            await nursery.start(second.run)
            await transport.deliver("worker", Message(type="a"))
            await transport.deliver("worker", Message(type="b"))
            assert lookups == ["worker"]  # remembered after the first delivery

            # the worker now runs in the second runtime; the first refuses it
            first.machines.clear()
            second.machines.add("worker")
            registry["worker"] = second.path
            await transport.deliver("worker", Message(type="c"))
            await transport.deliver("worker", Message(type="d"))
            assert lookups == ["worker", "worker"]

            # the second runtime is gone (socket removed); the worker is back in the first
            second.scope.cancel()
            await trio.testing.wait_all_tasks_blocked()
            first.machines.add("worker")
            registry["worker"] = first.path
            await transport.deliver("worker", Message(type="e"))
            await transport.aclose()
            nursery.cancel_scope.cancel()
    assert first.received == [("worker", "a"), ("worker", "b"), ("worker", "e")]
    assert second.received == [("worker", "c"), ("worker", "d")]


async def test_a_failed_delivery_forgets_the_path(sock_dir: Path) -> None:
    runtime = Runtime(sock_dir / "one.sock", "worker")
    lookups: list[str] = []

    async def resolver(target: str) -> str | None:
        lookups.append(target)
        return runtime.path

    transport = SocketTransport(resolver, prefix=str(sock_dir / "ctl"))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(runtime.run)
            await transport.deliver("worker", Message(type="a"))
            runtime.machines.clear()  # stopped, registry not yet updated
            with pytest.raises(DeliveryError, match="unknown target 'worker'"):
                await transport.deliver("worker", Message(type="b"))
            assert lookups == ["worker", "worker"]  # looked up again, same place: refused
            runtime.scope.cancel()
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(TransportError, match=r"no control socket at .*one\.sock"):
                await transport.deliver("worker", Message(type="c"))
            runtime.machines.add("worker")
            runtime.restart()
            await nursery.start(runtime.run)
            await transport.deliver("worker", Message(type="d"))
            await transport.aclose()
            nursery.cancel_scope.cancel()
    assert runtime.received == [("worker", "a"), ("worker", "d")]
