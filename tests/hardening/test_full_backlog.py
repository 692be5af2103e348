"""The blocking socket clients honour their timeout when the server's listen backlog is full.

A Unix stream socket whose backlog is full makes ``connect`` fail at once with EAGAIN: the
clients gave up after milliseconds whatever ``--timeout`` said. They now retry until their
deadline. (Real sockets, wall clock: the bounds are generous.)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from statemachine_engine.errors import TransportError
from statemachine_engine.transport import MachineEvent, send_events, send_to_socket


@pytest.fixture
def full_listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A listening socket (backlog 0) that accepts nothing, its backlog filled."""
    path = str(tmp_path / "full.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(0)
    fillers: list[socket.socket] = []
    while True:
        filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        filler.setblocking(False)
        try:
            filler.connect(path)
        except BlockingIOError:
            filler.close()
            break
        fillers.append(filler)
        assert len(fillers) < 100, "the backlog never filled"
    yield path, server
    for filler in fillers:
        filler.close()
    server.close()


def test_send_event_waits_for_its_whole_timeout(full_listener: tuple[str, socket.socket]) -> None:
    path, _ = full_listener
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        send_to_socket(path, {"type": "go"}, timeout=1.0, target="worker")
    waited = time.monotonic() - started
    assert 0.95 <= waited < 5.0, waited  # it gave up after 0.16 s
    assert "timed out connecting" in str(caught.value)
    assert "backlog" in str(caught.value)


def test_the_event_writer_waits_too(full_listener: tuple[str, socket.socket]) -> None:
    path, _ = full_listener
    started = time.monotonic()
    with pytest.raises(TransportError, match="timed out connecting"):
        event = MachineEvent("m", "activity_log", {"message": "hi"}, 0.0)
        send_events([event], path, timeout=0.5)
    assert 0.45 <= time.monotonic() - started < 5.0


def test_delivered_once_the_server_catches_up(full_listener: tuple[str, socket.socket]) -> None:
    path, server = full_listener
    server.settimeout(5)

    def catch_up() -> None:
        time.sleep(0.3)  # a server busy for a moment, then accepting everything queued
        while True:
            conn, _ = server.accept()
            conn.settimeout(0.5)
            try:
                data = conn.recv(65536)
            except TimeoutError:
                data = b""
            if b'"type"' in data:
                conn.sendall(b'{"ok":true}\n')
                conn.close()
                return
            conn.close()

    thread = threading.Thread(target=catch_up, daemon=True)
    thread.start()
    assert send_to_socket(path, {"type": "go"}, timeout=5.0) == {"ok": True}
    thread.join(5)
