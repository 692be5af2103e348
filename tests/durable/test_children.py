"""``start_fsm`` children of a durable parent are durable too, and resume with it."""

from __future__ import annotations

import trio

from statemachine_engine.config import load_config_text

PARENT = """
durable: true
metadata: {machine_name: parent}
initial_state: idle
states: [idle, running, finished]
final_states: [finished]
events: [go, success, error, child_done]
transitions:
  - {from: idle, to: running, event: go}
  - {from: running, to: running, event: success}
  - {from: running, to: finished, event: child_done}
actions:
  running:
    - {type: start_fsm, yaml_path: CHILD, machine_name: kid, on_done: child_done}
"""

CHILD = """
metadata: {machine_name: kid}
initial_state: counting
states: [counting, halfway, done]
final_states: [done]
events: [tick, 'timeout(10)']
transitions:
  - {from: counting, to: halfway, event: tick}
  - {from: halfway, to: done, event: 'timeout(10)'}
actions:
  halfway:
    - {type: log, message: halfway}
"""


async def test_child_resumes_with_its_parent(tmp_path, store, runtime_on, autojump_clock) -> None:
    child = tmp_path / "child.yaml"
    child.write_text(CHILD)
    parent = load_config_text(PARENT.replace("CHILD", str(child)))
    async with runtime_on(store) as runtime:
        ref = await runtime.spawn(parent, name="parent")
        await ref.send("go")
        kid = None
        with trio.fail_after(5):
            while kid is None:
                await trio.sleep(0.1)
                if "kid" in runtime.running_names():
                    kid = runtime.ref("kid")
        await kid.send("tick")
        await kid.wait_state("halfway")
        await trio.sleep(3)
        runtime.kill("kid")
        runtime.kill("parent")
    async with runtime_on(store) as runtime:
        started = trio.current_time()
        ref = await runtime.spawn(parent, name="parent")
        assert ref.state == "running"
        kid = runtime.ref("kid")  # resumed with its parent, not started again
        assert kid.state == "halfway"
        with trio.fail_after(60):
            await ref.wait_stopped()
        # the child's timer kept its deadline (7 s left); the parent heard it finish
        assert trio.current_time() - started == 7
        assert ref.state == "finished"
