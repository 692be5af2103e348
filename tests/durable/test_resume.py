"""A durable machine resumes from its checkpoint: state, context, timers, actions not re-run."""

from __future__ import annotations

import pytest
import trio

from statemachine_engine.errors import ConfigError

FLOW = """
durable: true
initial_state: idle
states: [idle, working, waiting, done]
final_states: [done]
events: [go, finish, timeout(10)]
transitions:
  - {from: idle, to: working, event: go}
  - {from: working, to: waiting, event: worked}
  - {from: waiting, to: done, event: finish}
  - {from: waiting, to: done, event: timeout(10)}
actions:
  working:
    - {type: mark, label: first}
    - {type: wait, label: second, seconds: 5}
    - {type: mark, label: third, event: worked}
"""


async def test_resumes_state_context_and_skips_completed_actions(
    store, runtime_on, spec, runs, autojump_clock
) -> None:
    machine = spec(FLOW)
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(machine, name="flow", context={"order": 7})
        await ref.send("go")
        await trio.sleep(2)  # 'first' done, 'second' running
        runtime.kill("flow")
    assert runs == [("first", 1)]
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(machine, name="flow")
        await ref.wait_state("waiting")
        assert ref.context["order"] == 7
        assert ref.context["done"] == ["first", "second", "third"]
    # 'first' completed and is not run again; 'second' was running: run again, told so
    assert runs == [("first", 1), ("second", 2), ("third", 1)]


async def test_timer_keeps_its_original_deadline(store, runtime_on, spec, autojump_clock) -> None:
    machine = spec(FLOW)
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(machine, name="flow")
        await ref.send("go")
        await ref.wait_state("waiting")
        entered = trio.current_time()
        await trio.sleep(4)
        runtime.kill("flow")
    await trio.sleep(3)  # down for 3 s: 7 s of the 10 have passed
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(machine, name="flow")
        assert ref.state == "waiting"
        await ref.wait_stopped()
        assert trio.current_time() == pytest.approx(entered + 10)
        assert ref.state == "done"


async def test_overdue_timer_fires_at_once(store, runtime_on, spec, autojump_clock) -> None:
    machine = spec(FLOW)
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(machine, name="flow")
        await ref.send("go")
        await ref.wait_state("waiting")
        runtime.kill("flow")
    await trio.sleep(60)
    async with runtime_on(store) as runtime:
        started = trio.current_time()
        ref = await runtime.spawn(machine, name="flow")
        await ref.wait_stopped()
        assert trio.current_time() == started
        assert ref.state == "done"


async def test_final_state_starts_fresh_and_fresh_discards(
    store, runtime_on, spec, autojump_clock
) -> None:
    machine = spec(FLOW)
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(machine, name="flow")
        await ref.send("go")
        await ref.wait_state("waiting")
        await ref.send("finish")
        await ref.wait_stopped()
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(machine, name="flow")
        assert ref.state == "idle"  # it ended: a new run
        await ref.send("go")
        await ref.wait_state("waiting")
        await ref.stop()  # stopped, not ended: the next start resumes
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(machine, name="flow")
        assert ref.state == "waiting"
        ref.cancel()
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(machine, name="flow", fresh=True)
        assert ref.state == "idle"
        assert "done" not in ref.context


async def test_checkpoint_of_a_renamed_state_is_refused(
    store, runtime_on, spec, autojump_clock
) -> None:
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(spec(FLOW), name="flow")
        await ref.send("go")
        await ref.wait_state("waiting")
        runtime.kill("flow")
    renamed = spec(FLOW.replace("waiting", "parked"))
    async with runtime_on(store) as runtime:
        with pytest.raises(ConfigError, match="state 'waiting', which this config no longer has"):
            await runtime.spawn(renamed, name="flow")
        ref = await runtime.spawn(renamed, name="flow", fresh=True)
        assert ref.state == "idle"


async def test_acknowledged_event_survives_a_kill(store, runtime_on, spec, autojump_clock) -> None:
    machine = spec(FLOW)
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(machine, name="flow")
        await ref.send("go")
        await trio.sleep(1)  # busy in 'second'; 'worked' will come, then 'finish' waits
        await ref.send("finish", {"n": 1})  # acknowledged: in the inbox
        runtime.kill("flow")
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(machine, name="flow")
        await ref.wait_stopped()
        assert ref.state == "done"
        assert ref.context["event_data"]["payload"] == {"n": 1}


async def test_non_durable_machine_keeps_no_checkpoint(
    store, runtime_on, spec, autojump_clock
) -> None:
    machine = spec(FLOW.replace("durable: true", ""))
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(machine, name="flow")
        await ref.send("go")
        await ref.wait_state("waiting")
        runtime.kill("flow")
    assert await store.durable.recover("flow") is None
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(machine, name="flow")
        assert ref.state == "idle"
