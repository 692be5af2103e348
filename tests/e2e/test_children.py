"""``start_fsm`` with ``process: true``: a child machine in its own ``statemachine`` process.

The child gets the parent's database, socket paths and actions folder; it writes its output
to ``logs/<name>.log`` under the working directory; its exit is reported to the parent (a
clean one as the ``on_done`` event, any other as an ``error`` event with ``last_error``);
and it is killed when the parent's runtime stops.
"""

from __future__ import annotations

import contextlib
import json
import signal
from typing import Any

import pytest
import trio

from statemachine_engine.errors import TransportError
from statemachine_engine.transport import send_to_socket

from .conftest import Cluster, RuntimeProcess, pid_alive

pytestmark = pytest.mark.slow

# One parent for every case: which child to start comes from --initial-context.
PARENT_YAML = """\
metadata: {name: Parent}
initial_state: starting
states: [starting, watching, child_finished, child_failed, stopped]
events: [success, child_done, error, job_done, stop]
transitions:
  - {from: starting, to: watching, event: success}
  - {from: watching, to: child_finished, event: child_done}
  - {from: [starting, watching], to: child_failed, event: error}
  - {from: "*", to: stopped, event: stop}
actions:
  starting:
    - type: start_fsm
      yaml_path: "{child_config}"
      machine_name: "{child_name}"
      process: true
      on_done: child_done
      context_vars: [greeting]
      store_pid: true
  watching:
    - {type: log, message: "child pid {spawned_pids.0}"}
  child_failed:
    - {type: bash, command: "echo {last_error}"}
"""

# Waits for `finish` (sent to its own control socket), then greets and completes.
CHILD_YAML = """\
metadata: {name: Child}
initial_state: idle
states: [idle, greeting, crashing, completed]
final_states: [completed, crashing]  # (crashing: its action ends the process first)
events: [finish, crash_now, job_done]
transitions:
  - {from: idle, to: greeting, event: finish}
  - {from: greeting, to: completed, event: job_done}
  - {from: idle, to: crashing, event: crash_now}
actions:
  greeting:
    - {type: bash, command: "echo {greeting}"}
  crashing:
    - {type: crash}
"""

# A custom action found through --actions-dir, which the child must inherit.
CRASH_ACTION = """\
import os

from statemachine_engine.actions import BaseAction


class CrashAction(BaseAction):
    async def execute(self, context):
        os._exit(1)
"""


async def start_parent(cluster: Cluster, child: str, config: str = "child.yaml") -> RuntimeProcess:
    cluster.write("actions/crash_action.py", CRASH_ACTION)
    context = {"child_config": config, "child_name": child, "greeting": "hi from parent"}
    parent = await cluster.start(
        cluster.write("parent.yaml", PARENT_YAML),
        "parent",
        "--actions-dir",
        str(cluster.root / "actions"),
        "--initial-context",
        json.dumps(context),
    )
    cluster.write("child.yaml", CHILD_YAML)
    return parent


async def child_row(cluster: Cluster, child: str) -> dict[str, Any]:
    row: dict[str, Any] = await cluster.wait_db(
        f"{child}'s registry row", lambda: cluster.registry(child)
    )
    cluster.extra_pids.append(int(row["pid"]))
    return row


def send(cluster: Cluster, machine: str, event: str) -> None:
    send_to_socket(cluster.control_socket(machine), {"type": event})


async def test_a_child_process_shares_db_and_sockets_and_reports_its_clean_exit(
    cluster: Cluster,
) -> None:
    parent = await start_parent(cluster, "kid")
    watching = await cluster.events.wait_state("parent", "watching")
    # the child announces itself on the parent's event socket (its own connection, so
    # not necessarily before the parent's events)
    await cluster.events.wait_for("kid", "machine_registered")
    row = await child_row(cluster, "kid")
    assert row["pid"] != parent.pid
    assert pid_alive(row["pid"])
    # store_pid: the child's registry row is committed before the parent hears it is ready
    logged = await cluster.events.wait_for("parent", "activity_log")
    assert logged.payload["message"] == f"child pid {row['pid']}"
    assert row["endpoint"] == cluster.control_socket("kid")

    await trio.to_thread.run_sync(send, cluster, "kid", "finish")  # the parent's prefix
    said = await cluster.events.wait_for("kid", "activity_log", stream="stdout")
    assert said.payload["message"] == "hi from parent"  # context_vars reached the child
    done = await cluster.events.wait_state("parent", "child_finished")
    assert done.payload["event_trigger"] == "child_done"
    assert cluster.events.after(done) > cluster.events.after(watching)
    await cluster.events.wait_for("kid", "machine_terminated", final_state="completed")
    await cluster.wait_db("the child's row removed", lambda: cluster.registry("kid") is None)

    log = cluster.root / "logs" / "kid.log"  # relative to the parent's working directory
    assert "idle --finish--> greeting" in log.read_text()
    await trio.to_thread.run_sync(send, cluster, "parent", "stop")
    assert await parent.wait() == 0


async def test_a_crashing_child_process_is_an_error_event_for_its_parent(
    cluster: Cluster,
) -> None:
    parent = await start_parent(cluster, "doomed")
    await cluster.events.wait_state("parent", "watching")
    row = await child_row(cluster, "doomed")

    # the child's crash action comes from the parent's --actions-dir; it may take the
    # child down before the acknowledgement is written
    with contextlib.suppress(TransportError):
        await trio.to_thread.run_sync(send, cluster, "doomed", "crash_now")
    failed = await cluster.events.wait_state("parent", "child_failed")
    assert failed.payload["event_trigger"] == "error"
    error = await cluster.events.wait_for("parent", "error")
    assert "doomed exited with code 1" in error.payload["error_message"]
    said = await cluster.events.wait_for("parent", "activity_log", stream="stdout")
    assert "child process doomed exited with code 1" in said.payload["message"]  # last_error
    assert "logs/doomed.log" in said.payload["message"]
    assert not pid_alive(row["pid"])

    await trio.to_thread.run_sync(send, cluster, "parent", "stop")
    assert await parent.wait() == 0


async def test_a_child_process_that_cannot_start_says_why(cluster: Cluster) -> None:
    cluster.write("broken.yaml", CHILD_YAML.replace("to: greeting", "to: greting"))
    parent = await start_parent(cluster, "broken_kid", "broken.yaml")
    failed = await cluster.events.wait_state("parent", "child_failed")
    assert failed.payload["from_state"] == "starting"
    error = await cluster.events.wait_for("parent", "error")
    message = error.payload["error_message"]
    assert "child broken_kid did not start: it exited with code 1: " in message
    assert "transition to undeclared state 'greting'" in message  # the child's own report
    assert message.endswith("(see logs/broken_kid.log)")
    assert [e for e in cluster.events.events if e.machine_name == "broken_kid"] == []
    await trio.to_thread.run_sync(send, cluster, "parent", "stop")
    assert await parent.wait() == 0


async def test_child_processes_are_killed_when_the_parent_stops(cluster: Cluster) -> None:
    parent = await start_parent(cluster, "orphan")
    await cluster.events.wait_state("parent", "watching")
    row = await child_row(cluster, "orphan")
    assert pid_alive(row["pid"])

    parent.send_signal(signal.SIGTERM)
    with trio.fail_after(5):
        assert await parent.process.wait() == 143
    assert not pid_alive(row["pid"])
    # the child was stopped, not killed outright: it cleaned up after itself
    await cluster.events.wait_for("orphan", "machine_terminated")
    assert cluster.registry("orphan") is None
    assert cluster.registry("parent") is None


async def test_a_child_process_stops_itself_when_its_parent_is_killed(cluster: Cluster) -> None:
    parent = await start_parent(cluster, "survivor")
    await cluster.events.wait_state("parent", "watching")
    row = await child_row(cluster, "survivor")
    assert pid_alive(row["pid"])

    parent.send_signal(signal.SIGKILL)  # no clean-up in the parent at all
    with trio.fail_after(5):
        assert await parent.process.wait() == -signal.SIGKILL
    # the child read end of file on its lifeline pipe and shut down as on SIGTERM
    await cluster.events.wait_for("survivor", "machine_terminated")
    await cluster.wait_db("the child exited", lambda: not pid_alive(row["pid"]))
    assert cluster.registry("survivor") is None
    log = (cluster.root / "logs" / "survivor.log").read_text()
    assert "the parent runtime is gone; stopping" in log
