"""``statemachine run`` with machines in processes of their own: the manifest's
``process: true`` entries and ``start_fsm process: true`` go through the same launcher as a
machine's children (ready pipe, lifeline, log file), so a project killed with SIGKILL
orphans nothing and starts again cleanly.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import trio

from statemachine_engine.transport import send_to_socket

from .conftest import START_TIMEOUT, STATEMACHINE, Cluster, RuntimeProcess, pid_alive

pytestmark = pytest.mark.slow

SWITCH_YAML = """\
metadata: {name: Switch}
initial_state: waiting
states: [waiting, working, stopped]
events: [go, stop]
transitions:
  - {from: waiting, to: working, event: go}
  - {from: "*", to: stopped, event: stop}
"""

# Starts a child in its own process, then waits for the child's clean exit (on_done).
PARENT_YAML = """\
metadata: {name: Parent}
initial_state: starting
final_states: [child_finished, child_failed]
states: [starting, watching, child_finished, child_failed]
events: [success, child_done, error]
transitions:
  - {from: starting, to: watching, event: success}
  - {from: watching, to: child_finished, event: child_done}
  - {from: [starting, watching], to: child_failed, event: error}
actions:
  starting:
    - type: start_fsm
      yaml_path: quick.yaml
      machine_name: kid
      process: true
      on_done: child_done
"""

# Reaches its final state on its own, at once.
QUICK_YAML = """\
metadata: {name: Quick}
initial_state: start
final_states: [done]
states: [start, done]
events: [finish]
transitions:
  - {from: start, to: done, event: finish}
actions:
  start:
    - {type: log, message: "kid starting", success: finish}
"""


def manifest(cluster: Cluster, machines: str) -> Path:
    return cluster.write(
        "statemachine-project.yaml",
        f"name: proj\ndb: {cluster.db}\nmonitor: false\n"
        f"control_socket_prefix: {cluster.prefix}\nevent_socket_path: {cluster.event_socket}\n"
        f"machines:\n{machines}",
    )


async def run_project(cluster: Cluster, path: Path, label: str) -> RuntimeProcess:
    return await cluster.spawn([STATEMACHINE, "run", str(path)], label)


async def test_a_killed_project_orphans_no_process_machine_and_restarts_cleanly(
    cluster: Cluster,
) -> None:
    cluster.write("switch.yaml", SWITCH_YAML)
    path = manifest(
        cluster,
        "  - {config: switch.yaml, name: desk}\n"
        "  - {config: switch.yaml, name: worker, process: true}\n",
    )
    first = await run_project(cluster, path, "project")
    await cluster.events.wait_for("worker", "machine_registered", timeout=START_TIMEOUT)
    row = await cluster.wait_db("worker's registry row", lambda: cluster.registry("worker"))
    worker_pid = int(row["pid"])
    cluster.extra_pids.append(worker_pid)
    assert worker_pid != first.pid
    await cluster.events.wait_for("desk", "machine_registered")

    first.send_signal(signal.SIGKILL)  # no clean-up in the project at all
    assert await first.wait() == -signal.SIGKILL
    # the worker read end of file on its lifeline and stopped as on SIGTERM
    await cluster.events.wait_for("worker", "machine_terminated")
    await cluster.wait_db("the worker exited", lambda: not pid_alive(worker_pid))
    assert cluster.registry("worker") is None
    log = (cluster.root / "logs" / "worker.log").read_text()
    assert "the parent runtime is gone; stopping" in log

    mark = len(cluster.events.events)
    second = await run_project(cluster, path, "project.again")
    await cluster.events.wait_for("worker", "machine_registered", start=mark, timeout=START_TIMEOUT)
    await cluster.events.wait_for("desk", "machine_registered", start=mark)
    row = await cluster.wait_db(
        "the new worker's row",
        lambda: (r := cluster.registry("worker")) is not None and r["pid"] != worker_pid and r,
    )
    cluster.extra_pids.append(int(row["pid"]))
    # the worker at its own socket, the project's machine through the project's
    for socket, message in [
        ("worker", {"type": "go"}),
        ("proj", {"type": "go", "target": "desk"}),
    ]:
        ack = await trio.to_thread.run_sync(send_to_socket, cluster.control_socket(socket), message)
        assert ack == {"ok": True}
    await cluster.events.wait_state("worker", "working", start=mark)
    await cluster.events.wait_state("desk", "working", start=mark)

    second.send_signal(signal.SIGTERM)
    assert await second.wait() == 143
    assert not pid_alive(int(row["pid"]))
    assert cluster.registry("worker") is None
    assert "Traceback" not in second.output()


async def test_start_fsm_with_process_true_runs_in_a_project(cluster: Cluster) -> None:
    cluster.write("quick.yaml", QUICK_YAML)
    cluster.write("parent.yaml", PARENT_YAML)
    path = manifest(cluster, "  - {config: parent.yaml, name: parent}\n")
    project = await run_project(cluster, path, "project")

    registered = await cluster.events.wait_for("kid", "machine_registered", timeout=START_TIMEOUT)
    done = await cluster.events.wait_state("parent", "child_finished")
    assert done.payload["event_trigger"] == "child_done"
    await cluster.events.wait_for("kid", "machine_terminated", final_state="done")
    assert cluster.events.after(done) > cluster.events.after(registered)
    # the parent's only machine reached a final state: the project ends by itself
    assert await project.wait() == 0
    log = (cluster.root / "logs" / "kid.log").read_text()  # beside the manifest
    assert "start --finish--> done" in log
    assert "cannot start machines as processes" not in project.output()


async def test_a_process_machine_that_cannot_start_stops_the_project_with_its_reason(
    cluster: Cluster,
) -> None:
    cluster.write("switch.yaml", SWITCH_YAML)
    # the process machine is named as the project: its control socket is the project's own,
    # taken, so it exits before it is ready
    path = manifest(
        cluster,
        "  - {config: switch.yaml, name: desk}\n"
        "  - {config: switch.yaml, name: proj, process: true}\n",
    )
    project = await run_project(cluster, path, "project")
    assert await project.wait(timeout=START_TIMEOUT) == 1
    output = project.output()
    assert "statemachine run: machine proj did not start: it exited with code 1: " in output
    assert "control socket" in output and "a server is already running there" in output
    assert "Traceback" not in output
    # nothing is left behind: the project's own machine was stopped and deregistered
    assert cluster.registry("desk") is None
    assert cluster.registry("proj") is None


async def test_durable_machines_of_a_project_resume_after_sigkill(cluster: Cluster) -> None:
    """`durable: true` on a manifest entry: the machine in the project's process and the one
    in its own process both come back in their state when the project is started again."""
    cluster.write("switch.yaml", SWITCH_YAML)
    path = manifest(
        cluster,
        "  - {config: switch.yaml, name: desk, durable: true}\n"
        "  - {config: switch.yaml, name: worker, process: true, durable: true}\n",
    )
    first = await run_project(cluster, path, "project")
    await cluster.events.wait_for("worker", "machine_registered", timeout=START_TIMEOUT)
    await cluster.events.wait_for("desk", "machine_registered")
    control = cluster.control_socket("proj")
    for target, socket in (("desk", control), ("worker", cluster.control_socket("worker"))):
        ack = await trio.to_thread.run_sync(
            lambda t=target, s=socket: send_to_socket(s, {"type": "go", "target": t})
        )
        assert ack["ok"] is True
    await cluster.wait_db(
        "both checkpoints in 'working'",
        lambda: len(cluster.query("SELECT 1 FROM durable_machines WHERE state = 'working'")) == 2,
    )
    first.send_signal(signal.SIGKILL)
    await first.wait()
    await cluster.wait_db("the worker gone", lambda: cluster.registry("worker") is None)

    mark = len(cluster.events.events)
    second = await run_project(cluster, path, "project.again")
    for name in ("desk", "worker"):
        registered = await cluster.events.wait_for(
            name, "machine_registered", start=mark, timeout=START_TIMEOUT
        )
        assert registered.payload["current_state"] == "working"
    second.send_signal(signal.SIGTERM)
    await second.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_run_token_guards_the_monitor_s_reads(cluster: Cluster) -> None:
    import urllib.error
    import urllib.request

    cluster.write("switch.yaml", SWITCH_YAML)
    ui, ws = _free_port(), _free_port()
    path = cluster.write(
        "statemachine-project.yaml",
        f"name: proj\ndb: {cluster.db}\n"
        f"monitor: {{host: 127.0.0.1, ui_port: {ui}, websocket_port: {ws}}}\n"
        f"control_socket_prefix: {cluster.prefix}\n"
        f"event_socket_path: {cluster.sock_dir / 'monitor.sock'}\n"  # (its monitor listens)
        "machines:\n  - {config: switch.yaml, name: desk}\n",
    )
    project = await cluster.spawn([STATEMACHINE, "run", str(path), "--token", "s3cret"], "proj")
    await cluster.wait_db("the monitor's link", lambda: "?token=s3cret" in project.output())

    def get(headers: dict[str, str]) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{ui}/api/machines", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    assert await trio.to_thread.run_sync(get, {}) == 401
    assert await trio.to_thread.run_sync(get, {"Authorization": "Bearer s3cret"}) == 200
    project.send_signal(signal.SIGTERM)
    await project.wait()
