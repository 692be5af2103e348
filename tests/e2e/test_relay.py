"""``send_event`` between machines in different processes.

The published package's controller/worker pattern: the worker polls nothing; the
controller forwards the work it receives to the worker with ``send_event``, the worker
replies with its results. Delivery goes through the receiver's control socket, found in
the shared registry; every send is audited in ``machine_events``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio

from statemachine_engine.transport import send_to_socket

from .conftest import Cluster

pytestmark = pytest.mark.slow

CONTROLLER_YAML = """\
metadata: {name: Relay Controller, machine_name: controller}
initial_state: waiting
states: [waiting, relaying, waiting_for_worker, reporting, stopped]
events: [new_task, relayed, task_done, reported, stop]
transitions:
  - {from: waiting, to: relaying, event: new_task}
  - {from: relaying, to: waiting_for_worker, event: relayed}
  - {from: waiting_for_worker, to: reporting, event: task_done}
  - {from: reporting, to: waiting, event: reported}
  - {from: "*", to: stopped, event: stop}
actions:
  relaying:
    # forward the whole payload, as the README's relay pattern does
    - type: send_event
      target_machine: worker
      event_type: process_task
      payload: "{event_data.payload}"
      success: relayed
  reporting:
    # what arrived, as one JSON line on the activity log
    - type: bash
      command: "printf 'result %s\\\\n' {event_data.payload|json}"
      success: reported
"""

WORKER_YAML = """\
metadata: {name: Relay Worker, machine_name: worker}
initial_state: idle
states: [idle, working, replying, stopped]
events:
  process_task:
    context_map: {task: payload}
  job_done: {}
  event_sent: {}
  stop: {}
transitions:
  - {from: idle, to: working, event: process_task}
  - {from: working, to: replying, event: job_done}
  - {from: replying, to: idle, event: event_sent}
  - {from: "*", to: stopped, event: stop}
actions:
  working:
    - type: bash
      command: "echo processed {task.file}"
  replying:
    - type: send_event
      target_machine: controller
      event_type: task_done
      payload:
        task: "{task}"
        output: "{last_output}"
        worker: "{machine_name}"
        user_name: "{task.user.name}"
"""

SENDER_YAML = """\
metadata: {name: Sender}
initial_state: idle
states: [idle, sending, sending_nowhere, failed, stopped]
events: [ping, ping_ghost, event_sent, error, job_done, stop]
transitions:
  - {from: idle, to: sending, event: ping}
  - {from: sending, to: idle, event: event_sent}
  - {from: idle, to: sending_nowhere, event: ping_ghost}
  - {from: sending_nowhere, to: failed, event: error}
  - {from: failed, to: idle, event: job_done}
  - {from: "*", to: stopped, event: stop}
actions:
  sending:
    - type: send_event
      target_machine: receiver
      event_type: hello
      payload: {n: "{event_data.payload.n}", from: "{machine_name}"}
  sending_nowhere:
    - {type: send_event, target_machine: ghost, event_type: hello, payload: {n: 1}}
  failed:
    - {type: bash, command: "echo {last_error}"}
"""

RECEIVER_YAML = """\
metadata: {name: Receiver}
initial_state: idle
states: [idle, greeted, stopped]
events:
  hello:
    context_map: {greeting: payload}
  stop: {}
transitions:
  - {from: idle, to: greeted, event: hello}
  - {from: "*", to: stopped, event: stop}
actions:
  greeted:
    - {type: log, message: "greeting {greeting|json}"}
"""

# Nested dicts, a list, every JSON scalar, and strings a shell would act on.
TASK: dict[str, Any] = {
    "file": "a b.png",
    "user": {"id": 7, "name": "O'Brien $(touch PWNED) `touch PWNED`; touch PWNED"},
    "tags": ["x", "y", 3],
    "meta": {"deep": {"n": 1.5, "ok": True, "none": None}, "empty": {}},
}


def send(cluster: Cluster, machine: str, message: dict[str, Any]) -> dict[str, Any]:
    return send_to_socket(cluster.control_socket(machine), message)


async def test_controller_and_worker_relay_a_task_with_its_payload_intact(
    cluster: Cluster,
) -> None:
    controller = await cluster.start(
        cluster.write("controller.yaml", CONTROLLER_YAML), "controller"
    )
    worker = await cluster.start(cluster.write("worker.yaml", WORKER_YAML), "worker")
    # both registered: the controller finds the worker's socket through the registry
    await cluster.wait_db(
        "both registry rows", lambda: len(cluster.query("SELECT * FROM machine_state")) == 2
    )

    message = {"type": "new_task", "payload": TASK, "job_id": "job-1"}
    await trio.to_thread.run_sync(send, cluster, "controller", message)
    result = await cluster.events.wait_for("controller", "activity_log", stream="stdout")
    assert result.payload["message"].startswith("result ")
    arrived = json.loads(result.payload["message"].removeprefix("result "))
    assert arrived == {
        "task": TASK,
        "output": "processed a b.png",
        "worker": "worker",
        "user_name": TASK["user"]["name"],
    }
    await cluster.events.wait_state("controller", "waiting", start=cluster.events.after(result))
    assert cluster.events.transitions("worker") == [
        ("idle", "process_task", "working"),
        ("working", "job_done", "replying"),
        ("replying", "event_sent", "idle"),
    ]
    assert cluster.events.transitions("controller") == [
        ("waiting", "new_task", "relaying"),
        ("relaying", "relayed", "waiting_for_worker"),
        ("waiting_for_worker", "task_done", "reporting"),
        ("reporting", "reported", "waiting"),
    ]

    for name in ("controller", "worker"):
        await trio.to_thread.run_sync(send, cluster, name, {"type": "stop"})
    assert await controller.wait() == 0
    assert await worker.wait() == 0
    assert not (cluster.root / "PWNED").exists()
    rows = cluster.query(
        "SELECT source_machine, target_machine, event_type, job_id, payload, status "
        "FROM machine_events ORDER BY id"
    )
    assert [
        (r["source_machine"], r["target_machine"], r["event_type"], r["status"]) for r in rows
    ] == [
        ("controller", "worker", "process_task", "delivered"),
        ("worker", "controller", "task_done", "delivered"),
    ]
    assert json.loads(rows[0]["payload"]) == TASK
    assert json.loads(rows[1]["payload"])["task"] == TASK


async def test_send_event_reports_delivery_and_failure_and_records_both(
    cluster: Cluster,
) -> None:
    sender = await cluster.start(cluster.write("sender.yaml", SENDER_YAML), "sender")
    receiver = await cluster.start(cluster.write("receiver.yaml", RECEIVER_YAML), "receiver")
    await cluster.wait_db("the receiver's registry row", lambda: cluster.registry("receiver"))

    await trio.to_thread.run_sync(send, cluster, "sender", {"type": "ping", "payload": {"n": 7}})
    greeted = await cluster.events.wait_state("receiver", "greeted")
    assert greeted.payload["event_trigger"] == "hello"
    log = await cluster.events.wait_for("receiver", "activity_log")
    assert json.loads(log.payload["message"].removeprefix("greeting ")) == {
        "n": 7,
        "from": "sender",
    }
    back = await cluster.events.wait_state("sender", "idle")
    assert back.payload["event_trigger"] == "event_sent"  # sent only once acknowledged

    await trio.to_thread.run_sync(send, cluster, "sender", {"type": "ping_ghost"})
    failed = await cluster.events.wait_state("sender", "failed")
    assert failed.payload["from_state"] == "sending_nowhere"
    assert failed.payload["event_trigger"] == "error"
    said = await cluster.events.wait_for("sender", "activity_log", stream="stdout")
    assert "ghost" in said.payload["message"]
    await cluster.events.wait_state("sender", "idle", start=cluster.events.after(failed))

    for name in ("sender", "receiver"):
        await trio.to_thread.run_sync(send, cluster, name, {"type": "stop"})
    assert await sender.wait() == 0
    assert await receiver.wait() == 0
    rows = cluster.query(
        "SELECT source_machine, target_machine, event_type, payload, status "
        "FROM machine_events ORDER BY id"
    )
    assert [(r["source_machine"], r["target_machine"], r["status"]) for r in rows] == [
        ("sender", "receiver", "delivered"),
        ("sender", "ghost", "failed"),
    ]
    assert json.loads(rows[0]["payload"]) == {"n": 7, "from": "sender"}
    assert {r["event_type"] for r in rows} == {"hello"}
