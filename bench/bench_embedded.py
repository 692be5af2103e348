"""Embedded API benchmark (issue 17): one machine flipping between two states, driven from
Python in the same process, beside the libraries a user would pick instead, in one run.

Run: .venv/bin/python bench/bench_embedded.py [--quick] [--no-peers] [--runs N]

Figures, each the median of ``--runs`` rounds (every figure in turn in each round, every run
in a fresh interpreter), as events per second of wall clock and per second of CPU time (the
second moves much less when other work loads the machine):

* *ours, awaited send*: ``await ref.send("flip")`` per event into a machine of
  ``open_runtime()`` (no store, no publisher: as the README's embedded example opens it),
  until every transition is done; and again with an in-process ``EventBus`` publisher, so
  every transition also makes its ``state_change`` event.
* *ours, pipelined send_nowait*: ``ref.send_nowait("flip")`` until the mailbox is full,
  then one awaited ``send``; same two runtimes.
* *trio floor*: two tasks exchanging a message over two trio memory channels (ping-pong);
  messages per second, each direction counted (a message is one hop from a task to the
  other, as an event is from the sender to the machine).
* *transitions* and *python-statemachine*: the same two-state machine in each library,
  ``model.flip()`` / ``sm.send("flip")`` per event (both run transitions synchronously in
  the caller). They are installed from PyPI by this script into its own virtual
  environment, bench/.peers-venv (ignored by git), never into the project's.

The targets (issue 17): pipelined ``send_nowait`` >= transitions' rate; awaited ``send`` >=
0.8x the trio floor. Prints one line per run and a Markdown table with the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS_VENV = HERE / ".peers-venv"
PEERS = ("transitions==0.9.3", "python-statemachine==3.2.2")

FLIP = """
initial_state: a
transitions:
  - {from: a, to: b, event: flip}
  - {from: b, to: a, event: flip}
"""

TRANSITIONS_CODE = """
import sys, time
from transitions import Machine
class Model: pass
n = int(sys.argv[1])
model = Model()
Machine(model, states=["a", "b"], initial="a",
        transitions=[["flip", "a", "b"], ["flip", "b", "a"]])
start, cpu = time.perf_counter(), time.process_time()
for _ in range(n):
    model.flip()
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
assert model.state == ("a" if n % 2 == 0 else "b")
print(n / elapsed, n / cpu)
"""

PYTHON_STATEMACHINE_CODE = """
import sys, time
from statemachine import State, StateMachine
class Flip(StateMachine):
    a = State(initial=True)
    b = State()
    flip = a.to(b) | b.to(a)
n = int(sys.argv[1])
sm = Flip()
start, cpu = time.perf_counter(), time.process_time()
for _ in range(n):
    sm.send("flip")
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
assert sm.current_state.id == ("a" if n % 2 == 0 else "b")
print(n / elapsed, n / cpu)
"""


# -- measured in a child interpreter of this project ---------------------------------------


async def _ours(n: int, mode: str, with_bus: bool) -> tuple[float, float]:
    import trio

    from statemachine_engine import open_runtime
    from statemachine_engine.config import load_config_text
    from statemachine_engine.errors import MailboxFull
    from statemachine_engine.transport import EventBus

    spec = load_config_text(FLIP, known_actions=[])
    async with open_runtime(publisher=EventBus() if with_bus else None) as rt:
        ref = await rt.spawn(spec, name="flipper")
        start, cpu = time.perf_counter(), time.process_time()
        if mode == "awaited":
            for _ in range(n):
                await ref.send("flip")
        else:
            sent = 0
            while sent < n:  # a fast producer: wait only when the mailbox is full
                try:
                    ref.send_nowait("flip")
                except MailboxFull:
                    await ref.send("flip")
                sent += 1
        while ref.statistics().transitions < n:
            await trio.sleep(0)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        await ref.stop()
    return n / elapsed, n / cpu


async def _floor(n: int) -> tuple[float, float]:
    import trio

    to_b, from_a = trio.open_memory_channel[int](0)
    to_a, from_b = trio.open_memory_channel[int](0)

    async def b() -> None:
        async for value in from_a:
            await to_a.send(value)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(b)
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(n // 2):
            await to_b.send(i)
            await from_b.receive()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        nursery.cancel_scope.cancel()
    return (n // 2) * 2 / elapsed, (n // 2) * 2 / cpu


def child(kind: str, n: int) -> None:
    import trio

    if kind == "floor":
        print(*trio.run(_floor, n))
        return
    mode, _, bus = kind.partition("+")
    print(*trio.run(_ours, n, mode, bus == "bus"))


# -- the parent ----------------------------------------------------------------------------


def ensure_peers_venv() -> Path:
    """Create bench/.peers-venv with the peer libraries (once); its python."""
    python = PEERS_VENV / "bin" / "python"
    marker = PEERS_VENV / (".installed-" + "-".join(PEERS))
    if marker.exists():
        return python
    print(f"installing {', '.join(PEERS)} into {PEERS_VENV} ...", flush=True)
    # the interpreter this project's venv was made from: the same Python for every figure
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(PEERS_VENV)], check=True)
    (PEERS_VENV / ".gitignore").write_text("*\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--quiet", *PEERS], check=True)
    marker.touch()
    return python


def measure(argv: list[str]) -> tuple[float, float]:
    """One run in a fresh interpreter: (events per second of wall clock, of CPU time)."""
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    wall, cpu = out.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events per run")
    parser.add_argument("--no-peers", action="store_true", help="skip transitions etc.")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    n = 50_000 if args.quick else 200_000
    me = [sys.executable, __file__, "--child"]
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}; {n:,} events per run, median of {args.runs}",
        flush=True,
    )
    plan: list[tuple[str, list[str]]] = [
        (FLOOR, [*me, "floor", str(n)]),
        ("ours: awaited send", [*me, "awaited", str(n)]),
        ("ours: pipelined send_nowait", [*me, "pipelined", str(n)]),
        ("ours + EventBus: awaited send", [*me, "awaited+bus", str(n)]),
        ("ours + EventBus: pipelined send_nowait", [*me, "pipelined+bus", str(n)]),
    ]
    if not args.no_peers:
        python = str(ensure_peers_venv())
        plan += [
            (PEER, [python, "-c", TRANSITIONS_CODE, str(n)]),
            (
                "python-statemachine 3.2.2: sm.send('flip')",
                # (a tenth of the events: it is an order of magnitude slower than the rest)
                [python, "-c", PYTHON_STATEMACHINE_CODE, str(n // 10)],
            ),
        ]
    # rounds of every figure in turn, so that a change in the machine's load falls on all
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in plan}
    for round_ in range(args.runs):
        for label, argv in plan:
            wall, cpu = measure(argv)
            runs[label].append((wall, cpu))
            print(f"round {round_ + 1}, {label}: {wall:,.0f}/s ({cpu:,.0f}/s of CPU)", flush=True)
    figures = {
        label: (
            statistics.median(wall for wall, _ in rates),
            statistics.median(cpu for _, cpu in rates),
        )
        for label, rates in runs.items()
    }
    print(f"load at the end {os.getloadavg()[0]:.2f}")
    print()
    print(table(figures))


FLOOR = "trio floor: memory-channel ping-pong (msgs/s)"
PEER = "transitions 0.9.3: model.flip()"


def table(figures: dict[str, tuple[float, float]]) -> str:
    """Medians, wall clock and CPU time, each over the floor and over transitions."""
    lines = [
        "| figure | events/s | / floor | / transitions | per CPU second | / floor | "
        "/ transitions |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, rates in figures.items():
        cells = [label]
        for i in (0, 1):
            rate, floor = rates[i], figures[FLOOR][i]
            peer = figures[PEER][i] if PEER in figures else None
            cells += [
                f"{rate:,.0f}",
                f"{rate / floor:.2f}x",
                f"{rate / peer:.2f}x" if peer else "-",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
