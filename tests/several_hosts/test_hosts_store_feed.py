"""The monitor's store feed: the machines of other hosts, read from the shared database's
history when the writer's NOTIFY (one per batch) wakes it; its own host's are left to the
event socket."""

from __future__ import annotations

from collections.abc import Callable

import trio

from statemachine_engine.actors import open_runtime
from statemachine_engine.config import load_config_text
from statemachine_engine.monitor import StoreFeed
from statemachine_engine.persistence import open_store
from statemachine_engine.transport import MachineEvent, RecordingPublisher

MACHINE = """
name: mover
initial_state: waiting
states: [waiting, moved, stopped]
events: [go, stop]
transitions:
  - {from: waiting, to: moved, event: go}
  - {from: "*", to: stopped, event: stop}
final_states: [stopped]
"""


def kinds(events: list[MachineEvent], machine: str) -> list[tuple[str, str | None]]:
    return [
        (e.type, e.payload.get("to_state") or e.payload.get("final_state"))
        for e in events
        if e.machine_name == machine
    ]


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Wait (bounded) until ``condition()`` holds, looking every 10 ms."""
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.01)


async def test_the_feed_shows_the_machines_of_other_hosts_moving(pg_url: str) -> None:
    seen = RecordingPublisher()
    async with (
        open_store(pg_url, host="b") as store,
        open_runtime(store=store) as b,
        trio.open_nursery() as nursery,
    ):
        feed = StoreFeed(pg_url, seen, host="a", poll_interval=60)  # only NOTIFY wakes it
        await nursery.start(feed.run)
        ref = await b.spawn(load_config_text(MACHINE), name="mover")
        await until(lambda: kinds(seen.events, "mover") == [("machine_registered", None)])
        await ref.send("go")
        await until(lambda: ("state_change", "moved") in kinds(seen.events, "mover"))
        await ref.send("stop")
        await ref.wait_stopped()
        await until(lambda: kinds(seen.events, "mover")[-1][0] == "machine_terminated")
        nursery.cancel_scope.cancel()
    assert kinds(seen.events, "mover") == [
        ("machine_registered", None),
        ("state_change", "moved"),
        ("state_change", "stopped"),
        ("machine_terminated", "stopped"),
    ]


async def test_the_feed_leaves_its_own_hosts_machines_to_the_event_socket(pg_url: str) -> None:
    seen = RecordingPublisher()
    async with (
        open_store(pg_url, host="a") as store,
        open_runtime(store=store) as a,
        trio.open_nursery() as nursery,
    ):
        feed = StoreFeed(pg_url, seen, host="a", poll_interval=60)
        await nursery.start(feed.run)
        ref = await a.spawn(load_config_text(MACHINE), name="mover")
        await ref.send("go")
        await ref.wait_state("moved")
        await store.flush()
        with trio.fail_after(10):
            await feed.read()
        nursery.cancel_scope.cancel()
    assert kinds(seen.events, "mover") == []
