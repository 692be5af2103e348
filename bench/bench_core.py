"""Core runtime benchmarks (issue 2): event throughput, many machines, timer lateness.

Run: .venv/bin/python bench/bench_core.py [--quick]
Prints one line per figure; bench/RESULTS.md records the runs.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

import trio
import trio.testing

from statemachine_engine import open_runtime
from statemachine_engine.config import load_config_text
from statemachine_engine.errors import MailboxFull
from statemachine_engine.transport import EventBus, MachineEvent

FLIP = """
initial_state: a
transitions:
  - {from: a, to: b, event: flip}
  - {from: b, to: a, event: flip}
"""

TICK = """
initial_state: ticking
transitions:
  - {from: ticking, to: ticking, event: timeout(0.1)}
"""


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


async def one_machine(n: int) -> None:
    spec = load_config_text(FLIP, known_actions=[])
    async with open_runtime(publisher=EventBus()) as rt:
        ref = await rt.spawn(spec, name="flipper")
        start = time.perf_counter()
        for _ in range(n):
            await ref.send("flip")
        while ref.statistics().transitions < n:
            await trio.sleep(0)
        awaited = n / (time.perf_counter() - start)

        ref2 = await rt.spawn(spec, name="flipper2")
        start = time.perf_counter()
        sent = 0
        while sent < n:  # a fast producer: fill the mailbox, wait only when it is full
            try:
                ref2.send_nowait("flip")
                sent += 1
            except MailboxFull:
                await ref2.send("flip")
                sent += 1
        while ref2.statistics().transitions < n:
            await trio.sleep(0)
        burst = n / (time.perf_counter() - start)
    print(f"one machine, {n:,} events, awaited send per event: {awaited:,.0f} events/s")
    print(f"one machine, {n:,} events, send_nowait bursts:      {burst:,.0f} events/s")


async def many_machines(m: int, rounds: int) -> None:
    spec = load_config_text(FLIP, known_actions=[])
    async with open_runtime(publisher=EventBus()) as rt:
        await rt.spawn(spec, name="warmup")
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        before = rss_bytes()
        start = time.perf_counter()
        refs = [await rt.spawn(spec, name=f"m{i:05d}") for i in range(m)]
        spawn_s = time.perf_counter() - start
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        per_machine = (rss_bytes() - before) / m
        start = time.perf_counter()
        for _ in range(rounds):
            for ref in refs:
                ref.send_nowait("flip")
            await trio.sleep(0)
        await trio.testing.wait_all_tasks_blocked()
        elapsed = time.perf_counter() - start
        done = sum(r.statistics().transitions for r in refs)
        assert done == m * rounds, (done, m * rounds)
    print(f"{m:,} machines: spawned in {spawn_s:.2f} s, {per_machine:,.0f} bytes resident each")
    print(f"{m:,} machines: {m * rounds / elapsed:,.0f} events/s in aggregate")


class _Lateness:
    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.late: list[float] = []

    def publish(self, event: MachineEvent) -> None:
        if event.type == "machine_registered":
            self.last[event.machine_name] = event.timestamp
        elif event.type == "state_change":
            previous = self.last[event.machine_name]
            self.late.append(event.timestamp - previous - 0.1)
            self.last[event.machine_name] = event.timestamp


async def timers(m: int, seconds: float) -> None:
    spec = load_config_text(TICK, known_actions=[])
    probe = _Lateness()
    async with open_runtime(publisher=probe, wall_clock=trio.current_time) as rt:
        for i in range(m):
            await rt.spawn(spec, name=f"t{i:04d}")
        await trio.sleep(seconds)
        await rt.stop()
    late = sorted(probe.late)
    p50 = late[len(late) // 2] * 1000
    p99 = late[int(len(late) * 0.99)] * 1000
    print(
        f"{m:,} machines on timeout(0.1) for {seconds:.0f} s: {len(late):,} timer fires, "
        f"lateness p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {late[-1] * 1000:.2f} ms, "
        f"mean {statistics.fmean(late) * 1000:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    args = parser.parse_args()
    n, m, secs = (50_000, 2_000, 2.0) if args.quick else (200_000, 10_000, 10.0)
    trio.run(one_machine, n)
    trio.run(many_machines, m, 10)
    trio.run(timers, 1_000, secs)


if __name__ == "__main__":
    main()
