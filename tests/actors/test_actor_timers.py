"""``timeout(N)`` deadlines under the mock clock: exact virtual times (semantics points 4, 6)."""

from __future__ import annotations

from collections.abc import Callable

import trio
import trio.testing

from statemachine_engine.actors import Runtime
from statemachine_engine.config import MachineSpec
from statemachine_engine.transport import RecordingPublisher

SpecOf = Callable[[str], MachineSpec]


def transitions(recorder: RecordingPublisher, story) -> list[tuple[float, str]]:
    return [(t, what) for t, _, what in story(recorder) if "-->" in what]


async def test_timeout_fires_at_exactly_entry_plus_n(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: working, event: go}
  - {from: working, to: timed_out, event: timeout(5)}
"""
        )
    )
    await trio.sleep(3)
    await ref.send("go")
    await ref.wait_state("timed_out")
    assert trio.current_time() == 8.0
    assert transitions(recorder, story) == [
        (3.0, "waiting --go--> working"),
        (8.0, "working --timeout(5)--> timed_out"),
    ]


async def test_decimal_timeout(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec("transitions:\n  - {from: waiting, to: x, event: timeout(2.5)}\n")
    )
    await ref.wait_state("x")
    assert trio.current_time() == 2.5


async def test_timeout_self_loop_restarts_and_reruns_entry_actions(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: waiting, event: timeout(2)}
actions:
  waiting: [{type: mark, label: check}]
"""
        ),
        name="m",
    )
    await trio.sleep(7)
    assert story(recorder) == [
        (0.0, "m", "check"),
        (2.0, "m", "waiting --timeout(2)--> waiting"),
        (2.0, "m", "check"),
        (4.0, "m", "waiting --timeout(2)--> waiting"),
        (4.0, "m", "check"),
        (6.0, "m", "waiting --timeout(2)--> waiting"),
        (6.0, "m", "check"),
    ]


async def test_a_self_loop_on_another_event_restarts_the_timer(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: waiting, event: ping}
  - {from: waiting, to: idle_too_long, event: timeout(5)}
"""
        )
    )
    await trio.sleep(3)
    await ref.send("ping")
    await ref.wait_state("idle_too_long")
    assert trio.current_time() == 8.0


async def test_events_that_fire_nothing_do_not_reset_the_timer(
    runtime: Runtime, spec: SpecOf, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec("transitions:\n  - {from: waiting, to: late, event: timeout(5)}\n")
    )
    await trio.sleep(3)
    await ref.send("unrelated")
    await ref.wait_state("late")
    assert trio.current_time() == 5.0


async def test_wildcard_timeout(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: a, event: go}
  - {from: "*", to: waiting, event: timeout(4)}
"""
        )
    )
    await trio.sleep(1)
    await ref.send("go")
    await trio.sleep(10)
    assert transitions(recorder, story) == [
        (1.0, "waiting --go--> a"),
        (5.0, "a --timeout(4)--> waiting"),
        (9.0, "waiting --timeout(4)--> waiting"),
    ]


async def test_leaving_the_state_disarms_its_timeout(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: working, event: go}
  - {from: working, to: timed_out, event: timeout(5)}
  - {from: working, to: finished, event: work_done}
"""
        )
    )
    await ref.send("go")
    await trio.sleep(4)
    await ref.send("work_done")
    await trio.sleep(100)
    assert transitions(recorder, story) == [
        (0.0, "waiting --go--> working"),
        (4.0, "working --work_done--> finished"),
    ]


async def test_only_the_earliest_of_several_timeouts_fires(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: long_path, event: timeout(30)}
  - {from: waiting, to: short_path, event: timeout(5)}
"""
        )
    )
    await trio.sleep(60)
    assert ref.state == "short_path"
    assert transitions(recorder, story) == [(5.0, "waiting --timeout(5)--> short_path")]


async def test_a_timeout_while_actions_run_cancels_them(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: gave_up, event: timeout(3)}
actions:
  waiting: [{type: wait, seconds: 10, label: slow}]
"""
        ),
        name="m",
    )
    await trio.sleep(20)
    assert story(recorder) == [
        (3.0, "m", "slow cancelled"),
        (3.0, "m", "waiting --timeout(3)--> gave_up"),
    ]


async def test_the_timer_counts_from_entry_not_from_the_end_of_the_actions(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: next, event: timeout(5)}
actions:
  waiting: [{type: wait, seconds: 2, label: short}]
"""
        ),
        name="m",
    )
    await trio.sleep(20)
    assert story(recorder) == [
        (2.0, "m", "short done"),
        (5.0, "m", "waiting --timeout(5)--> next"),
    ]


async def test_timeout_event_sent_from_outside_fires_like_any_event(
    runtime: Runtime, spec: SpecOf, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec("transitions:\n  - {from: waiting, to: x, event: timeout(50)}\n")
    )
    await ref.send("timeout(50)")
    await ref.wait_state("x")
    assert trio.current_time() == 0.0


async def test_final_state_arms_no_timer(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
final_states: [done]
transitions:
  - {from: waiting, to: done, event: go}
  - {from: "*", to: waiting, event: timeout(1)}
"""
        )
    )
    await ref.send("go")
    await ref.wait_stopped()
    await trio.sleep(5)
    assert transitions(recorder, story) == [(0.0, "waiting --go--> done")]


async def test_an_hour_of_timeouts_fires_each_on_time(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec("transitions:\n  - {from: waiting, to: waiting, event: timeout(1)}\n")
    )
    await trio.sleep(3600.5)
    assert ref.statistics().transitions == 3600
    times = [e.timestamp for e in recorder.of_type("state_change")]
    assert times == [float(i) for i in range(1, 3601)]
