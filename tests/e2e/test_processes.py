"""``statemachine`` as real processes: control socket, restart after kill -9, signals,
command-line errors, and the published README's timeout demo.

Each runtime is a real process with a real SQLite file and real Unix sockets; what it does
is observed on the event socket (as a monitor sees it) and in the database.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import trio

from statemachine_engine.transport import send_to_socket

from .conftest import STATEMACHINE, STEP_TIMEOUT, Cluster, pid_alive

pytestmark = pytest.mark.slow

SWITCH_YAML = """\
metadata: {name: Switch}
initial_state: waiting
states: [waiting, working, stopped]
events: [go, done, stop]
transitions:
  - {from: waiting, to: working, event: go}
  - {from: working, to: waiting, event: done}
  - {from: "*", to: stopped, event: stop}
"""

# The README's examples/timeout_demo/config/timeout_worker.yaml, with shorter timeouts
# (README: timeout(5) in waiting, timeout(10) in processing, sleep 3 before retrying).
TIMEOUT_DEMO_YAML = """\
metadata: {name: Timeout Demo, machine_name: timeout_worker}
initial_state: initializing
states: [initializing, waiting, processing, timed_out, completed]
events: [initialized, start_work, work_done, retry, stop, "timeout(2)", "timeout(1)"]
transitions:
  - {from: initializing, to: waiting, event: initialized}
  # Wait for work with a 2-second timeout
  - {from: waiting, to: timed_out, event: timeout(2)}
  - {from: waiting, to: processing, event: start_work}
  # Process with a 1-second timeout
  - {from: processing, to: timed_out, event: timeout(1)}
  - {from: processing, to: completed, event: work_done}
  # Retry after timeout
  - {from: timed_out, to: waiting, event: retry}
  - {from: "*", to: completed, event: stop}
actions:
  initializing:
    - {type: log, message: "Timeout demo starting", success: initialized}
  timed_out:
    - {type: log, message: "TIMEOUT! Operation took too long", level: warning}
    - {type: bash, command: "sleep 0.2 && echo 'Retrying...'", success: retry}
"""

# A state whose bash starts a grandchild (sleep) and prints its pid, then waits for it.
BUSY_YAML = """\
metadata: {name: Busy}
initial_state: busy
states: [busy, done]
events: [job_done, finish]
transitions:
  - {from: busy, to: done, event: job_done}
  - {from: "*", to: done, event: finish}
actions:
  busy:
    - type: bash
      command: "sleep 300 & echo grandchild $!; wait"
      timeout: 600
"""


async def raw_send(path: str, data: bytes) -> bytes:
    """What ``echo ... | nc -U PATH`` does: connect, write, half-close, read until EOF."""
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with sock:
        await sock.connect(path)
        await sock.send(data)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := await sock.recv(4096):
            reply += chunk
    return reply


async def test_an_event_sent_through_the_control_socket_moves_the_machine(
    cluster: Cluster,
) -> None:
    config = cluster.write("switch.yaml", SWITCH_YAML)
    runtime = await cluster.start(config, "switch")
    path = cluster.control_socket("switch")
    assert os.stat(path).st_mode & 0o777 == 0o600

    # the blocking, trio-free client the command-line tools use
    ack = await trio.to_thread.run_sync(
        lambda: send_to_socket(path, {"type": "go", "payload": {"n": 1}})
    )
    assert ack == {"ok": True}
    change = await cluster.events.wait_state("switch", "working")
    assert change.payload["from_state"] == "waiting"
    assert change.payload["event_trigger"] == "go"
    # the registry row is committed by the store's writer soon after the announcement
    row = await cluster.wait_db("the registry row", lambda: cluster.registry("switch"))
    assert row["pid"] == runtime.pid
    assert row["endpoint"] == path

    await trio.to_thread.run_sync(lambda: send_to_socket(path, {"type": "stop"}))
    assert await runtime.wait() == 0
    await cluster.events.wait_for("switch", "machine_terminated", final_state="stopped")
    assert not os.path.exists(path)
    assert cluster.registry("switch") is None
    assert cluster.events.transitions("switch") == [
        ("waiting", "go", "working"),
        ("working", "stop", "stopped"),
    ]


async def test_a_runtime_killed_with_sigkill_restarts_under_the_same_name(
    cluster: Cluster,
) -> None:
    config = cluster.write("switch.yaml", SWITCH_YAML)
    first = await cluster.start(config, "phoenix")
    path = cluster.control_socket("phoenix")
    await cluster.wait_db("the registry row", lambda: cluster.registry("phoenix"))
    first.send_signal(signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL
    # what a killed runtime leaves behind: its socket file and its registry row
    assert os.path.exists(path)
    stale = cluster.registry("phoenix")
    assert stale is not None
    assert stale["pid"] == first.pid
    registered = len(cluster.events.find("phoenix", "machine_registered"))

    second = await cluster.start(config, "phoenix")
    assert len(cluster.events.find("phoenix", "machine_registered")) == registered + 1
    row = await cluster.wait_db(
        "the new registry row",
        lambda: (r := cluster.registry("phoenix")) is not None and r["pid"] == second.pid and r,
    )
    assert row["current_state"] == "waiting"
    ack = await trio.to_thread.run_sync(lambda: send_to_socket(path, {"type": "go"}))
    assert ack["ok"] is True
    await cluster.events.wait_state("phoenix", "working")
    assert "stale" in second.output()  # the replacement was logged, not silent

    await trio.to_thread.run_sync(lambda: send_to_socket(path, {"type": "stop"}))
    assert await second.wait() == 0
    assert cluster.registry("phoenix") is None


async def test_the_readme_timeout_demo_with_a_raw_stream_client(cluster: Cluster) -> None:
    config = cluster.write("config/timeout_worker.yaml", TIMEOUT_DEMO_YAML)
    runtime = await cluster.start(config, "timeout_worker")
    path = cluster.control_socket("timeout_worker")
    events = cluster.events

    # nobody sends anything: waiting --timeout(2)--> timed_out, then the retry loop
    entered = await events.wait_state("timeout_worker", "waiting", timeout=STEP_TIMEOUT)
    fired = await events.wait_state("timeout_worker", "timed_out", timeout=STEP_TIMEOUT)
    assert fired.payload["event_trigger"] == "timeout(2)"
    assert 2.0 <= fired.timestamp - entered.timestamp < 3.5
    retrying = await events.wait_for(
        "timeout_worker", "activity_log", start=events.after(fired), message="Retrying..."
    )
    back = await events.wait_state("timeout_worker", "waiting", start=events.after(retrying))
    assert back.payload["event_trigger"] == "retry"

    # echo '{"type":"start_work"}' | nc -U /tmp/statemachine-control-timeout_worker.sock
    reply = await raw_send(path, b'{"type":"start_work"}\n')
    assert json.loads(reply) == {"ok": True}
    started = await events.wait_state("timeout_worker", "processing", start=events.after(back))
    assert started.payload["event_trigger"] == "start_work"
    # no work_done: processing --timeout(1)--> timed_out, then back to waiting
    late = await events.wait_state("timeout_worker", "timed_out", start=events.after(started))
    assert late.payload["event_trigger"] == "timeout(1)"
    assert 1.0 <= late.timestamp - started.timestamp < 2.5
    await events.wait_state("timeout_worker", "waiting", start=events.after(late))

    # start_work then work_done on one connection: processing --work_done--> completed
    reply = await raw_send(path, b'{"type":"start_work"}\n{"type":"work_done"}\n')
    assert [json.loads(line) for line in reply.splitlines()] == [{"ok": True}, {"ok": True}]
    assert await runtime.wait() == 0
    assert events.transitions("timeout_worker")[-2:] == [
        ("waiting", "start_work", "processing"),
        ("processing", "work_done", "completed"),
    ]
    await events.wait_for("timeout_worker", "machine_terminated", final_state="completed")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
async def test_a_signal_stops_the_runtime_and_everything_it_started(
    cluster: Cluster, signum: int, code: int
) -> None:
    config = cluster.write("busy.yaml", BUSY_YAML)
    runtime = await cluster.start(config, "busy")
    line = await cluster.events.wait_for("busy", "activity_log", stream="stdout")
    grandchild = int(line.payload["message"].split()[-1])
    cluster.extra_pids.append(grandchild)
    assert pid_alive(grandchild)
    path = cluster.control_socket("busy")

    runtime.send_signal(signum)
    with trio.fail_after(5):  # the bound for a graceful shutdown
        assert await runtime.process.wait() == code
    assert not pid_alive(grandchild)
    assert not os.path.exists(path)
    assert cluster.registry("busy") is None
    terminated = await cluster.events.wait_for("busy", "machine_terminated")
    assert terminated.payload["final_state"] == "busy"
    assert "Traceback" not in runtime.output()


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STATEMACHINE, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


async def test_a_config_error_reports_every_problem_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(
        "initial_state: waiting\n"
        "transitions:\n"
        "  - {from: waiting, to: working}\n"  # no event
        "  - {from: working, event: done}\n"  # no target
        "actions:\n"
        "  working:\n"
        "    - {type: no_such_action}\n"
    )
    result = await trio.to_thread.run_sync(run_cli, tmp_path, bad.name)
    assert result.returncode == 1
    # validate's own findings: one rule set for the checker and the runtime
    assert "statemachine: 4 errors; nothing started" in result.stderr
    assert "broken.yaml:3:5: S000 error: required key is missing" in result.stderr
    assert "at $.transitions[0].event" in result.stderr
    assert "at $.transitions[1].to" in result.stderr
    assert "A001 error: unknown action type 'no_such_action'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()  # nothing was started

    missing = await trio.to_thread.run_sync(run_cli, tmp_path, str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1
    assert "nope.yaml" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [("{bad json", "--initial-context is not valid JSON"), ("[1, 2]", "must be a JSON object")],
)
async def test_a_bad_initial_context_exits_1_with_a_message(
    tmp_path: Path, value: str, expected: str
) -> None:
    config = tmp_path / "switch.yaml"
    config.write_text(SWITCH_YAML)
    result = await trio.to_thread.run_sync(
        run_cli, tmp_path, str(config), "--initial-context", value
    )
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
