"""Instructions per unit of work, counted by valgrind (callgrind): a figure that does not
move with the machine's load.

Run: .venv/bin/python bench/bench_instructions.py [--tree PATH] [--only NAME ...] [--quick]

Wall-clock figures on this 2-core VM move by 20-30 % from one run to the next; an
instruction count repeats within about 0.1 %. Each workload runs twice
under callgrind, with a count of 1 and with its full count, in a fresh interpreter; the
difference divided by the difference in counts is the cost of one unit, start-up
excluded. ``--tree PATH`` measures another checkout of the project (say a ``git worktree``
of an older commit) with this checkout's interpreter, so two versions can be compared in
one sitting: run the script once per tree.

Workloads:

* ``flip``: awaited ``ref.send`` of an event that flips a machine between two states
  (per event; no actions, an in-process event bus as publisher).
* ``send`` / ``floor``: bench_embedded.py's *ours, awaited send* (``open_runtime()`` as the
  README opens it, no publisher; per event) and its trio memory-channel ping-pong (per
  message, each direction counted): the issue-17 ratio of the two, free of the load.
* ``flip-actions``: a machine whose entry actions (``set_context``) return the next event
  (per transition; the runtime's ceiling without a store).
* ``record``: ``Store.transition`` calls on a file store until committed (per call).
* ``drain-memory`` / ``drain-file``: one worker machine draining queued jobs
  (``check_database_queue``, a step, ``complete_job``; per job).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: workload -> (full count, unit)
WORKLOADS = {
    "flip": (10_000, "event"),
    "send": (10_000, "event"),
    "floor": (10_000, "message"),
    "flip-actions": (20_000, "transition"),
    "record": (20_000, "call"),
    "drain-memory": (2_000, "job"),
    "drain-file": (2_000, "job"),
}


def run_workload(name: str, count: int) -> None:
    """The workload itself, in the interpreter valgrind watches."""
    import trio

    sys.path.insert(0, str(HERE))
    import bench_core
    import bench_embedded
    import bench_store

    from statemachine_engine import open_runtime
    from statemachine_engine.config import load_config_text
    from statemachine_engine.transport import EventBus

    if name == "flip":
        spec = load_config_text(bench_core.FLIP, known_actions=[])

        async def flip() -> None:
            async with open_runtime(publisher=EventBus()) as runtime:
                ref = await runtime.spawn(spec, name="flipper")
                for _ in range(count):
                    await ref.send("flip")
                while ref.statistics().transitions < count:
                    await trio.sleep(0)

        trio.run(flip)
    elif name == "send":
        trio.run(bench_embedded._ours, count, "awaited", False)
    elif name == "floor":
        trio.run(bench_embedded._floor, count)
    elif name == "flip-actions":
        spec = load_config_text(bench_store.FLIPPER)

        async def flip_actions() -> None:
            async with open_runtime() as runtime:
                ref = await runtime.spawn(spec, name="flipper")
                while ref.statistics().transitions < count:
                    await trio.sleep(0)
                await ref.stop()

        trio.run(flip_actions)
    else:
        folder = tempfile.mkdtemp(prefix="smbench", dir="/tmp")
        path = os.path.join(folder, "bench.db")
        if name == "record":
            bench_store.bench_record_transitions(path, count)
        else:
            db = ":memory:" if name == "drain-memory" else path
            bench_store.bench_runtime_drain(db, count)


def instructions(tree: Path, name: str, count: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(Path(__file__).resolve()),
        "--workload",
        name,
        "--count",
        str(count),
    ]
    done = subprocess.run(argv, env=env, cwd=tree, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=HERE.parent, help="checkout to measure")
    parser.add_argument("--only", nargs="+", choices=sorted(WORKLOADS), help="these workloads")
    parser.add_argument("--quick", action="store_true", help="a fifth of the counts")
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workload:
        run_workload(args.workload, args.count)
        return
    tree = args.tree.resolve()
    print(f"tree {tree}")
    for name in args.only or list(WORKLOADS):
        count, unit = WORKLOADS[name]
        if args.quick:
            count //= 5
        one = instructions(tree, name, 1)
        full = instructions(tree, name, count)
        per = (full - one) / (count - 1)
        print(f"{name:14} {per:>12,.0f} instructions per {unit}   (start-up {one:,})", flush=True)


if __name__ == "__main__":
    main()
