"""Action failures become events (point 8); a machine's own failure is supervised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing

from statemachine_engine.actors import Runtime, open_runtime
from statemachine_engine.actors._action_config import error_event
from statemachine_engine.config import MachineSpec, load_config_text
from statemachine_engine.errors import ActorStopped, ConfigError
from statemachine_engine.transport import MachineEvent, RecordingPublisher

SpecOf = Callable[[str], MachineSpec]


async def test_a_failing_action_returns_error_and_sets_last_error(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: working, event: go}
  - {from: working, to: failed, event: error}
actions:
  working:
    - {type: fail, message: disk full}
    - {type: mark, label: never}
  failed:
    - {type: mark, label: "failed: {last_error} ({last_error_action})"}
"""
        ),
        name="m",
        context={"job_id": "j1"},
    )
    await trio.sleep(1)
    await ref.send("go")
    await ref.wait_state("failed")
    await trio.testing.wait_all_tasks_blocked()
    message = "action 'fail' failed: RuntimeError: disk full"
    assert story(recorder) == [
        (1.0, "m", "waiting --go--> working"),
        (1.0, "m", f"!error: {message}"),
        (1.0, "m", "working --error--> failed"),
        (1.0, "m", f"failed: {message} (fail)"),
    ]
    (error,) = recorder.of_type("error")
    assert dict(error.payload) == {
        "error_message": message,
        "state": "working",
        "action": "fail",
        "job_id": "j1",
        "timestamp": 1.0,
    }
    assert ref.context["last_error"] == message
    assert ref.context["last_error_action"] == "fail"
    assert ref.statistics().errors == 1


@pytest.mark.parametrize(
    "action",
    ["{type: fail, error: broken}", "{type: fail, params: {error: broken}}"],
)
async def test_a_failing_action_returns_its_error_event(
    runtime: Runtime, spec: SpecOf, action: str
) -> None:
    ref = await runtime.spawn(
        spec(
            f"""
transitions:
  - {{from: waiting, to: generic, event: error}}
  - {{from: waiting, to: specific, event: broken}}
actions:
  waiting: [{action}]
"""
        )
    )
    await ref.wait_state("specific")


async def test_an_error_event_that_fires_nothing_lets_the_list_go_on(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story
) -> None:
    ref = await runtime.spawn(
        spec("actions:\n  waiting:\n    - {type: fail}\n    - {type: mark, label: after}\n"),
        name="m",
    )
    await trio.testing.wait_all_tasks_blocked()
    assert [what for _, _, what in story(recorder)] == [
        "!error: action 'fail' failed: RuntimeError: boom",
        "after",
    ]
    assert ref.status == "running"


async def test_a_failing_transition_action_records_the_error_and_enters_the_target(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - from: waiting
    to: next
    event: go
    actions: [{type: fail, message: oops}, {type: mark, label: still runs}]
  - {from: next, to: wrong, event: error}
"""
        ),
        name="m",
    )
    await ref.send("go")
    await trio.testing.wait_all_tasks_blocked()
    assert ref.state == "next"
    assert [what for _, _, what in story(recorder)] == [
        "waiting --go--> next",
        "!error: action 'fail' failed: RuntimeError: oops",
        "still runs",
    ]
    assert ref.context["last_error_action"] == "fail"


async def test_an_action_type_unknown_to_the_runtime_is_refused_at_spawn() -> None:
    spec = load_config_text("actions:\n  waiting: [{type: no_such_action}]\n", file="m.yaml")
    async with open_runtime() as rt:
        with pytest.raises(ConfigError, match="unknown action types no_such_action; known: "):
            await rt.spawn(spec)
        assert rt.machines == {}


# -- supervision ---------------------------------------------------------------------------


class BreaksOn(RecordingPublisher):
    """A publisher that raises for one machine's state changes (publishers promise never
    to raise; the runtime must survive one that does)."""

    def __init__(self, machine: str) -> None:
        super().__init__()
        self.machine = machine

    def publish(self, event: MachineEvent) -> None:
        if event.machine_name == self.machine and event.type == "state_change":
            raise RuntimeError("publisher broke")
        super().publish(event)


FLIP = """
transitions:
  - {from: waiting, to: other, event: go}
  - {from: other, to: waiting, event: go}
"""


async def test_a_publisher_that_raises_is_counted_and_stops_no_machine(
    autojump_clock,
) -> None:
    publisher = BreaksOn("bad")
    async with open_runtime(publisher=publisher, wall_clock=trio.current_time) as rt:
        good = await rt.spawn(load_config_text(FLIP), name="good")
        bad = await rt.spawn(load_config_text(FLIP), name="bad")
        await trio.sleep(1)
        await bad.send("go")
        await bad.wait_state("other")
        await good.send("go")
        await good.wait_state("other")
        assert bad.status == good.status == "running"
        assert rt.crashes == []
        assert rt.seam_failures["publisher"] >= 1
    events = [(e.machine_name, e.type) for e in publisher.events]
    assert ("good", "state_change") in events


async def test_a_crash_in_a_patched_method_is_supervised(
    runtime: Runtime, spec: SpecOf, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(self: object, message: Any) -> None:
        raise ValueError(f"bug while accepting {message.type}")

    good = await runtime.spawn(spec(FLIP), name="good")
    bad = await runtime.spawn(spec(FLIP), name="bad")
    actor = runtime.machines["bad"]
    monkeypatch.setattr(actor, "_accept", explode.__get__(actor))
    await bad.send("go")
    assert await bad.wait_stopped() == "crashed"
    assert [(name, str(exc)) for name, exc in runtime.crashes] == [
        ("bad", "bug while accepting go")
    ]
    await good.send("go")
    await good.wait_state("other")
    assert good.status == "running"


async def test_wait_state_raises_when_the_machine_crashes(
    runtime: Runtime, spec: SpecOf, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = await runtime.spawn(spec(FLIP), name="bad")
    actor = runtime.machines["bad"]

    def explode(message: Any) -> None:
        raise ValueError("bug")

    monkeypatch.setattr(actor, "_accept", explode)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(bad.send, "go")
        with pytest.raises(ActorStopped, match=r"crashed in state 'waiting'"):
            await bad.wait_state("other")


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"type": "x"}, "error"),
        ({"type": "x", "error": "boom"}, "boom"),
        ({"type": "x", "params": {"error": "boom"}}, "boom"),
        ({"type": "x", "error": "", "params": {"error": "boom"}}, "boom"),  # empty falls through
        ({"type": "x", "error": "top", "params": {"error": "boom"}}, "top"),
        ({"type": "x", "params": {"params": {"error": "deep"}}}, "error"),  # one level only
    ],
)
def test_the_error_event_is_the_error_key_at_the_top_else_under_params(
    config: dict[str, Any], expected: str
) -> None:
    assert error_event(config) == expected
