"""Durable machines in real ``statemachine`` processes killed with SIGKILL and started again.

What a user sees: the same command started again resumes the machine in its state with its
context, its timer due at the original deadline, its completed actions not run again and
the interrupted one run again knowing it is a retry; an acknowledged event is handled after
the restart; ``--fresh`` starts over.
"""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import pytest
import trio

from statemachine_engine.transport import send_to_socket

from .conftest import STEP_TIMEOUT, Cluster

#: each state's bash action writes "start <state> <attempt> <order>" and, after a pause,
#: "end <state> <attempt>" to ran.txt, then the machine moves on
STEPS = ["s1", "s2", "s3"]
STEPPER = """
durable: true
metadata: {machine_name: stepper}
initial_state: s0
states: [s0, s1, s2, s3, done]
final_states: [done]
events: [go, next]
transitions:
  - {from: s0, to: s1, event: go}
  - {from: s1, to: s2, event: next}
  - {from: s2, to: s3, event: next}
  - {from: s3, to: done, event: next}
actions:
"""
for _state in STEPS:
    STEPPER += f"""  {_state}:
    - type: bash
      command: >-
        echo "start {_state} $SM_ACTION_ATTEMPT {{order}}" >> ran.txt;
        sleep 0.3; echo "end {_state} $SM_ACTION_ATTEMPT" >> ran.txt
      success: next
"""


def _lines(cluster: Cluster) -> list[list[str]]:
    path = cluster.root / "ran.txt"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


async def _kill_and_check(cluster: Cluster, config: Path, rng: random.Random) -> None:
    """Start the stepper, kill it with SIGKILL while one of its actions runs, start it
    again (without its initial context) until it is done; then check what ran."""
    runtime = await cluster.start(config, "stepper", "--initial-context", '{"order": 42}')
    await trio.to_thread.run_sync(
        lambda: send_to_socket(cluster.control_socket("stepper"), {"type": "go"})
    )
    killed: dict[str, int] = {}  # state -> attempt that was running when killed
    for _ in range(rng.randrange(1, 4)):
        seen = len(_lines(cluster))
        line = await cluster.wait_db(
            "an action to start (or the machine to finish)",
            lambda seen=seen, runtime=runtime: next(
                (ln for ln in _lines(cluster)[seen:] if ln[0] == "start"),
                ["finished"] if runtime.returncode is not None else None,
            ),
        )
        if line == ["finished"]:
            break  # the last action was the one killed: nothing is left to kill
        await trio.sleep(rng.uniform(0.0, 0.15))  # well inside its 0.3 s
        runtime.send_signal(signal.SIGKILL)
        await runtime.wait()
        killed[line[1]] = int(line[2])
        runtime = await cluster.start(config, "stepper")
        assert f"resuming stepper in {line[1]}" in runtime.output()
    assert await runtime.wait(timeout=STEP_TIMEOUT * 2) == 0
    ran = _lines(cluster)
    for state in STEPS:
        starts = [int(ln[2]) for ln in ran if ln[:2] == ["start", state]]
        ends = [int(ln[2]) for ln in ran if ln[:2] == ["end", state]]
        last = killed.get(state, 0) + 1
        # the killed attempt ran again, told its number; a completed one never again
        assert starts == list(range(1, last + 1)), (state, ran)
        # (the killed attempt never ended: its command died with the runtime)
        assert ends == [last], (state, ran)
    # the context survived every restart (the initial context was given only once)
    assert {ln[3] for ln in ran if ln[0] == "start"} == {"42"}
    assert cluster.query("SELECT * FROM durable_machines WHERE machine_name = 'stepper'") == []


@pytest.mark.slow
async def test_kill_during_actions_resumes_them(cluster: Cluster) -> None:
    config = cluster.write("stepper.yaml", STEPPER)
    await _kill_and_check(cluster, config, random.Random(1))


@pytest.mark.parametrize(
    "seed", [*range(3), *(pytest.param(seed, marks=pytest.mark.slow) for seed in range(3, 50))]
)
async def test_kill_at_random_points(cluster: Cluster, seed: int) -> None:
    config = cluster.write("stepper.yaml", STEPPER)
    await _kill_and_check(cluster, config, random.Random(seed))


TIMED = """
durable: true
metadata: {machine_name: timed}
initial_state: idle
states: [idle, waiting, late]
final_states: [late]
events: [go, 'timeout(3)']
transitions:
  - {from: idle, to: waiting, event: go}
  - {from: waiting, to: late, event: 'timeout(3)'}
"""


@pytest.mark.slow
async def test_timer_due_at_its_original_deadline_and_acked_event_kept(
    cluster: Cluster,
) -> None:
    config = cluster.write("timed.yaml", TIMED)
    runtime = await cluster.start(config, "timed")
    socket = cluster.control_socket("timed")
    ack = await trio.to_thread.run_sync(
        lambda: send_to_socket(socket, {"type": "go", "payload": {"k": 1}})
    )
    assert ack["ok"] is True
    runtime.send_signal(signal.SIGKILL)  # acknowledged, maybe not handled: kept anyway
    await runtime.wait()
    runtime = await cluster.start(config, "timed")
    entered = await cluster.wait_db(
        "the checkpoint in 'waiting'",
        lambda: next(
            (
                r["entered_at"]
                for r in cluster.query("SELECT * FROM durable_machines")
                if r["state"] == "waiting"
            ),
            None,
        ),
    )
    await trio.sleep(1)
    runtime.send_signal(signal.SIGKILL)
    await runtime.wait()
    runtime = await cluster.start(config, "timed")
    assert "resuming timed in waiting" in runtime.output()
    assert await runtime.wait(timeout=STEP_TIMEOUT) == 0
    fired = cluster.query(
        "SELECT timestamp FROM state_transitions WHERE machine_name = 'timed' AND to_state = 'late'"
    )
    assert len(fired) == 1
    assert fired[0]["timestamp"] == pytest.approx(entered + 3, abs=0.5)
    context = json.loads(
        cluster.query("SELECT context FROM machine_state")[0]["context"]
        if cluster.query("SELECT context FROM machine_state")
        else "{}"
    )
    assert context == {} or context.get("event_data", {}).get("payload") == {"k": 1}
    handled = cluster.query("SELECT status FROM inbox WHERE target_machine = 'timed'")
    assert [row["status"] for row in handled] == ["handled"]


@pytest.mark.slow
async def test_fresh_discards_the_checkpoint(cluster: Cluster) -> None:
    config = cluster.write("timed.yaml", TIMED.replace("timeout(3)", "timeout(30)"))
    runtime = await cluster.start(config, "timed")
    await trio.to_thread.run_sync(
        lambda: send_to_socket(cluster.control_socket("timed"), {"type": "go"})
    )
    await cluster.events.wait_state("timed", "waiting")
    runtime.send_signal(signal.SIGTERM)
    assert await runtime.wait() == 128 + signal.SIGTERM
    row = cluster.query("SELECT state, status FROM durable_machines")[0]
    assert (row["state"], row["status"]) == ("waiting", "stopped")
    mark = len(cluster.events.events)
    runtime = await cluster.start(config, "timed", "--fresh")
    registered = cluster.events.find("timed", "machine_registered", start=mark)
    assert registered[0].payload["current_state"] == "idle"
    assert "resuming" not in runtime.output()
    runtime.send_signal(signal.SIGTERM)
    await runtime.wait()


@pytest.mark.slow
async def test_renamed_state_is_a_clear_error(cluster: Cluster) -> None:
    config = cluster.write("timed.yaml", TIMED.replace("timeout(3)", "timeout(30)"))
    runtime = await cluster.start(config, "timed")
    await trio.to_thread.run_sync(
        lambda: send_to_socket(cluster.control_socket("timed"), {"type": "go"})
    )
    await cluster.wait_db(
        "the checkpoint in 'waiting'",
        lambda: cluster.query("SELECT * FROM durable_machines WHERE state = 'waiting'"),
    )
    runtime.send_signal(signal.SIGKILL)
    await runtime.wait()
    cluster.write("timed.yaml", TIMED.replace("waiting", "parked"))
    again = await cluster.start(config, "timed", ready=False)
    assert await again.wait() == 1
    out = again.output()
    assert "state 'waiting', which this config no longer has" in out
    assert "--fresh" in out and "Traceback" not in out
    started = time.monotonic()
    fresh = await cluster.start(config, "timed", "--fresh")
    assert time.monotonic() - started < STEP_TIMEOUT
    fresh.send_signal(signal.SIGTERM)
    await fresh.wait()


COUNT_ACTION = """
from statemachine_engine.actions import BaseAction


class CountAction(BaseAction):
    async def execute(self, context):
        context["n"] = context.get("n", 0) + 1
        return "more" if context["n"] < int(self.config["limit"]) else "enough"
"""
COLLECT_ACTION = """
from statemachine_engine.actions import BaseAction


class CollectAction(BaseAction):
    async def execute(self, context):
        context.setdefault("got", []).append(context["event_data"]["payload"]["n"])
"""
PINGER = """
durable: true
metadata: {machine_name: pinger}
initial_state: sending
states: [sending, finished]
final_states: [finished]
events: [more, enough]
transitions:
  - {from: sending, to: sending, event: more}
  - {from: sending, to: finished, event: enough}
actions:
  sending:
    - {type: send_event, target: counter, event_type: num, payload: {n: "{n}"}}
    - {type: count, limit: LIMIT}
"""
COUNTER = """
durable: true
metadata: {machine_name: counter}
initial_state: counting
states: [counting]
events: [num]
transitions:
  - {from: counting, to: counting, event: num, actions: [{type: collect}]}
"""


def _ended(cluster: Cluster, machine: str, final: str) -> bool:
    """Whether ``machine`` reached its final state (its run is over)."""
    rows = cluster.query("SELECT status FROM durable_machines WHERE machine_name = ?", machine)
    if rows:
        return bool(rows[0]["status"] == "final")
    return bool(
        cluster.query(
            "SELECT 1 FROM state_transitions WHERE machine_name = ? AND to_state = ?",
            machine,
            final,
        )
    )


def _counted(cluster: Cluster) -> list[int]:
    rows = cluster.query("SELECT context FROM durable_machines WHERE machine_name = 'counter'")
    if not rows or not rows[0]["context"]:
        return []
    return [int(n) for n in json.loads(rows[0]["context"]).get("got", [])]


@pytest.mark.slow
async def test_numbered_events_between_two_processes_killed_and_restarted(
    cluster: Cluster,
) -> None:
    limit = 1000
    actions = cluster.root / "actions"
    actions.mkdir()
    (actions / "count_action.py").write_text(COUNT_ACTION)
    (actions / "collect_action.py").write_text(COLLECT_ACTION)
    pinger = cluster.write("pinger.yaml", PINGER.replace("LIMIT", str(limit)))
    counter = cluster.write("counter.yaml", COUNTER)
    flags = ("--actions-dir", str(actions), "--log-level", "WARNING")
    rng = random.Random(7)
    running = {
        "counter": await cluster.start(counter, "counter", *flags),
        "pinger": await cluster.start(pinger, "pinger", *flags, "--initial-context", '{"n": 0}'),
    }
    configs = {"counter": counter, "pinger": pinger}
    kills = 0
    for _ in range(8):  # each process is killed about four times, at random moments
        await trio.sleep(rng.uniform(0.1, 0.5))
        name = rng.choice(sorted(running))
        if name == "pinger" and _ended(cluster, "pinger", "finished"):
            continue  # started again, it would start afresh (its last messages still go out)
        running[name].send_signal(signal.SIGKILL)
        await running[name].wait()
        kills += 1
        running[name] = await cluster.start(configs[name], name, *flags)
    assert kills >= 4
    assert await running["pinger"].wait(timeout=120) == 0
    await cluster.wait_db(
        "the counter to have every number",
        lambda: (numbers := _counted(cluster)) and len(numbers) >= limit and numbers,
        timeout=60,
    )
    await trio.sleep(1)  # a number sent twice would be in by now
    assert _counted(cluster) == list(range(limit))  # each once, in order
    pending = cluster.query("SELECT count(*) AS n FROM outbox WHERE status = 'pending'")
    assert pending[0]["n"] == 0
