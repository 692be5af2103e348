"""The control socket server: acks, bad input, backpressure, and socket file safety."""

from __future__ import annotations

import json
import os
import select
import socket
import stat
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from statemachine_engine.errors import ActorStopped, TransportError
from statemachine_engine.transport import MAX_LINE_BYTES, ControlServer, Message, _control_server
from statemachine_engine.transport._wire import LineReader, LineTooLong


class Router:
    """Accepts messages for ``known`` targets (None = the primary machine)."""

    def __init__(self, known: tuple[str | None, ...] = (None, "worker")) -> None:
        self.known = known
        self.received: list[Message] = []

    async def __call__(self, message: Message) -> Mapping[str, Any] | None:
        await trio.lowlevel.checkpoint()
        if message.target == "stopped":
            raise ActorStopped("stopped", "reached final state 'done'")
        if message.target not in self.known:
            raise KeyError(message.target)
        if message.type == "ping":
            return {"pong": True}
        if message.type == "explode":
            raise RuntimeError("bug in the router")
        self.received.append(message)
        return None


@asynccontextmanager
async def serving(path: Path, router: Any) -> AsyncIterator[ControlServer]:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(ControlServer(str(path), router).run)
        yield server
        nursery.cancel_scope.cancel()


class LineClient:
    """A raw connection that writes bytes and reads acknowledgement lines."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.reader = LineReader()
        self.lines: list[bytes] = []

    @classmethod
    async def connect(cls, path: Path) -> LineClient:
        return cls(await trio.open_unix_socket(str(path)))

    async def __aenter__(self) -> LineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stream.aclose()

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def ack(self) -> dict[str, Any]:
        while not self.lines:
            data = await self.stream.receive_some(65536)
            assert data, "server closed the connection"
            for line in self.reader.feed(data):
                assert not isinstance(line, LineTooLong)
                self.lines.append(line)
        result: dict[str, Any] = json.loads(self.lines.pop(0))
        return result


async def test_every_bad_line_gets_an_error_and_the_connection_goes_on(sock_dir: Path) -> None:
    router = Router()
    path = sock_dir / "c.sock"
    with trio.fail_after(10):
        async with serving(path, router), await LineClient.connect(path) as client:
            cases = [
                (b'{"type": "go"\n', "malformed JSON"),
                (b"[1, 2, 3]\n", "message must be a JSON object, got an array"),
                (b'{"payload": {"a": 1}}\n', "message has no 'type'"),
                (b'{"type": "go", "target": "nobody"}\n', "unknown target 'nobody'"),
                (b'{"type": "go", "target": "stopped"}\n', "machine 'stopped' is not running"),
                (b'{"type": "explode"}\n', "internal error while routing 'explode'"),
                (b'{"type": "go", "payload": "' + b"x" * MAX_LINE_BYTES + b'"}\n', "too long"),
                # json.loads raises a plain ValueError past 4,300 digits (it ended the runtime)
                (b'{"type": "go", "payload": {"n": ' + b"9" * 4301 + b"}}\n", "unusable JSON"),
                (b'{"type": "go", "payload": ' + b"[" * 100_000 + b"\n", "nested too deeply"),
                # relayed to the monitor, the browser's JSON.parse would reject these
                (b'{"type": "go", "payload": {"x": NaN}}\n', "NaN is not a JSON value"),
                (b'{"type": "go", "payload": [Infinity]}\n', "Infinity is not a JSON value"),
                (b'{"type": "go", "payload": {"x": -1e999}}\n', "too large for a JSON number"),
            ]
            for line, error in cases:
                await client.send(line)
                ack = await client.ack()
                assert ack["ok"] is False
                assert error in ack["error"]
                await client.send(b'{"type": "after", "payload": {"n": 1}}\n')
                assert await client.ack() == {"ok": True}
            await client.send(b'{"type": "ping"}\n')
            assert await client.ack() == {"ok": True, "pong": True}
    assert [m.type for m in router.received] == ["after"] * len(cases)
    assert router.received[0].payload == {"n": 1}
    assert not path.exists()


async def test_nc_style_client_half_closes_and_reads_the_ack(sock_dir: Path) -> None:
    """What ``echo '{"type":"go"}' | nc -U path`` does, and ``printf`` without a newline."""
    router = Router()
    path = sock_dir / "c.sock"
    with trio.fail_after(10):
        async with serving(path, router):
            for data in (b'{"type":"go"}\n', b'{"type":"no_newline"}'):

                def exchange(data: bytes = data) -> bytes:
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                        s.settimeout(5)
                        s.connect(str(path))
                        s.sendall(data)
                        s.shutdown(socket.SHUT_WR)
                        answer = b""
                        while chunk := s.recv(4096):
                            answer += chunk
                        return answer

                assert await trio.to_thread.run_sync(exchange) == b'{"ok":true}\n'
    assert [m.type for m in router.received] == ["go", "no_newline"]
    assert router.received[0].target is None  # no target: the runtime's primary machine


async def test_pipelined_lines_in_one_write_get_one_ack_each_in_order(sock_dir: Path) -> None:
    router = Router()
    path = sock_dir / "c.sock"
    with trio.fail_after(10):
        async with serving(path, router), await LineClient.connect(path) as client:
            await client.send(b"".join(b'{"type":"e%d"}\n' % i for i in range(100)) + b"\n\n")
            acks = [await client.ack() for _ in range(100)]
    assert acks == [{"ok": True}] * 100
    assert [m.type for m in router.received] == [f"e{i}" for i in range(100)]


async def test_a_sender_that_keeps_the_socket_full_does_not_starve_other_tasks(
    sock_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A router that never waits (the runtime's puts messages in mailboxes without
    waiting) answers without a schedule point; the server still yields once per read.

    Reads are made small so that there are about a hundred: after each yield the server
    and the ticker run in the same batch in random order, so one yield alone shows the
    ticker's progress only half of the time."""
    monkeypatch.setattr(_control_server, "_RECEIVE_BYTES", 1024)
    ticks = 0
    seen: list[int] = []

    async def router(message: Message) -> None:
        seen.append(ticks)

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await trio.lowlevel.checkpoint()
            ticks += 1

    path = sock_dir / "c.sock"
    n = 6_000  # about 100 KB: less than the socket buffer
    with trio.fail_after(20):
        async with (
            serving(path, router),
            await LineClient.connect(path) as client,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(ticker)
            await client.send(b"".join(b'{"type":"m%d"}\n' % i for i in range(n)))
            acks = [await client.ack() for _ in range(n)]
            nursery.cancel_scope.cancel()
    assert acks == [{"ok": True}] * n
    assert len(seen) == n
    assert len(set(seen)) > 10  # other tasks ran between the server's reads


async def test_many_concurrent_connections(sock_dir: Path) -> None:
    router = Router()
    path = sock_dir / "c.sock"
    with trio.fail_after(20):
        async with serving(path, router) as server:

            async def client(n: int) -> None:
                async with await LineClient.connect(path) as conn:
                    for i in range(20):
                        await conn.send(b'{"type":"c%d_%d"}\n' % (n, i))
                        assert await conn.ack() == {"ok": True}

            async with trio.open_nursery() as nursery:
                for n in range(50):
                    nursery.start_soon(client, n)
            stats = server.statistics()
            assert stats.connections_total == 50
            assert (stats.messages_accepted, stats.messages_refused) == (1000, 0)
            async with await LineClient.connect(path) as conn:
                await conn.send(b"not json\n")
                assert (await conn.ack())["ok"] is False
            # a snapshot: the counts taken then, not the server's running ones
            assert (stats.connections_total, stats.messages_refused) == (50, 0)
            later = server.statistics()
            assert (later.connections_total, later.messages_refused) == (51, 1)
    assert len(router.received) == 1000
    for n in range(50):  # each connection's messages stay in order
        mine = [m.type for m in router.received if m.type.startswith(f"c{n}_")]
        assert mine == [f"c{n}_{i}" for i in range(20)]


async def test_a_blocked_router_slows_the_sender_and_loses_nothing(sock_dir: Path) -> None:
    send, receive = trio.open_memory_channel[Message](0)  # a mailbox that is always full

    async def router(message: Message) -> None:
        await send.send(message)

    path = sock_dir / "c.sock"
    with trio.fail_after(10):
        async with serving(path, router), await LineClient.connect(path) as client:
            await client.send(b"".join(b'{"type":"m%d"}\n' % i for i in range(5)))
            await trio.testing.wait_all_tasks_blocked()
            # no ack while the router is blocked: nothing to read on the socket
            readable, _, _ = select.select([client.stream.socket.fileno()], [], [], 0)
            assert readable == []
            got = [(await receive.receive()).type for _ in range(5)]
            acks = [await client.ack() for _ in range(5)]
    assert got == [f"m{i}" for i in range(5)]
    assert acks == [{"ok": True}] * 5


async def test_socket_is_owner_only_and_removed_on_exit(sock_dir: Path) -> None:
    path = sock_dir / "c.sock"
    with trio.fail_after(10):
        async with serving(path, Router()):
            mode = os.stat(path).st_mode
            assert stat.S_ISSOCK(mode)
            assert stat.S_IMODE(mode) == 0o600
    assert not path.exists()


async def test_a_successors_socket_is_not_removed_on_exit(sock_dir: Path) -> None:
    path = sock_dir / "c.sock"
    with trio.fail_after(10):
        async with serving(path, Router()):
            os.unlink(path)
            other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            other.bind(str(path))
    try:
        assert stat.S_ISSOCK(os.stat(path).st_mode)
    finally:
        other.close()


@pytest.mark.parametrize("kind", [socket.SOCK_STREAM, socket.SOCK_DGRAM])
async def test_stale_socket_of_ours_is_replaced(sock_dir: Path, kind: socket.SocketKind) -> None:
    """A killed runtime leaves its socket file behind (the published package's are datagram
    sockets); nobody answers on it, so the next start replaces it."""
    path = sock_dir / "c.sock"
    dead = socket.socket(socket.AF_UNIX, kind)
    dead.bind(str(path))
    dead.close()
    router = Router()
    with trio.fail_after(10):
        async with serving(path, router), await LineClient.connect(path) as client:
            await client.send(b'{"type":"go"}\n')
            assert await client.ack() == {"ok": True}
    assert [m.type for m in router.received] == ["go"]


async def test_a_live_server_is_not_replaced(sock_dir: Path) -> None:
    path = sock_dir / "c.sock"
    with trio.fail_after(10):
        async with serving(path, Router()):
            with pytest.raises(TransportError, match="already running") as info:
                await ControlServer(str(path), Router()).run()
            assert info.value.path == str(path)
            # the first server still works
            async with await LineClient.connect(path) as client:
                await client.send(b'{"type":"go"}\n')
                assert await client.ack() == {"ok": True}


async def test_a_live_datagram_socket_is_not_replaced(sock_dir: Path) -> None:
    path = sock_dir / "c.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as live:
        live.bind(str(path))
        with pytest.raises(TransportError, match="already running"):
            await ControlServer(str(path), Router()).run()
        assert path.exists()


async def test_a_path_that_is_not_a_socket_is_refused(sock_dir: Path) -> None:
    path = sock_dir / "c.sock"
    path.write_text("precious")
    with pytest.raises(TransportError) as info:
        await ControlServer(str(path), Router()).run()
    assert str(info.value) == (
        f"control socket path {path} exists and is not a socket; refusing to replace it "
        "(remove it or choose another path)"
    )
    assert path.read_text() == "precious"


async def test_a_socket_of_another_user_is_refused(
    sock_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = sock_dir / "c.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()
    me = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: me + 4242)
    with pytest.raises(TransportError, match=f"belongs to another user \\(uid {me}\\)"):
        await ControlServer(str(path), Router()).run()
    assert path.exists()


async def test_unusable_paths_are_named(sock_dir: Path) -> None:
    long_path = str(sock_dir / ("x" * 120))
    with pytest.raises(TransportError, match="too long"):
        await ControlServer(long_path, Router()).run()
    missing = sock_dir / "no" / "such" / "c.sock"
    with pytest.raises(TransportError, match=f"directory {missing.parent} does not exist"):
        await ControlServer(str(missing), Router()).run()
