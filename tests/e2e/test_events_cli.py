"""``statemachine-events`` with no monitor running: it listens on the event socket itself."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import trio

from statemachine_engine.transport import send_to_socket

from .conftest import STATEMACHINE, STATEMACHINE_EVENTS, Cluster, RuntimeProcess

pytestmark = pytest.mark.slow

SWITCH_YAML = """\
initial_state: waiting
states: [waiting, working, stopped]
events: [go, stop]
transitions:
  - {from: waiting, to: working, event: go}
  - {from: "*", to: stopped, event: stop}
"""

#: long enough for three runtimes to start, work and stop on a busy machine
DURATION = 8.0


@pytest.fixture
def no_monitor_port() -> Iterator[int]:
    """A loopback port where nothing accepts connections (bound, never listening), held
    for the test so no monitor can appear there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def run_machine(cluster: Cluster, config: Path, name: str, event_socket: str) -> None:
    """Start ``name`` publishing to ``event_socket``, move it, stop it; it must exit 0."""
    argv = [
        STATEMACHINE,
        str(config),
        "--machine-name",
        name,
        "--db",
        str(cluster.db),
        "--control-socket-prefix",
        cluster.prefix,
        "--event-socket-path",
        event_socket,
    ]
    runtime = await cluster.spawn(argv, name)
    await cluster.wait_db(f"{name}'s registry row", lambda: cluster.registry(name), timeout=20)
    path = cluster.control_socket(name)
    for event in ("go", "stop"):
        await trio.to_thread.run_sync(send_to_socket, path, {"type": event})
    assert await runtime.wait() == 0, runtime.output()


async def start_events(
    cluster: Cluster, label: str, port: int, *args: str
) -> tuple[RuntimeProcess, float]:
    argv = [STATEMACHINE_EVENTS, "--duration", str(DURATION), "--port", str(port), *args]
    return await cluster.spawn(argv, label), trio.current_time()


async def test_statemachine_events_prints_human_and_json_lines_and_filters(
    cluster: Cluster, no_monitor_port: int
) -> None:
    config = cluster.write("switch.yaml", SWITCH_YAML)
    json_socket = str(cluster.sock_dir / "j.sock")
    human_socket = str(cluster.sock_dir / "h.sock")
    as_json, json_started = await start_events(
        cluster,
        "events-json",
        no_monitor_port,
        "--format",
        "json",
        "--machine",
        "alpha",
        "--event-socket-path",
        json_socket,
    )
    as_human, _ = await start_events(
        cluster, "events-human", no_monitor_port, "--event-socket-path", human_socket
    )
    # A runtime that stops before any listener is up has nobody to hand its events to.
    for path in (json_socket, human_socket):
        await cluster.wait_db(f"a listener on {path}", partial(os.path.exists, path), 20)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_machine, cluster, config, "alpha", json_socket)
        nursery.start_soon(run_machine, cluster, config, "beta", json_socket)
        nursery.start_soon(run_machine, cluster, config, "gamma", human_socket)

    # --duration ends both on their own
    assert await as_json.wait(timeout=DURATION + 15) == 0
    assert trio.current_time() - json_started >= DURATION
    assert await as_human.wait(timeout=15) == 0

    lines = [json.loads(line) for line in as_json.output().splitlines()]
    assert {line["machine_name"] for line in lines} == {"alpha"}  # beta filtered out
    kinds = [line["type"] for line in lines]
    assert kinds[0] == "machine_registered"
    assert kinds[-1] == "machine_terminated"
    changes = [line["payload"] for line in lines if line["type"] == "state_change"]
    assert [(c["from_state"], c["event_trigger"], c["to_state"]) for c in changes] == [
        ("waiting", "go", "working"),
        ("working", "stop", "stopped"),
    ]
    assert all(isinstance(line["seq"], int) for line in lines)

    human = as_human.output()
    assert f"# no monitor at ws://127.0.0.1:{no_monitor_port}/ws/events; listening on " in human
    assert "gamma: registered (switch) in waiting" in human
    assert "gamma: waiting --go--> working" in human
    assert "gamma: working --stop--> stopped" in human
    assert "gamma: terminated in stopped" in human
    assert "# 4 events" in human
    assert "alpha" not in human
