"""Start, final states, stop, sending, statistics (semantics points 1 and 7)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import trio
import trio.testing

from statemachine_engine.actors import ActorStatistics, Runtime, open_runtime
from statemachine_engine.config import MachineSpec, load_config_text
from statemachine_engine.errors import ActorStopped, MailboxFull, StateMachineError, TransportError
from statemachine_engine.transport import Message, RecordingPublisher

SpecOf = Callable[[str], MachineSpec]


async def test_start_runs_initial_entry_actions_then_delivers_start(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
initial_state: booting
transitions:
  - {from: booting, to: running, event: start}
actions:
  booting:
    - {type: mark, label: boot 1}
    - {type: wait, seconds: 2, label: boot 2}
  running:
    - {type: mark, label: "running in {current_state}"}
"""
        ),
        name="m",
    )
    await ref.wait_state("running")
    await trio.testing.wait_all_tasks_blocked()
    assert recorder.events[0].type == "machine_registered"
    assert recorder.events[0].payload["current_state"] == "booting"
    assert story(recorder) == [
        (0.0, "m", "boot 1"),
        (2.0, "m", "boot 2 done"),
        (2.0, "m", "booting --start--> running"),
        (2.0, "m", "running in running"),
    ]


async def test_start_is_handled_before_events_sent_while_booting(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
initial_state: booting
transitions:
  - {from: booting, to: running, event: start}
  - {from: running, to: done, event: go}
actions:
  booting: [{type: wait, seconds: 1, label: boot}]
"""
        ),
        name="m",
    )
    await ref.send("go")  # fires nothing in 'booting': held until the machine is idle
    await ref.wait_state("done")
    assert story(recorder) == [
        (1.0, "m", "boot done"),
        (1.0, "m", "booting --start--> running"),
        (1.0, "m", "running --go--> done"),
    ]


async def test_without_a_start_transition_no_start_event_is_sent(
    runtime: Runtime, spec: SpecOf, autojump_clock
) -> None:
    ref = await runtime.spawn(spec("transitions:\n  - {from: '*', to: x, event: start}\n"))
    await trio.testing.wait_all_tasks_blocked()
    assert ref.state == "x"  # a wildcard start counts as using it
    plain = await runtime.spawn(spec("transitions:\n  - {from: a, to: b, event: go}\n"), name="p")
    await trio.testing.wait_all_tasks_blocked()
    assert plain.statistics().events_dropped == 0
    assert plain.statistics().events_received == 0


async def test_spawn_returns_a_ready_ref_named_after_the_spec(
    runtime: Runtime, spec: SpecOf
) -> None:
    ref = await runtime.spawn(spec("metadata: {machine_name: worker_7}\n"))
    assert ref.name == "worker_7"
    assert ref.status == "running"
    assert runtime.ref("worker_7") is ref
    plain = await runtime.spawn(load_config_text("name: x\n", file="dir/controller.yaml"))
    assert plain.name == "controller"


async def test_spawn_refuses_a_second_running_machine_of_the_same_name(
    runtime: Runtime, spec: SpecOf
) -> None:
    await runtime.spawn(spec("name: x\n"), name="dup")
    with pytest.raises(StateMachineError, match="a machine named 'dup' is already running"):
        await runtime.spawn(spec("name: x\n"), name="dup")


async def test_a_stopped_name_can_be_reused(runtime: Runtime, spec: SpecOf) -> None:
    first = await runtime.spawn(spec("name: x\n"), name="again")
    await first.stop()
    second = await runtime.spawn(spec("name: x\n"), name="again")
    assert second.status == "running" and runtime.ref("again") is second


async def test_final_state_runs_entry_actions_then_stops_ignoring_returned_events(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
final_states: [done]
transitions:
  - {from: waiting, to: done, event: go}
  - {from: done, to: waiting, event: again}
actions:
  done:
    - {type: mark, label: closing, event: again}
    - {type: wait, seconds: 3, label: cleanup}
"""
        ),
        name="m",
    )
    await ref.send("go")
    assert await ref.wait_stopped() == "stopped"
    assert ref.state == "done"
    assert trio.current_time() == 3.0
    assert story(recorder) == [
        (0.0, "m", "waiting --go--> done"),
        (0.0, "m", "closing"),
        (3.0, "m", "cleanup done"),
        (3.0, "m", "=terminated final in done"),
    ]
    terminated = recorder.of_type("machine_terminated")[0]
    assert dict(terminated.payload) == {
        "machine_name": "m",
        "config_type": "machine",
        "final_state": "done",
        "reason": "final",
        "timestamp": 3.0,
    }


async def test_conventional_final_states(runtime: Runtime, spec: SpecOf) -> None:
    for final in ("stopped", "shutdown", "completed"):
        ref = await runtime.spawn(
            spec(f"transitions:\n  - {{from: waiting, to: {final}, event: go}}\n"), name=final
        )
        await ref.send("go")
        assert await ref.wait_stopped() == "stopped"
        assert ref.state == final


async def test_initial_final_state_stops_at_once(runtime: Runtime, spec: SpecOf) -> None:
    ref = await runtime.spawn(spec("initial_state: done\nfinal_states: [done]\n"))
    assert await ref.wait_stopped() == "stopped"


async def test_wait_state(runtime: Runtime, spec: SpecOf, autojump_clock) -> None:
    ref = await runtime.spawn(
        spec(
            """
final_states: [done]
transitions:
  - {from: waiting, to: middle, event: timeout(1)}
  - {from: middle, to: done, event: timeout(1)}
"""
        )
    )
    await ref.wait_state("waiting")  # already there: returns at once
    assert trio.current_time() == 0.0
    await ref.wait_state("middle")
    assert trio.current_time() == 1.0
    await ref.wait_state("done")
    assert trio.current_time() == 2.0
    await ref.wait_stopped()
    with pytest.raises(ActorStopped, match=r"machine 'machine' is not running \(stopped in"):
        await ref.wait_state("middle")


async def test_wait_state_for_a_state_the_machine_lacks_raises_at_once(
    runtime: Runtime, spec: SpecOf, autojump_clock
) -> None:
    ref = await runtime.spawn(spec("transitions:\n  - {from: waiting, to: done, event: go}\n"))
    with pytest.raises(StateMachineError, match="has no state 'completed'; its states: waiting"):
        await ref.wait_state("completed")
    assert trio.current_time() == 0.0


async def test_wait_state_raises_when_the_machine_stops_elsewhere(
    runtime: Runtime, spec: SpecOf, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            "final_states: [done]\nstates: [waiting, done, never]\n"
            "transitions:\n  - {from: waiting, to: done, event: go}\n"
        ),
        name="m",
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ref.send, "go")
        with pytest.raises(ActorStopped) as caught:
            await ref.wait_state("never")
    assert caught.value.machine == "m"
    assert str(caught.value) == "machine 'm' is not running (stopped in state 'done')"


async def test_send_after_stop_raises_actor_stopped(runtime: Runtime, spec: SpecOf) -> None:
    ref = await runtime.spawn(spec("name: x\n"), name="m")
    await ref.stop()
    assert ref.status == "stopped"
    with pytest.raises(ActorStopped, match=r"machine 'm' is not running \(stopped\)"):
        await ref.send("go")
    with pytest.raises(ActorStopped):
        ref.send_nowait("go")
    with pytest.raises(KeyError):
        runtime.ref("m")


async def test_stop_cancels_a_running_action(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec("actions:\n  waiting: [{type: wait, seconds: 100, label: long}]\n"), name="m"
    )
    await trio.sleep(5)
    await ref.stop()
    assert trio.current_time() == 5.0
    assert story(recorder) == [
        (5.0, "m", "long cancelled"),
        (5.0, "m", "=terminated stopped in waiting"),
    ]


async def test_stop_of_an_idle_machine(
    runtime: Runtime, spec: SpecOf, recorder: RecordingPublisher, story, autojump_clock
) -> None:
    ref = await runtime.spawn(spec("transitions:\n  - {from: waiting, to: x, event: go}\n"))
    await trio.sleep(1)
    await ref.stop()
    assert story(recorder) == [(1.0, "machine", "=terminated stopped in waiting")]
    assert await ref.wait_stopped() == "stopped"


async def test_runtime_stop_stops_every_machine(runtime: Runtime, spec: SpecOf) -> None:
    refs = [await runtime.spawn(spec("name: x\n"), name=f"m{i}") for i in range(3)]
    await runtime.stop()
    assert [r.status for r in refs] == ["stopped"] * 3


async def test_leaving_open_runtime_stops_machines_and_publishes_termination(
    autojump_clock,
) -> None:
    recorder = RecordingPublisher()
    async with open_runtime(publisher=recorder, wall_clock=trio.current_time) as rt:
        ref = await rt.spawn(load_config_text("name: x\n"), name="m")
        await trio.sleep(2)
    assert ref.status == "stopped"
    assert [e.type for e in recorder.events] == ["machine_registered", "machine_terminated"]
    assert recorder.events[-1].payload["reason"] == "stopped"


async def test_send_nowait_raises_mailbox_full_and_send_waits(
    runtime: Runtime, spec: SpecOf, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: busy, event: go}
  - {from: busy, to: waiting, event: timeout(10)}
actions:
  busy: [{type: wait, seconds: 100}]
"""
        ),
        name="m",
        mailbox_capacity=2,
    )
    ref.send_nowait("go")
    await trio.testing.wait_all_tasks_blocked()
    # busy: events that fire nothing wait for the machine to be idle, and count against the
    # bounded mailbox, so the mailbox fills up
    ref.send_nowait("x")
    ref.send_nowait("x")
    await trio.testing.wait_all_tasks_blocked()
    assert ref.statistics().mailbox_depth == 2
    with pytest.raises(MailboxFull, match=r"mailbox of machine 'm' is full \(2 messages\)") as e:
        ref.send_nowait("x")
    assert (e.value.machine, e.value.capacity) == ("m", 2)
    # send() waits until there is room: at t=10 the timeout fires, the machine goes idle and
    # drains what waited in the mailbox
    await ref.send("x")
    assert trio.current_time() == 10.0
    await trio.testing.wait_all_tasks_blocked()
    stats = ref.statistics()
    assert (stats.state, stats.held, stats.mailbox_depth) == ("waiting", 0, 0)
    assert stats.events_received == 4
    assert stats.events_dropped == 3


async def test_statistics_fields(runtime: Runtime, spec: SpecOf, autojump_clock) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: busy, event: go}
  - {from: busy, to: waiting, event: back}
actions:
  busy:
    - {type: mark, label: x, event: not_a_transition}
    - {type: fail}
"""
        ),
        name="m",
    )
    await ref.send("nothing")
    await ref.send("go")
    await ref.send("back")
    await trio.testing.wait_all_tasks_blocked()
    assert ref.statistics() == ActorStatistics(
        name="m",
        state="waiting",
        status="running",
        mailbox_depth=0,
        mailbox_capacity=1024,
        held=0,
        events_received=3,
        transitions=2,
        events_dropped=1,
        action_events_ignored=2,  # not_a_transition, and the failure's 'error'
        errors=1,
    )
    assert runtime.statistics() == {"m": ref.statistics()}


async def test_a_thousand_machines_in_one_runtime(runtime: Runtime, spec: SpecOf) -> None:
    machine = spec(
        """
final_states: [done]
transitions:
  - {from: waiting, to: working, event: go}
  - {from: working, to: done, event: finish}
actions:
  working: [{type: mark, label: work, event: finish}]
"""
    )
    refs = [await runtime.spawn(machine, name=f"worker_{i:04d}") for i in range(1000)]
    for ref in refs:
        await ref.send("go")
    with trio.fail_after(30):
        for ref in refs:
            await ref.wait_stopped()
    assert {ref.state for ref in refs} == {"done"}
    assert sum(s.transitions for s in runtime.statistics().values()) == 2000


async def test_deliver_routes_by_target_and_reports_what_it_cannot_route(
    runtime: Runtime, spec: SpecOf
) -> None:
    ref = await runtime.spawn(spec("transitions:\n  - {from: waiting, to: x, event: go}\n"))
    await runtime.deliver(Message(type="go", target="machine", source="cli"))
    await ref.wait_state("x")
    assert ref.context["event_data"]["source"] == "cli"
    with pytest.raises(TransportError, match="message has no target"):
        await runtime.deliver(Message(type="go"))
    with pytest.raises(TransportError, match="no machine named 'ghost' is running") as caught:
        await runtime.deliver(Message(type="go", target="ghost"))
    assert caught.value.target == "ghost"


async def test_a_repeated_transition_is_logged_ten_times_then_every_thousandth_saying_so(
    runtime: Runtime, spec: SpecOf, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="statemachine_engine.machine")
    ref = await runtime.spawn(
        spec(
            "initial_state: polling\ntransitions:\n  - {from: polling, to: polling, event: poll}\n"
        ),
        name="poller",
    )
    for _ in range(2_500):
        await ref.send("poll")
    while ref.statistics().transitions < 2_500:
        await trio.sleep(0)
    lines = [r.getMessage() for r in caplog.records if "--poll-->" in r.getMessage()]
    assert lines[:9] == ["[poller] polling --poll--> polling"] * 9
    assert lines[9:] == [
        "[poller] polling --poll--> polling (#10; from now on only every 1000th of this "
        "transition is logged)",
        "[poller] polling --poll--> polling (#1000)",
        "[poller] polling --poll--> polling (#2000)",
    ]
