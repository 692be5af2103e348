"""send_event between durable machines: every message fires its transition once, kills or not."""

from __future__ import annotations

import random

import pytest
import trio

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence import open_store

SENDER = """
durable: true
initial_state: sending
states: [sending, pausing, finished]
final_states: [finished]
events: [more, enough, timeout(0.01)]
transitions:
  - {from: sending, to: pausing, event: more}
  - {from: pausing, to: sending, event: timeout(0.01)}
  - {from: sending, to: finished, event: enough}
actions:
  sending:
    - {type: send, to: receiver, event: num}
    - {type: count, limit: LIMIT}
"""

RECEIVER = """
durable: true
initial_state: counting
states: [counting]
events: [num]
transitions:
  - {from: counting, to: counting, event: num, actions: [{type: collect}]}
"""


def _crash_at_batch(store, batch: int, crashed: trio.Event) -> None:
    """Make ``store`` crash, as kill -9 would, just before it commits its ``batch``-th
    batch of writes: that batch and everything after it never reach the file."""
    writer = store._writer
    commit = writer._commit
    count = 0

    async def counted(items) -> None:
        nonlocal count
        count += 1
        if count < batch:
            await commit(items)
            return
        store.crash()
        writer._give_up(items)  # whoever waits on this batch learns it was not written
        crashed.set()

    writer._commit = counted


async def _ended(store, name: str, final: str) -> bool:
    """Whether ``name`` reached its final state (it then starts afresh, so is not started
    again): its history says so and no checkpoint is left to finish."""
    if await store.durable.recover(name) is not None:
        return False
    history = await store.transitions(machine=name, limit=None)
    return any(row["to_state"] == final for row in history)


async def _run(path, runtime_on, spec, limit: int, kills: list[int]) -> list[int]:
    """Run sender and receiver in one runtime on a database file; crash that runtime as
    kill -9 would just before its store commits batch ``kills[0]`` (writes not committed
    are lost), start another, and so on. Returns what the receiver collected once the
    sender has finished."""
    sender = spec(SENDER.replace("LIMIT", str(limit)))
    receiver = spec(RECEIVER)
    for batch in [*kills, None]:
        async with (
            open_store(path, clock=trio.current_time) as store,
            runtime_on(store) as runtime,
        ):
            crashed = trio.Event()
            sender_ended = await _ended(store, "sender", "finished")
            if batch is not None:
                _crash_at_batch(store, batch, crashed)
            with trio.move_on_after(5):  # (all done before that batch: crash now)
                try:
                    recv = await runtime.spawn(receiver, name="receiver")
                    send = None if sender_ended else await runtime.spawn(sender, name="sender")
                except StoreError:
                    assert crashed.is_set()  # the crash came while they started
                if batch is None:
                    break
                await crashed.wait()
            store.crash()
            for name in runtime.running_names():
                runtime.kill(name)
    async with open_store(path, clock=trio.current_time) as store, runtime_on(store) as runtime:
        recv = await runtime.spawn(receiver, name="receiver")
        if not await _ended(store, "sender", "finished"):
            send = await runtime.spawn(sender, name="sender")
            await send.wait_stopped()
        with trio.fail_after(60):
            while len(recv.context.get("got", [])) < limit:
                await trio.sleep(0.01)
        await trio.sleep(1)  # anything sent twice would arrive by now
        return list(recv.context["got"])


async def test_every_message_once_without_kills(tmp_path, runtime_on, spec, autojump_clock) -> None:
    assert await _run(tmp_path / "db", runtime_on, spec, 50, []) == list(range(50))


@pytest.mark.parametrize("seed", range(8))
async def test_every_message_once_with_kills(
    tmp_path, runtime_on, spec, autojump_clock, seed
) -> None:
    rng = random.Random(seed)
    kills = [rng.randrange(1, 40) for _ in range(10)]
    assert await _run(tmp_path / "db", runtime_on, spec, 60, kills) == list(range(60))
