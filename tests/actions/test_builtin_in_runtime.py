"""The built-in actions inside a real runtime, in virtual time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import trio
import trio.testing

from statemachine_engine.actors import open_runtime
from statemachine_engine.config import load_config
from statemachine_engine.persistence import open_memory_store
from statemachine_engine.transport import RecordingPublisher

PARENT = """
name: parent
initial_state: setup
states: [setup, spawning, waiting_child, draining, done]
transitions:
  - {from: setup, to: spawning, event: ready}
  - {from: spawning, to: waiting_child, event: spawned}
  - {from: waiting_child, to: draining, event: child_done}
  - from: draining
    to: draining
    event: item_popped
    actions: [{type: add_to_list, list_key: seen, value: "{item}"}]
  - {from: draining, to: done, event: list_empty}
actions:
  setup:
    - {type: set_context, key: job_id, value: job_001}
    - {type: add_to_list, value: a}
    - {type: add_to_list, params: {value: "{job_id}"}}
    - {type: log, message: "setting up {job_id}", level: success}
    - {type: sleep, duration: 0.5, success: ready}
  spawning:
    - type: start_fsm
      yaml_path: child.yaml
      machine_name: "child_{job_id}"
      context_vars: [job_id]
      initial_context: {steps: 3}
      on_done: child_done
      success: spawned
  draining:
    - {type: pop_from_list, store_as: item}
"""

CHILD = """
name: child
initial_state: working
states: [working, completed]
transitions:
  - {from: working, to: completed, event: wake_up}
actions:
  working:
    - {type: sleep, duration: 2}
  completed:
    - type: send_event
      target_machine: observer
      event_type: child_report
      payload: {job: "{job_id}", steps: "{steps}", where: "{nowhere}"}
      fire_and_forget: "true"
"""

OBSERVER = """
name: observer
initial_state: idle
states: [idle, got]
transitions:
  - {from: idle, to: got, event: child_report}
  - {from: got, to: idle, event: saved}
actions:
  got:
    - {type: set_context, key: report, value: "{event_data.payload}", success: saved}
"""

SENDER = """
name: sender
initial_state: start
states: [start, failed]
transitions:
  - {from: start, to: failed, event: send_failed}
actions:
  start:
    - {type: send_event, target: ghost, event_type: go, error: send_failed}
"""


def write(tmp_path: Path, **files: str) -> None:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)


async def test_parent_spawns_child_which_reports(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    write(tmp_path, parent=PARENT, child=CHILD, observer=OBSERVER)
    publisher = RecordingPublisher()
    async with open_runtime(publisher=publisher) as runtime:
        observer = await runtime.spawn(load_config(tmp_path / "observer.yaml"))
        start = trio.current_time()
        parent = await runtime.spawn(load_config(tmp_path / "parent.yaml"))
        await parent.wait_state("done")
        assert trio.current_time() - start == 2.5
        await trio.testing.wait_all_tasks_blocked()

        context: dict[str, Any] = parent.context
        assert context["spawned_machines"] == ["child_job_001"]
        assert context["items"] == []
        assert context["seen"] == ["a", "job_001"]
        assert context["event_data"]["payload"]["machine_name"] == "child_job_001"
        assert observer.context["report"] == {
            "job": "job_001",
            "steps": 3,
            "where": "{nowhere}",
        }
        assert observer.state == "idle"

    activity = [e for e in publisher.of_type("activity_log") if e.machine_name == "parent"]
    assert [(e.payload["message"], e.payload["level"]) for e in activity] == [
        ("setting up job_001", "success")
    ]


async def test_send_to_an_unknown_machine_is_the_error_event(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    write(tmp_path, sender=SENDER)
    async with open_runtime() as runtime:
        sender = await runtime.spawn(load_config(tmp_path / "sender.yaml"))
        await sender.wait_state("failed")
        assert sender.context["last_error"] == (
            "could not deliver go to ghost: no machine named 'ghost' is running in this runtime"
        )
        assert sender.context["last_error_action"] == "send_event"


FAILING = """
initial_state: working
final_states: [failed]
transitions:
  - {from: working, to: failed, event: error}
actions:
  working:
    - {type: set_context, key: job_id, value: job_9}
    - {type: bash, command: "echo 'disk full' >&2; exit 3"}
"""


async def test_a_failing_command_is_in_the_error_history_and_published(tmp_path: Path) -> None:
    """Failures an action handles itself (here a non-zero exit) are recorded like a raising
    action's: ``statemachine-db error-history`` and the monitor show them."""
    (tmp_path / "failing.yaml").write_text(FAILING)
    recorder = RecordingPublisher()
    async with open_memory_store() as store, open_runtime(store=store, publisher=recorder) as rt:
        ref = await rt.spawn(load_config(tmp_path / "failing.yaml"), name="w")
        with trio.fail_after(10):
            await ref.wait_stopped()
        await store.flush()
        [row] = await store.errors(machine="w")
    assert (row["action"], row["state"], row["job_id"]) == ("bash", "working", "job_9")
    assert row["message"] == (
        "Command failed (exit 3): disk full\nCommand: echo 'disk full' >&2; exit 3"
    )
    [published] = [e.payload for e in recorder.events if e.type == "error"]
    assert published["error_message"] == row["message"]


SPAWNER = """
initial_state: spawning
final_states: [spawned, refused]
transitions:
  - {from: spawning, to: spawned, event: success}
  - {from: spawning, to: refused, event: error}
actions:
  spawning:
    - {type: start_fsm, yaml_path: child.yaml, machine_name: "{child}"}
"""


async def test_a_child_may_not_take_the_name_of_a_machine_running_elsewhere(
    tmp_path: Path,
) -> None:
    """Another process's machine (a child process, another runtime) holds the name in the
    registry; a row left by a process that died does not."""
    (tmp_path / "spawner.yaml").write_text(SPAWNER)
    (tmp_path / "child.yaml").write_text("initial_state: idle\nfinal_states: [idle]\n")
    elsewhere, dead = os.getppid(), 2**22 + 1  # alive; beyond the kernel's pid range
    async with open_memory_store() as store, open_runtime(store=store) as rt:
        for name, pid in (("taken", elsewhere), ("stale", dead)):
            store.machine_started(
                name, current_state="idle", config_type="c", pid=pid, endpoint=None, timestamp=0
            )
        await store.flush()
        outcome = {}
        for child in ("taken", "stale"):
            ref = await rt.spawn(
                load_config(tmp_path / "spawner.yaml"), name=f"s_{child}", context={"child": child}
            )
            with trio.fail_after(10):
                await ref.wait_stopped()
            outcome[child] = (ref.state, rt.machines[ref.name].context.get("last_error"))
    assert outcome == {
        "taken": (
            "refused",
            f"could not start taken from child.yaml: a machine named 'taken' is already "
            f"running (process {elsewhere})",
        ),
        "stale": ("spawned", None),
    }
