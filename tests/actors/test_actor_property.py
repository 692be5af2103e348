"""Property: a machine without actions, fed external events, produces exactly the trace of
the pure step function folded over the same events."""

from __future__ import annotations

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from statemachine_engine.actors import open_runtime
from statemachine_engine.config import MachineSpec, Transition
from statemachine_engine.errors import ActorStopped
from statemachine_engine.fsm import compile_spec, run_events
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
