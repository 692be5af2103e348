"""``repeatable: true`` (or ``run_policy: repeat_per_tick``): an entry action runs again while
the machine stays idle in its state -- on a tick, or for a queue check when a job comes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio

from statemachine_engine.actors import Runtime, open_runtime
from statemachine_engine.config import MachineSpec
from statemachine_engine.persistence import open_memory_store
from statemachine_engine.transport import RecordingPublisher

SpecOf = Callable[[str], MachineSpec]


def marks(recorder: RecordingPublisher, story) -> list[tuple[float, str]]:
    return [(round(t, 3), what) for t, _, what in story(recorder) if "-->" not in what]


async def test_a_repeatable_action_runs_every_tick_until_a_transition(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: done, event: go}
actions:
  waiting:
    - {type: mark, label: once}
    - {type: mark, label: again, repeatable: true}
"""
        )
    )
    await trio.sleep(0.22)
    await ref.send("go")
    await ref.wait_state("done")
    await trio.sleep(1)  # nothing runs once it left the state
    assert marks(recorder, story) == [
        (0.0, "once"),
        (0.0, "again"),
        (0.05, "again"),
        (0.1, "again"),
        (0.15, "again"),
        (0.2, "again"),
    ]


async def test_run_policy_and_repeat_interval_and_the_state_timer(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: done, event: timeout(1)}
actions:
  waiting:
    - {type: mark, label: tick, run_policy: repeat_per_tick, repeat_interval: 0.4}
    - {type: mark, label: never again, repeatable: "false"}
"""
        )
    )
    await ref.wait_state("done")
    assert trio.current_time() == 1.0  # the timer still fires on time
    assert marks(recorder, story) == [
        (0.0, "tick"),
        (0.0, "never again"),
        (0.4, "tick"),
        (0.8, "tick"),
    ]


async def test_a_repeated_event_fires_its_transition(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: done, event: found}
actions:
  waiting:
    - {type: keep, value: x, repeatable: true, event: "{found_it}"}
"""
        ),
        context={"found_it": ""},
    )
    await trio.sleep(0.12)
    ref.context["found_it"] = "found"
    await ref.wait_state("done")
    assert trio.current_time() == pytest.approx(0.15)
    assert ref.context["kept"] == ["x", "x", "x", "x"]


async def test_a_repeatable_queue_check_takes_a_job_added_later_at_once(autojump_clock) -> None:
    from statemachine_engine.config import load_config_text

    config = load_config_text(
        """
initial_state: waiting
states: [waiting, working]
events: [new_job, no_jobs]
transitions:
  - {from: waiting, to: working, event: new_job}
actions:
  waiting:
    - {type: check_database_queue, wait: 0, repeatable: true}
"""
    )
    async with (
        open_memory_store(clock=trio.current_time) as store,
        open_runtime(store=store, wall_clock=trio.current_time) as runtime,
    ):
        ref = await runtime.spawn(config, name="worker")
        await trio.sleep(30)
        assert ref.state == "waiting"
        await store.add_job("j1", "task")
        await ref.wait_state("working")
        assert trio.current_time() == 30.0  # woken by the job, not by a poll
        assert ref.context["current_job"]["job_id"] == "j1"
        await runtime.stop()
