"""examples/controller_worker, run as its README says: two machines in two processes relay
work one way and results the other, forwarding payloads; watched on the event socket."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable

import pytest
from example_support import EventTap, Example

pytestmark = pytest.mark.slow

DIRECT_DONE = "Task t2 done by worker: DIRECT"
TASK = {"task_id": "t1", "text": "hello; rm -rf ~", "tags": ["a", 2], "priority": 1}


async def audited(ex: Example, event_type: str) -> list[dict[str, object]]:
    """The events of one type as ``statemachine-db list-events`` shows them, oldest first."""
    out = await ex.run("statemachine-db", "list-events", "--format", "json")
    rows = [row for row in json.loads(out.stdout) if row["event_type"] == event_type]
    return sorted(rows, key=lambda row: row["id"])


async def test_two_processes_relay_work_and_results(
    example: Callable[[str], Example], events: EventTap
) -> None:
    ex = example("controller_worker")
    controller = await ex.start(
        "statemachine", "config/controller.yaml", *ex.socket_flags(), log="controller"
    )
    worker = await ex.start("statemachine", "config/worker.yaml", *ex.socket_flags(), log="worker")
    await ex.wait_registered("controller", "worker")
    assert controller.pid != worker.pid

    # controller -> worker -> controller; the shell saw the text as one quoted word
    await ex.send("controller", "submit", TASK)
    await events.wait_activity("controller", "Task t1 done by worker: HELLO; RM -RF ~")
    await events.wait_state("worker", "idle")

    # work handed straight to the worker still reports back to the controller
    mark = len(events.events)
    await ex.send("worker", "work", {"task_id": "t2", "text": "direct"})
    await events.wait_activity("controller", DIRECT_DONE, after=mark)
    working = await events.wait_state("worker", "working", after=mark)
    await events.wait_state("worker", "idle", after=events.events.index(working))
    assert (
        events.transitions("worker")
        == [
            ("idle", "work", "working"),
            ("working", "job_done", "reporting"),
            ("reporting", "result_sent", "idle"),
        ]
        * 2
    )

    # shutdown: the controller stops the worker, then itself
    await ex.send("controller", "shutdown")
    assert await ex.wait_exit(worker) == 0
    assert await ex.wait_exit(controller) == 0
    await events.wait_terminated("controller")
    assert events.transitions("controller")[-2:] == [
        ("ready", "shutdown", "stopping"),
        ("stopping", "worker_stopped", "stopped"),
    ]
    assert "Controller stopped after 2 results" in events.activity("controller")
    assert ex.registry() == {}

    # the audit trail: the submitted payload was forwarded whole, types kept ...
    work = await audited(ex, "work")
    assert [(w["source_machine"], w["target_machine"], w["status"]) for w in work] == [
        ("controller", "worker", "delivered"),
        ("cli", "worker", "delivered"),  # statemachine-db send-event
    ]
    assert work[0]["payload"] == TASK
    # ... and the results carry fields picked out of it, and the command's output
    assert [r["payload"] for r in await audited(ex, "result")] == [
        {"task_id": "t1", "result": "HELLO; RM -RF ~", "worker": "worker"},
        {"task_id": "t2", "result": "DIRECT", "worker": "worker"},
    ]


async def test_dispatch_to_a_missing_worker_is_reported(
    example: Callable[[str], Example], events: EventTap
) -> None:
    ex = example("controller_worker")
    controller = await ex.start(
        "statemachine", "config/controller.yaml", *ex.socket_flags(), log="controller"
    )
    await ex.wait_registered("controller")
    await ex.send("controller", "submit", TASK)
    await events.wait_for(
        lambda e: (
            e.type == "activity_log"
            and str(e.payload.get("message", "")).startswith("Could not dispatch: ")
        ),
        what="the controller's dispatch error",
    )
    await events.wait_state("controller", "ready")
    assert events.transitions("controller") == [
        ("ready", "submit", "dispatching"),
        ("dispatching", "error", "ready"),
    ]
    [work] = await audited(ex, "work")
    assert work["status"] == "failed"
    # and it carries on: shutdown cannot reach the worker either, and still stops it
    await ex.send("controller", "shutdown")
    assert await ex.wait_exit(controller) == 0


async def test_project_manifest_runs_both(
    example: Callable[[str], Example], events: EventTap
) -> None:
    ex = example("controller_worker")
    project = await ex.start("statemachine", "run", "--no-monitor", *ex.socket_flags(), log="run")
    await ex.wait_registered("controller", "worker")
    pids = {r["machine_name"]: r["pid"] for r in ex.query("SELECT * FROM machine_state")}
    assert pids["controller"] == project.pid != pids["worker"]  # the worker: its own process

    await ex.send("controller", "submit", {"task_id": "m1", "text": "from the manifest"})
    await events.wait_activity("controller", "Task m1 done by worker: FROM THE MANIFEST")

    await ex.send("controller", "shutdown")
    assert await ex.wait_exit(project) == 0
    assert ex.registry() == {}
    assert not list(ex.sockets.glob("ctl-*"))
    assert "Worker stopped" in (ex.root / "logs" / "worker.log").read_text()


async def test_project_stops_both_processes_on_sigterm(
    example: Callable[[str], Example], events: EventTap
) -> None:
    ex = example("controller_worker")
    project = await ex.start("statemachine", "run", "--no-monitor", *ex.socket_flags(), log="run")
    await ex.wait_registered("controller", "worker")
    project.send_signal(signal.SIGTERM)
    assert await ex.wait_exit(project) == 143
    # both said goodbye on the event socket: the controller from this process, the
    # worker from its own, which the project stopped
    assert (await events.wait_terminated("controller")).payload["final_state"] == "ready"
    assert (await events.wait_terminated("worker")).payload["final_state"] == "idle"
    assert ex.registry() == {}
    assert sorted(p.name for p in ex.sockets.iterdir()) == ["events.sock"]  # ours
