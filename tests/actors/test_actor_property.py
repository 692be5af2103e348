"""Properties: the actor's trace equals a fold of the pure rules of ``fsm``.

* A machine without actions, fed external events, gives the fold of the step function.
* A machine whose entry actions return events and may block until released, fed events and
  releases, gives the fold of the disposition rules (``fsm.run_script``): held events, an
  action's event before the mailbox, ignored action events, the held queue's bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import trio
import trio.testing
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from statemachine_engine.actions import BaseAction
from statemachine_engine.actors import open_runtime
from statemachine_engine.config import ActionSpec, MachineSpec, Transition
from statemachine_engine.errors import ActorStopped, MailboxFull
from statemachine_engine.fsm import (
    RELEASE,
    Release,
    ScriptedAction,
    compile_spec,
    run_events,
    run_script,
)
from statemachine_engine.transport import RecordingPublisher

STATES = ["waiting", "a", "b", "c", "completed"]  # 'completed' is final by convention
EVENTS = ["e0", "e1", "e2", "e3"]


@st.composite
def specs(draw: st.DrawFn) -> MachineSpec:
    transitions = []
    for index in range(draw(st.integers(0, 12))):
        sources = draw(
            st.lists(st.sampled_from([*STATES, "*"]), min_size=1, max_size=3, unique=True)
        )
        transitions.append(
            Transition(
                from_=tuple(sources),
                to=draw(st.sampled_from(STATES)),
                event=draw(st.sampled_from(EVENTS)),
                index=index,
            )
        )
    final = frozenset(draw(st.sets(st.sampled_from(STATES[1:]), max_size=2)))
    return MachineSpec(initial_state="waiting", transitions=tuple(transitions), final_states=final)


def actor_trace(spec: MachineSpec, events: list[str]) -> list[tuple[str, str, str]]:
    recorder = RecordingPublisher()

    async def main() -> None:
        async with open_runtime(publisher=recorder, wall_clock=trio.current_time) as rt:
            ref = await rt.spawn(spec, name="m")
            for event in events:
                try:
                    await ref.send(event)
                except ActorStopped:
                    break
                await trio.testing.wait_all_tasks_blocked()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return [
        (e.payload["from_state"], e.payload["event_trigger"], e.payload["to_state"])
        for e in recorder.of_type("state_change")
    ]


@settings(max_examples=150, deadline=None)
@given(specs(), st.lists(st.sampled_from([*EVENTS, "unknown"]), max_size=25))
def test_actor_trace_equals_the_fold_of_the_step_function(
    spec: MachineSpec, events: list[str]
) -> None:
    assert actor_trace(spec, events) == run_events(compile_spec(spec), "waiting", events)


@settings(max_examples=60, deadline=None)
@given(specs(), st.lists(st.sampled_from(EVENTS), max_size=25))
def test_events_sent_in_one_burst_give_the_same_trace(spec: MachineSpec, events: list[str]) -> None:
    """Without waiting between sends the mailbox queues them; the order is kept."""
    recorder = RecordingPublisher()

    async def main() -> None:
        async with open_runtime(publisher=recorder) as rt:
            ref = await rt.spawn(spec, name="m")
            for event in events:
                try:
                    ref.send_nowait(event)
                except ActorStopped:
                    break
            await trio.testing.wait_all_tasks_blocked()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    trace = [
        (e.payload["from_state"], e.payload["event_trigger"], e.payload["to_state"])
        for e in recorder.of_type("state_change")
    ]
    assert trace == run_events(compile_spec(spec), "waiting", events)


# -- entry actions that return events and block until released --------------------------

CAPACITY = 3  # small, so that full mailboxes and the held queue's bound are reached


class EmitAction(BaseAction):
    """Returns its ``event`` without a checkpoint (nothing can interrupt it)."""

    async def execute(self, context: dict[str, Any]) -> str | None:
        return self.config.get("event")


class GateAction(BaseAction):
    """Waits until the test releases it (a checkpoint: an event that fires cancels it)."""

    async def execute(self, context: dict[str, Any]) -> str | None:
        await context["gate"].receive()
        return self.config.get("event")


SCRIPT_ACTIONS: dict[str, type[BaseAction]] = {"emit": EmitAction, "gate": GateAction}


@attrs.frozen
class Scenario:
    spec: MachineSpec
    actions: Mapping[str, Sequence[ScriptedAction]]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    base = draw(specs())
    scripted: dict[str, list[ScriptedAction]] = {}
    for state in STATES:
        scripted[state] = draw(
            st.lists(
                st.builds(
                    ScriptedAction,
                    event=st.sampled_from([None, *EVENTS, "unknown"]),
                    blocks=st.booleans(),
                ),
                max_size=3,
            )
        )
    actions = {
        state: tuple(
            ActionSpec(
                type="gate" if a.blocks else "emit",
                config={"type": "gate" if a.blocks else "emit", "event": a.event},
            )
            for a in listed
        )
        for state, listed in scripted.items()
        if listed
    }
    return Scenario(attrs.evolve(base, actions=actions), scripted)


def scripted_actor(
    spec: MachineSpec, inputs: list[str | Release]
) -> tuple[list[tuple[str, str, str]], int, int]:
    """The actor's trace, events dropped and action events ignored for ``inputs``."""
    recorder = RecordingPublisher()
    counters: list[int] = []

    async def main() -> None:
        release, gate = trio.open_memory_channel[None](0)
        async with open_runtime(
            publisher=recorder, actions=SCRIPT_ACTIONS, mailbox_capacity=CAPACITY
        ) as rt:
            ref = await rt.spawn(spec, name="m", context={"gate": gate})
            await trio.testing.wait_all_tasks_blocked()
            for item in inputs:
                try:
                    if isinstance(item, Release):
                        release.send_nowait(None)
                    else:
                        ref.send_nowait(item)
                except (trio.WouldBlock, MailboxFull):
                    pass  # nothing waits for a release; the mailbox is full
                except ActorStopped:
                    break
                await trio.testing.wait_all_tasks_blocked()
            stats = ref.statistics()
            counters.extend([stats.events_dropped, stats.action_events_ignored])

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    trace = [
        (e.payload["from_state"], e.payload["event_trigger"], e.payload["to_state"])
        for e in recorder.of_type("state_change")
    ]
    return trace, counters[0], counters[1]


@settings(max_examples=150, deadline=None)
@given(
    scenarios(),
    st.lists(st.sampled_from([*EVENTS, "unknown", RELEASE, RELEASE]), max_size=25),
)
def test_actor_with_actions_follows_the_fold_of_the_disposition_rules(
    scenario: Scenario, inputs: list[str | Release]
) -> None:
    table = compile_spec(scenario.spec)
    model = run_script(table, "waiting", scenario.actions, inputs, capacity=CAPACITY)
    assume(not model.busy_loop)  # a machine that never waits would never let the test go on
    trace, dropped, ignored = scripted_actor(scenario.spec, inputs)
    assert trace == list(model.trace)
    assert (dropped, ignored) == (model.dropped, model.ignored)
