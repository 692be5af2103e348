"""Whole-process benchmarks (issue 4): ``statemachine`` runtimes as a user runs them, this
project's and the published package's (statemachine-engine==1.0.91) in the same run.

Run: .venv/bin/python bench/bench_processes.py [--quick] [--no-upstream] [--only NAME ...]

The published package is installed by this script into its own virtual environment,
bench/.upstream-venv (git-ignored), never into the project's. Scenarios (NAME):

* throughput -- events into one machine through its control socket from this process, over
  one persistent connection: pipelined (``ControlConnection.send_many``) and one at a time
  (each acknowledgement awaited; for the published package, which acknowledges nothing,
  each transition); counted by the transitions observed on the event socket.
* latency    -- one event at a time: from the send to its ``state_change`` on the event
  socket; p50 and p99.
* pingpong   -- two machines in two processes sending each other a ball with
  ``send_event``; round trips per second, counted by this process as it reads every event
  of both runtimes; then again with this process at idle CPU priority (on two cores its
  own wake-ups otherwise take turns from the runtimes it measures); then, this project
  only, with no monitor listening (bench/_pingpong.py).
* start      -- ``statemachine CONFIG``: from process spawn to ``machine_registered`` on the
  event socket (the first state entered); median of N runs.
* fifty      -- 50 machines of one config ready (registry rows): this project's in one
  process (``statemachine run`` with a manifest, ``instances: 50``, ``--no-monitor``; and
  through the Python API, imports excluded), the published package's as 50 processes.
* lateness   -- a machine flipping between two states on ``timeout(0.1)``: how late each
  timeout fires (interval between transitions minus 0.1 s, by the runtime's own clock).

Prints one line per figure and a Markdown table at the end.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _pingpong import pingpong
from _process_harness import (
    OUR_BIN,
    UPSTREAM_VERSION,
    Impl,
    Ours,
    Upstream,
    ensure_upstream_venv,
    memory_kib,
    write,
)

FLIP_YAML = """\
metadata: {name: Flip}
initial_state: a
states: [a, b, stopped]
events: [go, stop]
transitions:
  - {from: a, to: b, event: go}
  - {from: b, to: a, event: go}
  - {from: "*", to: stopped, event: stop}
"""

TIMER_YAML = """\
metadata: {name: Timer}
initial_state: a
states: [a, b, stopped]
events: ["timeout(0.1)", stop]
transitions:
  - {from: a, to: b, event: timeout(0.1)}
  - {from: b, to: a, event: timeout(0.1)}
  - {from: "*", to: stopped, event: stop}
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


class Results:
    def __init__(self) -> None:
        # figure -> {impl label: (value, unit)}
        self.rows: dict[str, dict[str, tuple[float, str]]] = {}
        self.higher_is_better: dict[str, bool] = {}
        self.notes: list[str] = []

    def add(self, figure: str, impl: str, value: float, unit: str, *, higher: bool) -> None:
        self.rows.setdefault(figure, {})[impl] = (value, unit)
        self.higher_is_better[figure] = higher
        print(f"  {impl:<22} {figure:<58} {fmt(value, unit)}", flush=True)

    def table(self, ours: str, upstream: str) -> str:
        lines = [
            f"| figure | {ours} | {upstream} | ratio |",
            "|---|---|---|---|",
        ]
        for figure, values in self.rows.items():
            mine = values.get(ours)
            theirs = values.get(upstream)
            ratio = "-"
            if mine and theirs and mine[0] > 0 and theirs[0] > 0:
                better = (
                    mine[0] / theirs[0] if self.higher_is_better[figure] else theirs[0] / mine[0]
                )
                ratio = f"{better:,.1f}x" if better >= 1 else f"{better:.2f}x"
            lines.append(
                f"| {figure} | {fmt(*mine) if mine else '-'} | "
                f"{fmt(*theirs) if theirs else '-'} | {ratio} |"
            )
        return "\n".join(lines)


def fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "s":
        return f"{value:,.2f} s"
    return f"{value:,.0f} {unit}"


# -- scenarios ------------------------------------------------------------------------------

Scenario = Callable[[Impl, Results, dict[str, Any]], Awaitable[None]]


async def throughput(impl: Impl, results: Results, size: dict[str, Any]) -> None:
    config = write(impl.work, "flip.yaml", FLIP_YAML)
    for mode in ("pipelined", "sequential"):
        n = size[f"throughput_{mode}_{'up' if impl.datagram else 'ours'}"]
        name = impl.unique("sink")
        proc = await impl.start_ready(config, name)
        sender = impl.sender(name)
        before = impl.observer.count(name, "state_change")
        start = time.perf_counter()
        if mode == "pipelined":
            async with trio.open_nursery() as nursery:
                nursery.start_soon(sender.send_many, ("go" for _ in range(n)))
                end = await impl.observer.wait_count(name, "state_change", before + n, 300)
        else:
            for i in range(n):
                await sender.send("go")
                if impl.datagram:
                    # no acknowledgement: the transition is the only sign it arrived
                    await impl.observer.wait_count(name, "state_change", before + i + 1, 30)
            end = await impl.observer.wait_count(name, "state_change", before + n, 300)
        await sender.aclose()
        label = "one at a time" if mode == "sequential" else "pipelined"
        results.add(
            f"events into one machine, control socket, {label}",
            impl.label,
            n / (end - start),
            "events/s",
            higher=True,
        )
        await impl.stop(name, proc)


async def latency(impl: Impl, results: Results, size: dict[str, Any]) -> None:
    config = write(impl.work, "flip.yaml", FLIP_YAML)
    name = impl.unique("lat")
    proc = await impl.start_ready(config, name)
    sender = impl.sender(name)
    samples = size["latency_up" if impl.datagram else "latency_ours"]
    delays: list[float] = []
    for i in range(samples + 10):
        seen = impl.observer.count(name, "state_change")
        start = time.perf_counter()
        await sender.send("go")
        end = await impl.observer.wait_count(name, "state_change", seen + 1, 30)
        if i >= 10:  # warm-up
            delays.append((end - start) * 1000)
    await sender.aclose()
    results.add(
        "send -> state_change observed, p50", impl.label, percentile(delays, 50), "ms", higher=False
    )
    results.add(
        "send -> state_change observed, p99", impl.label, percentile(delays, 99), "ms", higher=False
    )
    await impl.stop(name, proc)


async def start(impl: Impl, results: Results, size: dict[str, Any]) -> None:
    config = write(impl.work, "flip.yaml", FLIP_YAML)
    runs = size["start_runs"]
    times: list[float] = []
    for i in range(runs + 1):
        name = impl.unique("start")
        cwd = impl.work / f"start{i}"  # a fresh database each time
        t0 = time.perf_counter()
        proc = await impl.start(config, name, cwd)
        end = await impl.observer.wait_count(name, "machine_registered", 1, 60)
        if i > 0:  # the first run warms the file cache (and compiles our modules)
            times.append((end - t0) * 1000)
        await impl.stop(name, proc)
    label = "statemachine start -> machine_registered, median"
    if isinstance(impl, Ours) and impl.pycache is None:
        label += " (modules compiled from source each time)"
    results.add(label, impl.label, statistics.median(times), "ms", higher=False)


async def fifty(impl: Impl, results: Results, size: dict[str, Any]) -> None:
    config = write(impl.work, "flip.yaml", FLIP_YAML)
    n = 50
    cwd = impl.work / "fifty"
    cwd.mkdir(exist_ok=True)
    db = impl.db_of(cwd)
    t0 = time.perf_counter()
    procs = []
    if isinstance(impl, Ours):
        manifest = write(
            cwd,
            "statemachine-project.yaml",
            f"name: fifty\ndb: {db}\nevent_socket_path: {impl.event_socket}\n"
            f"control_socket_prefix: {impl.prefix}\nmonitor: false\n"
            f"machines:\n  - {{config: {config}, name: m, instances: {n}}}\n",
        )
        argv = [str(OUR_BIN / "statemachine"), "run", str(manifest), "--no-monitor"]
        procs.append(await impl.spawn(argv, cwd, "fifty"))
    else:
        for _ in range(n):
            procs.append(await impl.start(config, impl.unique("m"), cwd))
    end = await wait_rows(db, n, 120)
    memory = [memory_kib(p.pid) for p in procs]
    # ours: one process (statemachine run); the published package: one process per machine
    results.add(
        f"{n} machines of one config ready (spawn -> {n} registry rows)",
        impl.label,
        (end - t0),
        "s",
        higher=False,
    )
    results.add(
        f"{n} machines of one config: memory, PSS",
        impl.label,
        sum(pss for _, pss in memory) / 1024,
        "MiB",
        higher=False,
    )
    results.add(
        f"{n} machines of one config: memory, RSS summed",
        impl.label,
        sum(rss for rss, _ in memory) / 1024,
        "MiB",
        higher=False,
    )
    for proc in procs:
        proc.kill()
        await proc.wait(10)
    if isinstance(impl, Ours):
        await fifty_in_process(impl, results, config)


async def fifty_in_process(impl: Ours, results: Results, config: Path) -> None:
    """The same 50 machines through the Python API in this process (imports excluded)."""
    from statemachine_engine import load_config, open_runtime
    from statemachine_engine.persistence import open_store

    db = impl.work / "fifty-api.db"
    t0 = time.perf_counter()
    async with open_store(str(db)) as store, open_runtime(store=store) as runtime:
        spec = load_config(config)
        for i in range(50):
            await runtime.spawn(spec, name=f"m_{i + 1:03d}")
        ready = time.perf_counter()
        await runtime.stop()
    results.add(
        "50 machines of one config ready (Python API, in-process)",
        impl.label,
        ready - t0,
        "s",
        higher=False,
    )


async def wait_rows(db: Path, n: int, timeout: float) -> float:
    """Poll the registry until it holds ``n`` rows; the instant it did."""

    def count() -> int:
        if not db.exists():
            return 0
        try:
            conn = sqlite3.connect(db, timeout=5)
            try:
                return int(conn.execute("SELECT count(*) FROM machine_state").fetchone()[0])
            finally:
                conn.close()
        except sqlite3.OperationalError:
            return 0

    with trio.move_on_after(timeout):
        while await trio.to_thread.run_sync(count) < n:
            await trio.sleep(0.005)
        return time.perf_counter()
    raise TimeoutError(f"{db}: fewer than {n} registry rows after {timeout:g} s")


async def lateness(impl: Impl, results: Results, size: dict[str, Any]) -> None:
    config = write(impl.work, "timer.yaml", TIMER_YAML)
    name = impl.unique("timer")
    proc = await impl.start_ready(config, name)
    samples = size["lateness_samples"]
    await impl.observer.wait_count(name, "state_change", samples + 2, samples * 0.5 + 30)
    changes = impl.observer.find(name, "state_change")
    stamps = [e["payload"]["timestamp"] for _, e in changes][1:]  # the first follows startup
    late = [(b - a - 0.1) * 1000 for a, b in itertools.pairwise(stamps)]
    results.add(
        "timeout(0.1) lateness on an idle runtime, p50",
        impl.label,
        percentile(late, 50),
        "ms",
        higher=False,
    )
    results.add(
        "timeout(0.1) lateness on an idle runtime, p99",
        impl.label,
        percentile(late, 99),
        "ms",
        higher=False,
    )
    await impl.stop(name, proc)


SCENARIOS: dict[str, Scenario] = {
    "throughput": throughput,
    "latency": latency,
    "pingpong": pingpong,
    "start": start,
    "fifty": fifty,
    "lateness": lateness,
}

FULL = {
    "throughput_pipelined_ours": 50_000,
    "throughput_sequential_ours": 5_000,
    "throughput_pipelined_up": 100,
    "throughput_sequential_up": 50,
    "latency_ours": 2_000,
    "latency_up": 100,
    "pingpong_seconds": 5.0,
    "start_runs": 11,
    "lateness_samples": 400,  # 40 s: p99 is the 4th slowest, not the slowest but one
}
QUICK = {
    "throughput_pipelined_ours": 10_000,
    "throughput_sequential_ours": 1_000,
    "throughput_pipelined_up": 40,
    "throughput_sequential_up": 20,
    "latency_ours": 500,
    "latency_up": 30,
    "pingpong_seconds": 2.0,
    "start_runs": 5,
    "lateness_samples": 30,
}


async def run_scenario(name: str, impl: Impl, results: Results, size: dict[str, Any]) -> None:
    try:
        async with trio.open_nursery() as nursery:
            await impl.listen(nursery)
            try:
                await SCENARIOS[name](impl, results, size)
            finally:
                nursery.cancel_scope.cancel()
    except TimeoutError as exc:
        results.notes.append(f"{impl.label}, {name}: {exc}")
        print(f"  {impl.label}: {name} failed: {exc}", flush=True)
    finally:
        impl.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, shorter runs")
    parser.add_argument("--no-upstream", action="store_true", help="skip the published package")
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), help="these scenarios")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    upstream_python = None if args.no_upstream else ensure_upstream_venv()
    results = Results()
    root = Path(tempfile.mkdtemp(prefix="smbench"))
    pycache = root / "pycache"
    print(
        f"{datetime.date.today()} python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}; work dir {root}",
        flush=True,
    )
    try:
        for name in args.only or list(SCENARIOS):
            print(f"{name}:", flush=True)
            impls: list[Impl] = [Ours(root / f"ours-{name}", pycache)]
            if name == "start":
                impls.append(Ours(root / f"ours-{name}-source", None))
            if upstream_python is not None:
                impls.append(Upstream(root / f"upstream-{name}", upstream_python))
            for impl in impls:
                trio.run(run_scenario, name, impl, results, size)
        baseline(results)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(results.table(Ours.label, f"published {UPSTREAM_VERSION}"))
    for note in results.notes:
        print(f"note: {note}")


def baseline(results: Results) -> None:
    """The interpreter's own start and the imports any trio/YAML/attrs program pays."""
    for label, code in (
        ("python -c pass", "pass"),
        ("python -c 'import trio, yaml, attrs, cattrs'", "import trio, yaml, attrs, cattrs"),
    ):
        times = []
        for _ in range(11):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append((time.perf_counter() - t0) * 1000)
        results.add(
            f"for comparison: {label}, median",
            "trio edition",
            statistics.median(times[1:]),
            "ms",
            higher=False,
        )


if __name__ == "__main__":
    main()
