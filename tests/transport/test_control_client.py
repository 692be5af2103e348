"""Clients of the control socket: the blocking one-shot client, the persistent connection
and the socket Transport."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from statemachine_engine.errors import DeliveryError, TransportError
from statemachine_engine.transport import (
    ControlConnection,
    ControlServer,
    Message,
    SocketTransport,
    Transport,
    control_socket_path,
    send_message,
    send_to_socket,
)


class Router:
    def __init__(self, known: tuple[str | None, ...] = (None, "worker")) -> None:
        self.known = known
        self.received: list[Message] = []

    async def __call__(self, message: Message) -> Mapping[str, Any] | None:
        await trio.lowlevel.checkpoint()
        if message.target not in self.known:
            raise KeyError(message.target)
        self.received.append(message)
        return None


@asynccontextmanager
async def serving(path: Path, router: Any) -> AsyncIterator[ControlServer]:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(ControlServer(str(path), router).run)
        yield server
        nursery.cancel_scope.cancel()


# -- blocking client ---------------------------------------------------------------------


async def test_blocking_client_sends_to_the_conventional_path(sock_dir: Path) -> None:
    prefix = str(sock_dir / "ctl")
    path = Path(control_socket_path("worker", prefix))
    assert path == sock_dir / "ctl-worker.sock"
    router = Router()
    with trio.fail_after(10):
        async with serving(path, router):
            ack = await trio.to_thread.run_sync(
                lambda: send_message(
                    "worker", {"type": "go", "payload": {"n": 1}}, prefix=prefix, timeout=5
                )
            )
    assert ack == {"ok": True}
    assert router.received == [Message(type="go", payload={"n": 1}, target="worker")]


async def test_blocking_client_prefers_the_registered_endpoint(sock_dir: Path) -> None:
    """A child machine lives in its parent's runtime: the registry names that socket."""
    path = sock_dir / "runtime.sock"
    router = Router(known=("child_001",))
    with trio.fail_after(10):
        async with serving(path, router):
            await trio.to_thread.run_sync(
                lambda: send_message(
                    "child_001",
                    Message(type="go", job_id="j1"),
                    endpoint=f"unix:{path}",
                    prefix=str(sock_dir / "unused"),
                )
            )
    assert router.received == [Message(type="go", payload={}, target="child_001", job_id="j1")]


def test_blocking_client_names_a_missing_socket(sock_dir: Path) -> None:
    prefix = str(sock_dir / "ctl")
    with pytest.raises(TransportError) as info:
        send_message("ghost", {"type": "go"}, prefix=prefix)
    path = f"{prefix}-ghost.sock"
    assert str(info.value) == (
        f"cannot reach 'ghost': no control socket at {path} (is its runtime running?)"
    )
    assert info.value.path == path and info.value.target == "ghost"


def test_blocking_client_names_a_stale_socket(sock_dir: Path) -> None:
    path = sock_dir / "ctl-dead.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()
    with pytest.raises(TransportError, match=r"connection refused at .*stale socket file"):
        send_message("dead", {"type": "go"}, prefix=str(sock_dir / "ctl"))


async def test_blocking_client_reports_the_peers_refusal(sock_dir: Path) -> None:
    path = sock_dir / "c.sock"
    with trio.fail_after(10):
        async with serving(path, Router()):
            with pytest.raises(DeliveryError) as info:
                await trio.to_thread.run_sync(
                    lambda: send_message("nobody", {"type": "go"}, endpoint=str(path))
                )
            assert str(info.value) == (
                f"'nobody' at {path} refused the message: unknown target 'nobody'"
            )
            with pytest.raises(DeliveryError, match="message has no 'type'"):
                await trio.to_thread.run_sync(lambda: send_to_socket(str(path), {"x": 1}))


async def test_blocking_client_times_out_when_the_peer_never_answers(sock_dir: Path) -> None:
    never = trio.Event()

    async def stuck(message: Message) -> None:
        await never.wait()

    path = sock_dir / "c.sock"
    with trio.fail_after(10):
        async with serving(path, stuck):
            with pytest.raises(TransportError, match=r"timed out after 0.2 s waiting for"):
                await trio.to_thread.run_sync(
                    lambda: send_to_socket(str(path), {"type": "go"}, timeout=0.2)
                )


def test_blocking_client_refuses_an_oversized_message(sock_dir: Path) -> None:
    with pytest.raises(TransportError, match="accepts at most 1 MiB"):
        send_to_socket(str(sock_dir / "c.sock"), {"type": "go", "payload": "x" * 2**20})


# -- persistent connection -----------------------------------------------------------------


async def test_persistent_connection_sends_ten_thousand_messages_in_order(sock_dir: Path) -> None:
    path = sock_dir / "c.sock"
    router = Router()
    with trio.fail_after(30):
        async with serving(path, router) as server:
            async with ControlConnection(str(path)) as conn:
                acks = await conn.send_many({"type": f"e{i}"} for i in range(10_000))
                for i in range(10_000, 10_100):
                    assert await conn.send(Message(type=f"e{i}")) == {"ok": True}
                assert conn.connects == 1
            assert server.statistics().connections_total == 1
    assert acks == [{"ok": True}] * 10_000
    assert [m.type for m in router.received] == [f"e{i}" for i in range(10_100)]


async def test_send_many_returns_refusals_without_raising(sock_dir: Path) -> None:
    path = sock_dir / "c.sock"
    with trio.fail_after(10):
        async with serving(path, Router()), ControlConnection(str(path)) as conn:
            acks = await conn.send_many(
                [{"type": "a"}, {"type": "b", "target": "nobody"}, {"type": "c"}]
            )
    assert acks == [{"ok": True}, {"ok": False, "error": "unknown target 'nobody'"}, {"ok": True}]


async def test_concurrent_senders_share_one_connection(sock_dir: Path) -> None:
    path = sock_dir / "c.sock"
    router = Router()
    with trio.fail_after(20):
        async with serving(path, router), ControlConnection(str(path), target="worker") as conn:

            async def sender(n: int) -> None:
                for i in range(50):
                    assert await conn.send({"type": f"s{n}_{i}"}) == {"ok": True}

            async with trio.open_nursery() as nursery:
                for n in range(20):
                    nursery.start_soon(sender, n)
            assert conn.connects == 1
    assert len(router.received) == 1000
    assert {m.target for m in router.received} == {"worker"}


async def test_a_cancelled_sender_leaves_the_connection_usable(sock_dir: Path) -> None:
    gate = trio.Event()
    seen: list[str] = []

    async def router(message: Message) -> Mapping[str, Any]:
        seen.append(message.type)
        if message.type == "slow":
            await gate.wait()
        return {"echo": message.type}

    path = sock_dir / "c.sock"
    with trio.fail_after(10):
        async with (
            serving(path, router),
            ControlConnection(str(path)) as conn,
            trio.open_nursery() as nursery,
        ):
            slow_scope = trio.CancelScope()

            async def slow() -> None:
                with slow_scope:
                    await conn.send({"type": "slow"})

            nursery.start_soon(slow)
            await trio.testing.wait_all_tasks_blocked()
            slow_scope.cancel()  # gives up waiting for its ack
            gate.set()
            # the late ack of "slow" must not be taken for the ack of "next"
            assert await conn.send({"type": "next"}) == {"ok": True, "echo": "next"}
    assert seen == ["slow", "next"]


async def test_a_sender_cancelled_before_it_sends_sends_nothing(sock_dir: Path) -> None:
    """``send`` is a checkpoint even though its write takes no schedule point."""
    router = Router()
    path = sock_dir / "c.sock"
    with trio.fail_after(10):
        async with serving(path, router), ControlConnection(str(path)) as conn:
            with trio.CancelScope() as scope:
                scope.cancel()
                await conn.send({"type": "never"})
            assert scope.cancelled_caught
            assert await conn.send({"type": "after"}) == {"ok": True}
    assert [m.type for m in router.received] == ["after"]


async def test_reconnects_once_when_the_server_restarted(sock_dir: Path) -> None:
    path = sock_dir / "c.sock"
    first, second = Router(), Router()
    with trio.fail_after(10):
        async with ControlConnection(str(path)) as conn:
            async with serving(path, first):
                await conn.send({"type": "one"})
            async with serving(path, second):
                await conn.send({"type": "two"})
            assert conn.connects == 2
    assert [m.type for m in first.received] == ["one"]
    assert [m.type for m in second.received] == ["two"]


async def test_a_connection_lost_after_the_write_is_not_retried(sock_dir: Path) -> None:
    """The peer may have acted on the message, so sending it again could duplicate it."""
    path = sock_dir / "c.sock"
    listener = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await listener.bind(str(path))
    listener.listen()
    received: list[bytes] = []

    async def hang_up_after_reading() -> None:
        for _ in range(2):
            conn, _ = await listener.accept()
            with conn:
                received.append(await conn.recv(4096))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(hang_up_after_reading)
            async with ControlConnection(str(path)) as conn:
                with pytest.raises(TransportError, match="broke before the acknowledgement"):
                    await conn.send({"type": "once"})
            nursery.cancel_scope.cancel()
    listener.close()
    assert received == [b'{"type":"once"}\n']


async def test_connection_errors_name_the_path(sock_dir: Path) -> None:
    path = sock_dir / "none.sock"
    async with ControlConnection(str(path), target="ghost") as conn:
        with pytest.raises(
            TransportError, match=f"cannot reach 'ghost': no control socket at {path}"
        ):
            await conn.send({"type": "go"})
        assert not conn.connected


# -- SocketTransport ---------------------------------------------------------------------


async def test_socket_transport_resolves_through_the_registry(sock_dir: Path) -> None:
    runtime_sock = sock_dir / "rt.sock"
    router = Router(known=("child_002",))
    lookups: list[str] = []

    async def resolver(target: str) -> str | None:
        lookups.append(target)
        return str(runtime_sock) if target == "child_002" else None

    transport = SocketTransport(resolver, prefix=str(sock_dir / "ctl"))
    assert isinstance(transport, Transport)
    with trio.fail_after(10):
        async with serving(runtime_sock, router):
            for i in range(3):
                await transport.deliver("child_002", Message(type="go", payload={"i": i}))
            with pytest.raises(TransportError, match=r"no control socket at .*ctl-other\.sock"):
                await transport.deliver("other", Message(type="go"))
            await transport.aclose()
    assert [(m.target, m.payload) for m in router.received] == [
        ("child_002", {"i": 0}),
        ("child_002", {"i": 1}),
        ("child_002", {"i": 2}),
    ]
    assert lookups == ["child_002", "other"]  # a path that took a message is remembered


async def test_socket_transport_reports_refusal_and_timeout(sock_dir: Path) -> None:
    never = trio.Event()

    async def router(message: Message) -> None:
        if message.target == "busy":
            await never.wait()
        if message.target == "nobody":
            raise KeyError("nobody")

    transport = SocketTransport(prefix=str(sock_dir / "ctl"), timeout=0.3)
    with trio.fail_after(10):
        async with (
            serving(sock_dir / "ctl-nobody.sock", router),
            serving(sock_dir / "ctl-busy.sock", router),
        ):
            with pytest.raises(DeliveryError, match="unknown target 'nobody'") as info:
                await transport.deliver("nobody", Message(type="go"))
            assert info.value.target == "nobody"
            with pytest.raises(
                TransportError, match=r"timed out after 0\.3 s delivering to 'busy'"
            ) as timed_out:
                await transport.deliver("busy", Message(type="go"))
            # the line was written: the sender must not take the timeout for a loss
            assert str(timed_out.value).endswith(
                "(no acknowledgement: if the message was already written, it may still arrive)"
            )
            await transport.aclose()
