"""The control socket under connection floods and odd lines, and the audit of a send whose
acknowledgement never came.

An adversarial pass found: no connection limit (20,000 idle connections exhausted the file
descriptors, and trio's accept loop then logged an EMFILE traceback every 0.1 s); no reply
at all to an empty line; and a ``send_event`` that timed out recorded ``failed`` although
the target may still handle it. (Real sockets and processes, waits under trio.fail_after.)
"""

from __future__ import annotations

import functools
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from statemachine_engine.actors import open_runtime
from statemachine_engine.config import load_config_text
from statemachine_engine.persistence import open_memory_store
from statemachine_engine.transport import ControlServer, Message, SocketTransport

REFUSED = {"ok": False, "error": "too many connections"}
OK = {"ok": True}


async def accept_all(message: Message) -> Mapping[str, Any] | None:
    await trio.lowlevel.checkpoint()
    return None


@asynccontextmanager
async def serving(path: Path, **options: Any) -> AsyncIterator[ControlServer]:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(ControlServer(str(path), accept_all, **options).run)
        yield server
        nursery.cancel_scope.cancel()


async def read_line(stream: trio.SocketStream) -> bytes:
    """One reply line (b"" when the server closed the connection without one)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = await stream.receive_some(4096)
        if not chunk:
            return data
        data += chunk
    return data


async def exchange(stream: trio.SocketStream, line: bytes) -> Any:
    """Send ``line``; the reply, decoded."""
    await stream.send_all(line)
    reply = await read_line(stream)
    assert reply.endswith(b"\n"), reply
    return json.loads(reply)


# -- a cap on connections --------------------------------------------------------------------


async def test_connections_over_the_cap_are_refused_politely_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ctl.sock"
    caplog.set_level(logging.INFO, logger="statemachine_engine.transport")
    with trio.fail_after(10):
        async with serving(path, max_connections=3) as server:
            held = [await trio.open_unix_socket(str(path)) for _ in range(3)]
            for stream in held:  # each is being served
                assert await exchange(stream, b'{"type": "go"}\n') == OK
            for _ in range(5):
                extra = await trio.open_unix_socket(str(path))
                # the one-line refusal, then the end of the connection
                assert json.loads(await read_line(extra)) == REFUSED
                assert await extra.receive_some(100) == b""
                await extra.aclose()
            assert server.statistics().connections_refused == 5
            # the held ones go on working
            assert await exchange(held[0], b'{"type": "go"}\n') == OK
            # one closed: a place is free again
            await held.pop().aclose()
            while server.statistics().connections_open > 2:
                await trio.sleep(0.01)
            fresh = await trio.open_unix_socket(str(path))
            assert await exchange(fresh, b'{"type": "go"}\n') == OK
            for stream in [*held, fresh]:
                await stream.aclose()
    refusals = [r for r in caplog.records if "too many connections" in r.getMessage()]
    assert len(refusals) == 1, [r.getMessage() for r in refusals]
    assert "limit 3" in refusals[0].getMessage()
    assert all(r.exc_info is None for r in caplog.records)


@pytest.mark.slow
async def test_an_idle_connection_flood_is_held_to_the_cap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ctl.sock"
    caplog.set_level(logging.INFO, logger="statemachine_engine.transport")
    with trio.fail_after(60):
        async with serving(path) as server:
            idle: list[trio.SocketStream] = []
            for _ in range(15):  # 1,500 idle connections, in batches the backlog holds
                idle += [await trio.open_unix_socket(str(path)) for _ in range(100)]
                stats = server.statistics()
                while stats.connections_open + stats.connections_refused < len(idle):
                    await trio.sleep(0.01)
                    stats = server.statistics()
            assert server.statistics().connections_open == 1000
            assert server.statistics().connections_refused == 500
            for stream in idle:
                await stream.aclose()
            while server.statistics().connections_open:
                await trio.sleep(0.01)
            # every valid event after the flood is handled
            fresh = await trio.open_unix_socket(str(path))
            for _ in range(100):
                assert await exchange(fresh, b'{"type": "go"}\n') == OK
            await fresh.aclose()
    assert len([r for r in caplog.records if "too many connections" in r.getMessage()]) == 1


def test_the_default_cap_is_a_thousand() -> None:
    server = ControlServer("/tmp/unused.sock", accept_all)
    assert server.max_connections == 1000
    with pytest.raises(ValueError, match="max_connections"):
        ControlServer("/tmp/unused.sock", accept_all, max_connections=0)


SERVER = textwrap.dedent(
    """
    import logging, resource, sys
    import trio
    from statemachine_engine.transport import ControlServer

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))

    async def route(message):
        return None

    async def main():
        async with trio.open_nursery() as nursery:
            await nursery.start(ControlServer(sys.argv[1], route).run)
            print("ready", flush=True)
            await trio.sleep_forever()

    trio.run(main)
    """
)


async def test_running_out_of_file_descriptors_pauses_accepting_without_a_traceback_flood(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ctl.sock"
    # the server may open 64 files (the cap of 1,000 connections is far above)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            run = functools.partial(
                trio.run_process,
                [sys.executable, "-c", SERVER, str(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                check=False,
            )
            server = await nursery.start(run)
            assert server.stdout is not None and server.stderr is not None
            ready = b""
            while not ready.endswith(b"\n"):
                ready += await server.stdout.receive_some(100)
            assert ready == b"ready\n"
            # more connections than the server has descriptors: the rest wait in the backlog
            clients = [await trio.open_unix_socket(str(path)) for _ in range(100)]
            log = b""
            while b"EMFILE" not in log and b"Too many open files" not in log:
                log += await server.stderr.receive_some(65536)
            for client in clients:
                await client.aclose()
            # once descriptors are free again, the server answers
            fresh = await trio.open_unix_socket(str(path))
            assert await exchange(fresh, b'{"type": "go"}\n') == OK
            await fresh.aclose()
            server.terminate()
            async for chunk in server.stderr:
                log += chunk
    text = log.decode()
    assert "Traceback" not in text
    pauses = [line for line in text.splitlines() if "open files" in line]
    assert 1 <= len(pauses) <= 2, pauses  # logged once (then thinned), not every 0.1 s
    assert "pausing" in pauses[0]


# -- an empty line -----------------------------------------------------------------------------


@pytest.mark.parametrize("line", [b"\n", b"   \n", b"\r\n"])
async def test_an_empty_line_gets_an_error_reply(tmp_path: Path, line: bytes) -> None:
    path = tmp_path / "ctl.sock"
    with trio.fail_after(10):
        async with serving(path):
            stream = await trio.open_unix_socket(str(path))
            assert await exchange(stream, line) == {"ok": False, "error": "empty line"}
            # the connection goes on
            assert await exchange(stream, b'{"type": "go"}\n') == OK
            await stream.aclose()


# -- a send whose acknowledgement never came ------------------------------------------------------

SENDER = """\
metadata: {machine_name: sender}
initial_state: sending
final_states: [done]
states: [sending, done]
events: [sent, error]
transitions:
  - {from: sending, to: done, event: sent}
  - {from: sending, to: done, event: error}
actions:
  sending:
    - {type: send_event, target_machine: sink, event_type: go, success: sent}
"""


async def silent_server(path: Path, *, task_status: trio.TaskStatus[None]) -> None:
    """Accepts connections and reads what comes, never acknowledging anything."""

    async def swallow(stream: trio.SocketStream) -> None:
        while await stream.receive_some(65536):
            pass

    listener = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    await listener.bind(str(path))
    listener.listen()
    await trio.serve_listeners(swallow, [trio.SocketListener(listener)], task_status=task_status)


async def sent_statuses(tmp_path: Path, *, listening: bool) -> list[str]:
    transport = SocketTransport(prefix=str(tmp_path / "ctl"), timeout=0.3)
    with trio.fail_after(10):
        async with open_memory_store() as store, trio.open_nursery() as nursery:
            if listening:
                await nursery.start(silent_server, tmp_path / "ctl-sink.sock")
            async with open_runtime(store=store, transport=transport) as runtime:
                ref = await runtime.spawn(load_config_text(SENDER), name="sender")
                await ref.wait_stopped()
            await transport.aclose()
            await store.flush()
            events = await store.events(target="sink")
            nursery.cancel_scope.cancel()
    return [row["status"] for row in events]


async def test_a_send_that_timed_out_is_recorded_unknown(tmp_path: Path) -> None:
    # the target read the message and may still act on it: not "failed"
    assert await sent_statuses(tmp_path, listening=True) == ["unknown"]


async def test_a_send_that_reached_nobody_is_still_recorded_failed(tmp_path: Path) -> None:
    assert await sent_statuses(tmp_path, listening=False) == ["failed"]


def test_unknown_is_an_event_status() -> None:
    from statemachine_engine.persistence import EVENT_STATUSES

    assert "unknown" in EVENT_STATUSES
