"""The process bench_durable.py kills and starts again: N machines of one config on a SQLite file.

Run: python bench/_durable_runner.py DB N MODE [--durable] [--together]

* ``spawn``  -- start N machines (``m00001`` ...), send each one ``flip`` (so that it leaves
  its initial state and its context holds the event), wait until everything is committed,
  print ``committed`` and wait to be killed.
* ``resume`` -- start the same N machines (durable ones resume from their checkpoints), print
  one JSON line and wait to be killed. The line holds the ``perf_counter`` instants
  (``CLOCK_MONOTONIC``, the same clock as the parent's) at which this script began, its
  imports were done, the store was open and all N machines were running, and how many are
  in state ``b`` (where ``spawn`` left them).

The machines are started one after another, as ``statemachine run`` starts a manifest's,
or with ``--together`` all at once (one task each: the store then shares its commits
between them). They wait in ``b`` on a ``timeout(3600)``: a resumed one re-arms it at its
original deadline.
"""

from __future__ import annotations

import time

BEGAN = time.perf_counter()  # before the imports: they are part of a start

import json  # noqa: E402
import sys  # noqa: E402

import trio  # noqa: E402

from statemachine_engine import open_runtime  # noqa: E402
from statemachine_engine.actors import ActorRef, Runtime  # noqa: E402
from statemachine_engine.config import MachineSpec, load_config_text  # noqa: E402
from statemachine_engine.persistence import open_store  # noqa: E402
from statemachine_engine.transport import EventBus  # noqa: E402

PARKED = """
initial_state: a
transitions:
  - {from: a, to: b, event: flip}
  - {from: b, to: a, event: flip}
  - {from: b, to: a, event: timeout(3600)}
"""


async def start_all(
    runtime: Runtime, spec: MachineSpec, n: int, *, durable: bool, together: bool
) -> list[ActorRef]:
    names = [f"m{i:05d}" for i in range(1, n + 1)]
    if not together:
        return [await runtime.spawn(spec, name=name, durable=durable) for name in names]
    refs: list[ActorRef] = []

    async def one(name: str) -> None:
        refs.append(await runtime.spawn(spec, name=name, durable=durable))

    async with trio.open_nursery() as nursery:
        for name in names:
            nursery.start_soon(one, name)
    return refs


async def main(db: str, n: int, mode: str, durable: bool, together: bool) -> None:
    imported = time.perf_counter()
    spec = load_config_text(PARKED, known_actions=[])
    async with open_store(db) as store, open_runtime(store=store, publisher=EventBus()) as rt:
        opened = time.perf_counter()
        refs = await start_all(rt, spec, n, durable=durable, together=together)
        running = time.perf_counter()
        if mode == "spawn":
            for ref in refs:
                ref.send_nowait("flip")
            for ref in refs:
                await ref.wait_state("b")
            await store.flush()
            print("committed", flush=True)
        else:
            began = {"began": BEGAN, "imported": imported, "opened": opened, "running": running}
            in_b = sum(ref.state == "b" for ref in refs)
            print(json.dumps({**began, "in_b": in_b}), flush=True)
        await trio.sleep_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    trio.run(main, args[0], int(args[1]), args[2], "--durable" in args, "--together" in args)
