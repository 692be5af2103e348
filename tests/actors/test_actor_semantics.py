"""Entry actions, run-to-completion, events arriving while actions run, re-entry, matching,
transition actions (semantics points 2, 3, 4, 5 and 9), in virtual time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio
import trio.testing

from statemachine_engine.actors import Runtime, open_runtime
from statemachine_engine.config import MachineSpec, load_config_text
from statemachine_engine.transport import RecordingPublisher

SpecOf = Callable[[str], MachineSpec]


async def test_entry_actions_run_in_order(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    await runtime.spawn(
        spec(
            """
actions:
  waiting:
    - {type: mark, label: one}
    - {type: wait, seconds: 1.5, label: two}
    - {type: mark, label: three}
"""
        ),
        name="m",
    )
    await trio.sleep(10)
    assert story(recorder) == [(0.0, "m", "one"), (1.5, "m", "two done"), (1.5, "m", "three")]


async def test_returned_event_that_fires_stops_the_rest_of_the_list(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: next, event: jump}
actions:
  waiting:
    - {type: mark, label: first, event: jump}
    - {type: mark, label: never}
  next:
    - {type: mark, label: "entered {current_state}"}
"""
        ),
        name="m",
    )
    await trio.testing.wait_all_tasks_blocked()
    assert story(recorder) == [
        (0.0, "m", "first"),
        (0.0, "m", "waiting --jump--> next"),
        (0.0, "m", "entered next"),
    ]


async def test_returned_event_that_fires_nothing_lets_the_list_go_on(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: next, event: jump}
actions:
  waiting:
    - {type: mark, label: first, event: unmatched}
    - {type: mark, label: second, event: jump}
"""
        ),
        name="m",
    )
    await trio.testing.wait_all_tasks_blocked()
    assert story(recorder) == [
        (0.0, "m", "first"),
        (0.0, "m", "second"),
        (0.0, "m", "waiting --jump--> next"),
    ]
    assert ref.statistics().action_events_ignored == 1


async def test_returned_event_is_handled_before_mailbox_events(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: a, event: go}
  - {from: a, to: b, event: internal}
  - {from: a, to: wrong, event: external}
  - {from: b, to: c, event: external}
actions:
  a: [{type: mark, label: in a, event: internal}]
"""
        ),
        name="m",
    )
    ref.send_nowait("go")
    ref.send_nowait("external")  # already in the mailbox when a's action returns
    await trio.testing.wait_all_tasks_blocked()
    assert story(recorder) == [
        (0.0, "m", "waiting --go--> a"),
        (0.0, "m", "in a"),
        (0.0, "m", "a --internal--> b"),
        (0.0, "m", "b --external--> c"),
    ]


async def test_an_event_that_fires_while_actions_run_cancels_them_first(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: interrupted, event: stop_now}
actions:
  waiting:
    - {type: wait, seconds: 10, label: long}
    - {type: mark, label: never}
  interrupted:
    - {type: mark, label: entered}
"""
        ),
        name="m",
    )
    await trio.sleep(4)
    await ref.send("stop_now")
    await ref.wait_state("interrupted")
    await trio.testing.wait_all_tasks_blocked()
    assert story(recorder) == [
        (4.0, "m", "long cancelled"),
        (4.0, "m", "waiting --stop_now--> interrupted"),
        (4.0, "m", "entered"),
    ]


async def test_an_event_that_fires_nothing_while_actions_run_is_held_until_idle(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: ready, event: prepared}
  - {from: ready, to: done, event: later}
  - {from: ready, to: other, event: second}
actions:
  waiting:
    - {type: wait, seconds: 3, label: prepare, event: prepared}
"""
        ),
        name="m",
    )
    await trio.sleep(1)
    await ref.send("later")
    await ref.send("second")
    await trio.testing.wait_all_tasks_blocked()
    waiting = ref.statistics()
    assert (waiting.state, waiting.held + waiting.mailbox_depth) == ("waiting", 2)
    await ref.wait_state("done")
    await trio.testing.wait_all_tasks_blocked()
    # held events are examined in arrival order in the state the machine is in once idle
    assert story(recorder) == [
        (3.0, "m", "prepare done"),
        (3.0, "m", "waiting --prepared--> ready"),
        (3.0, "m", "ready --later--> done"),
    ]
    assert ref.statistics().held == 0
    assert ref.statistics().events_dropped == 1  # 'second' fires nothing in 'done'


async def test_a_reply_that_arrives_before_the_asking_action_returns_is_not_lost(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    requester = spec(
        """
final_states: [done]
transitions:
  - {from: waiting, to: awaiting_reply, event: sent}
  - {from: awaiting_reply, to: done, event: reply}
actions:
  waiting:
    - {type: ask, to: responder, send: request, seconds: 2, event: sent}
"""
    )
    responder = spec(
        """
transitions:
  - {from: waiting, to: answering, event: request}
  - {from: answering, to: waiting, event: answered}
actions:
  answering:
    - {type: ask, to: "{event_data.source}", send: reply, event: answered}
"""
    )
    await runtime.spawn(responder, name="responder")
    ref = await runtime.spawn(requester, name="requester")
    assert await ref.wait_stopped() == "stopped"
    assert ref.state == "done"
    assert story(recorder, "requester") == [
        (0.0, "requester", "asked responder"),
        (2.0, "requester", "ask returns"),
        (2.0, "requester", "waiting --sent--> awaiting_reply"),
        (2.0, "requester", "awaiting_reply --reply--> done"),
        (2.0, "requester", "=terminated final in done"),
    ]
    assert (0.0, "responder", "asked requester") in story(recorder, "responder")


async def test_unhandled_events_in_an_idle_machine_are_dropped_and_counted(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: a, event: go}
  - {from: waiting, to: b, event: later}
"""
        ),
        name="m",
    )
    await ref.send("bogus")
    await ref.send("go")
    await ref.send("later")  # fires nothing in 'a': dropped, not kept for later
    await trio.testing.wait_all_tasks_blocked()
    assert story(recorder) == [(0.0, "m", "waiting --go--> a")]
    stats = ref.statistics()
    assert (stats.events_received, stats.events_dropped, stats.transitions) == (3, 2, 1)


async def test_self_loop_reruns_entry_actions(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: waiting, event: poke}
actions:
  waiting:
    - {type: mark, label: "entry"}
"""
        ),
        name="m",
    )
    await trio.sleep(1)
    await ref.send("poke")
    await trio.sleep(1)
    await ref.send("poke")
    await trio.testing.wait_all_tasks_blocked()
    assert story(recorder) == [
        (0.0, "m", "entry"),
        (1.0, "m", "waiting --poke--> waiting"),
        (1.0, "m", "entry"),
        (2.0, "m", "waiting --poke--> waiting"),
        (2.0, "m", "entry"),
    ]


async def test_polling_self_loop_through_an_action_event(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: waiting, event: no_jobs}
actions:
  waiting:
    - {type: wait, seconds: 5, label: poll, event: no_jobs}
"""
        ),
        name="m",
    )
    await trio.sleep(12)
    assert story(recorder) == [
        (5.0, "m", "poll done"),
        (5.0, "m", "waiting --no_jobs--> waiting"),
        (10.0, "m", "poll done"),
        (10.0, "m", "waiting --no_jobs--> waiting"),
    ]


async def test_specific_transitions_win_over_wildcards_in_the_actor(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: "*", to: anywhere, event: go}
  - {from: waiting, to: first, event: go}
  - {from: waiting, to: second, event: go}
  - {from: [first, x], to: waiting, event: back}
"""
        ),
        name="m",
    )
    for event in ("go", "back", "back", "go", "go"):
        await ref.send(event)
    await trio.testing.wait_all_tasks_blocked()
    assert [what for _, _, what in story(recorder)] == [
        "waiting --go--> first",
        "first --back--> waiting",
        "waiting --go--> first",
        "first --go--> anywhere",
    ]


async def test_transition_actions_run_between_leaving_and_entering(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - from: waiting
    to: next
    event: go
    actions:
      - {type: mark, label: "on the way from {current_state}", event: ignored}
      - {type: wait, seconds: 2, label: travel}
      - type: mark
        params: {label: "payload {event_data.payload.n}"}
actions:
  waiting: [{type: mark, label: waiting entry}]
  next: [{type: mark, label: next entry}]
"""
        ),
        name="m",
    )
    await ref.send("go", {"n": 7})
    await ref.wait_state("next")
    await trio.testing.wait_all_tasks_blocked()
    assert story(recorder) == [
        (0.0, "m", "waiting entry"),
        (0.0, "m", "waiting --go--> next"),
        (0.0, "m", "on the way from waiting"),
        (2.0, "m", "travel done"),
        (2.0, "m", "payload 7"),
        (2.0, "m", "next entry"),
    ]
    assert ref.statistics().action_events_ignored == 0  # transition actions' events ignored


async def test_events_arriving_during_transition_actions_are_handled_after_entry(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - from: waiting
    to: next
    event: go
    actions: [{type: wait, seconds: 2, label: travel}]
  - {from: next, to: after, event: poke}
  - {from: waiting, to: wrong, event: poke}
"""
        ),
        name="m",
    )
    await ref.send("go")
    await trio.sleep(1)
    await ref.send("poke")
    await ref.wait_state("after")
    assert story(recorder) == [
        (0.0, "m", "waiting --go--> next"),
        (2.0, "m", "travel done"),
        (2.0, "m", "next --poke--> after"),
    ]


async def test_busy_loop_yields_to_other_machines_and_is_reported_once(
    runtime: Runtime,
    spec: SpecOf,
    recorder: RecordingPublisher,
    monkeypatch,
    autojump_clock,
) -> None:
    monkeypatch.setattr("statemachine_engine.actors._crossing.BUSY_LOOP_THRESHOLD", 50)
    looper = await runtime.spawn(
        spec(
            """
initial_state: ping
transitions:
  - {from: ping, to: pong, event: p}
  - {from: pong, to: ping, event: q}
actions:
  ping: [{type: mark, label: ping, event: p}]
  pong: [{type: mark, label: pong, event: q}]
"""
        ),
        name="looper",
    )
    other = await runtime.spawn(
        spec("transitions:\n  - {from: waiting, to: moved, event: go}\n"), name="other"
    )
    await other.send("go")
    await other.wait_state("moved")
    assert looper.status == "running"
    while looper.statistics().transitions < 500:
        await trio.lowlevel.checkpoint()
    await looper.stop()
    reports = [e for e in recorder.of_type("activity_log") if e.machine_name == "looper"]
    assert len(reports) == 1
    assert dict(reports[0].payload) == {
        "message": "machine 'looper' fired 50 transitions in a row without waiting for an event"
        " or a timer (now in 'pong'); it still yields to others",
        "level": "warning",
        "timestamp": 0.0,
    }


async def test_held_events_are_examined_only_once_the_next_state_is_idle(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: b, event: ready}
  - {from: b, to: c, event: held_one}
actions:
  waiting: [{type: wait, seconds: 1, label: a work, event: ready}]
  b: [{type: wait, seconds: 2, label: b work}]
"""
        ),
        name="m",
    )
    await ref.send("held_one")  # fires nothing in 'waiting': held
    await ref.wait_state("c")
    # it fires from 'b', but only after b's entry actions have finished (it does not cancel
    # them as a fresh event would)
    assert story(recorder) == [
        (1.0, "m", "a work done"),
        (1.0, "m", "waiting --ready--> b"),
        (3.0, "m", "b work done"),
        (3.0, "m", "b --held_one--> c"),
    ]


async def test_a_machine_that_never_goes_idle_drops_the_oldest_held_events_and_takes_stop(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A polling loop is never idle, so events that fire nothing are never looked at again.
    They are held up to the mailbox's size, then the oldest go: its senders never wait for
    ever on a full mailbox, and a ``stop`` still gets through."""
    spec = load_config_text(
        """
initial_state: polling
final_states: [stopped]
transitions:
  - {from: polling, to: polling, event: no_jobs}
  - {from: "*", to: stopped, event: stop}
actions:
  polling:
    - {type: sleep, seconds: 0.01, success: no_jobs}
"""
    )
    async with open_runtime(publisher=RecordingPublisher(), mailbox_capacity=8) as runtime:
        ref = await runtime.spawn(spec, name="poller")
        with trio.fail_after(5):  # virtual: a sender stuck on a full mailbox fails here
            for i in range(40):
                await ref.send("bogus", {"n": i})
            await ref.send("stop")
            await ref.wait_stopped()
    assert ref.state == "stopped"
    stats = ref.statistics()
    assert stats.events_dropped == 40 - 8  # the last eight were still held at the end
    assert "event(s) dropped so far, the oldest first (latest 'bogus')" in caplog.text
