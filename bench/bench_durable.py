"""Durable machines (issue 12): the runtime's figures with durable machines, each beside the
same figure with non-durable machines, in the same run.

Run: .venv/bin/python bench/bench_durable.py [--quick] [--only NAME ...]

Scenarios (NAME):

* transitions -- one process, 1,000 machines of one config on a SQLite file (the production
  settings), events sent to every machine in rounds (``send_nowait``, as bench_core.py's
  10,000-machines figure), until every transition is done and committed; then the same
  with each event sent by an awaited ``send`` from one task per machine (for a durable
  machine, ``send`` returns once the event is committed to its inbox -- what the control
  socket acknowledges).
* pingpong    -- two ``statemachine`` processes whose machines send each other a ball with
  ``send_event`` (one message in flight, the reply back), with no monitor listening;
  round trips per second and the latency of one ``send_event`` (from the sender's
  transition into its sending state to the receiver's transition the message fires, by the
  runtimes' history rows), p50 and p99. Beside it, the bare two-process trio exchange of
  the same messages (bench/_bare_rally.py: control sockets, no machine, no store).
* resume      -- a process starts 10,000 durable machines and moves each out of its initial
  state; once that is committed it is killed with SIGKILL; then the time from starting a
  new process until all 10,000 are running again in their states (bench/_durable_runner.py),
  the machines started one after another as ``statemachine run`` starts a manifest's, and
  all at once. Beside it, a new process starting 10,000 non-durable machines.

Prints one line per figure, then a table (durable beside non-durable) and the targets.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import shutil
import signal
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
import trio.testing

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _pingpong import PLAYER_YAML, serve
from _process_harness import Ours, Proc, write
from bench_core import FLIP
from bench_processes import Results, fmt, percentile

from statemachine_engine import open_runtime
from statemachine_engine.config import load_config_text
from statemachine_engine.persistence import open_store
from statemachine_engine.transport import MachineEvent

BENCH = Path(__file__).resolve().parent
DURABLE = "durable"
PLAIN = "non-durable"

# -- transitions in one process -------------------------------------------------------------


class Transitions:
    """A publisher that counts state changes and says when ``target`` of them are done."""

    def __init__(self) -> None:
        self.count = 0
        self.target = -1
        self.reached = trio.Event()

    def publish(self, event: MachineEvent) -> None:
        if event.type == "state_change":
            self.count += 1
            if self.count == self.target:
                self.reached.set()


async def many_machines(db: Path, durable: bool, m: int, rounds: int, awaited: bool) -> float:
    """Events per second into ``m`` machines, until every transition is committed."""
    spec = load_config_text(FLIP, known_actions=[])
    counter = Transitions()
    async with open_store(db) as store, open_runtime(store=store, publisher=counter) as rt:
        refs = [await rt.spawn(spec, name=f"m{i:05d}", durable=durable) for i in range(m)]
        await trio.testing.wait_all_tasks_blocked()
        await store.flush()
        counter.target = counter.count + m * rounds
        start = time.perf_counter()
        if awaited:
            async with trio.open_nursery() as nursery:
                for ref in refs:
                    nursery.start_soon(_send_rounds, ref, rounds)
        else:
            for _ in range(rounds):
                for ref in refs:
                    ref.send_nowait("flip")
                await trio.sleep(0)
        await counter.reached.wait()
        await store.flush()
        elapsed = time.perf_counter() - start
        await rt.stop()
    return m * rounds / elapsed


async def _send_rounds(ref: Any, rounds: int) -> None:
    for _ in range(rounds):
        await ref.send("flip")


def transitions(root: Path, results: Results, size: dict[str, Any]) -> None:
    m, rounds, runs = size["machines"], size["rounds"], size["runs"]
    for awaited in (False, True):
        how = "awaited send from a task per machine" if awaited else "send_nowait rounds"
        rates: dict[str, list[float]] = {DURABLE: [], PLAIN: []}
        for run in range(runs):  # alternating: the machine's load drifts between runs
            for label, durable in ((PLAIN, False), (DURABLE, True)):
                db = root / f"transitions-{label}-{awaited}-{run}.db"
                rates[label].append(trio.run(many_machines, db, durable, m, rounds, awaited))
        for label, values in rates.items():
            results.add(
                f"{m:,} machines on a SQLite file, {how}: transitions committed",
                label,
                statistics.median(values),
                "/s",
                higher=True,
            )


# -- send_event between two processes -------------------------------------------------------


async def rally(impl: Ours, durable: bool, seconds: float) -> tuple[float, list[float]]:
    """Round trips per second and one-way send_event latencies (ms) of two fresh runtimes
    whose event socket nobody listens on, from their history rows."""
    ping, pong = impl.unique("ping"), impl.unique("pong")
    cwd = impl.work / ("durable" if durable else "plain")
    nobody = str(impl.sock_dir / "nobody.sock")
    procs: list[tuple[str, Proc]] = []
    for me, other in ((ping, pong), (pong, ping)):
        yaml = ("durable: true\n" if durable else "") + PLAYER_YAML.format(other=other)
        argv = impl.argv(write(cwd, f"{me}.yaml", yaml), me, cwd)
        argv[argv.index("--event-socket-path") + 1] = nobody
        procs.append((me, await impl.spawn(argv, cwd, me)))
    with trio.fail_after(30):
        # no machine_registered to wait for: a runtime is ready once its socket exists
        while not all(os.path.exists(impl.control_path(name)) for name, _ in procs):
            await trio.sleep(0.01)
    await serve(impl, ping)
    await trio.sleep(0.5)  # the rally gets going
    t0 = time.time()  # the history rows carry the runtimes' wall-clock timestamps
    await trio.sleep(seconds)
    t1 = time.time()
    for name, proc in procs:
        await impl.stop(name, proc)  # a stopped runtime has written all its history
    with sqlite3.connect(impl.db_of(cwd)) as db:
        rows = db.execute(
            "SELECT machine_name, timestamp FROM state_transitions"
            " WHERE to_state = 'hitting' AND timestamp >= ? AND timestamp < ? ORDER BY timestamp",
            (t0, t1),
        ).fetchall()
    # each ball fires the receiver's ready -> hitting: the time from the sender's own
    # entry into hitting (its send_event action) is one message's latency
    latencies = [(b[1] - a[1]) * 1000 for a, b in itertools.pairwise(rows) if a[0] != b[0]]
    round_trips = sum(1 for name, _ in rows if name == ping)
    return round_trips / (t1 - t0), latencies


async def bare_rally(impl: Ours, seconds: float) -> list[float]:
    """Round-trip times (ms) of the bare exchange between two processes."""
    ping_path = str(impl.sock_dir / "bare-ping.sock")
    pong_path = str(impl.sock_dir / "bare-pong.sock")
    script = str(BENCH / "_bare_rally.py")
    cwd = impl.work / "bare"
    pong = await impl.spawn(
        [sys.executable, script, "pong", pong_path, ping_path, str(seconds)], cwd, "bare-pong"
    )
    try:
        result = await trio.run_process(
            [sys.executable, script, "ping", ping_path, pong_path, str(seconds)],
            capture_stdout=True,
            env=impl.env(),
        )
    finally:
        pong.kill()
        await pong.wait(5)
    return [float(t) for t in json.loads(result.stdout)["round_trips_ms"]]


async def pingpong_scenario(impl: Ours, results: Results, size: dict[str, Any]) -> None:
    seconds = size["rally_seconds"]
    figure = "send_event between two processes, one at a time"
    for label, durable in ((PLAIN, False), (DURABLE, True)):
        rate, latencies = await rally(impl, durable, seconds)
        results.add(f"{figure}: round trips", label, rate, "/s", higher=True)
        for q in (50, 99):
            results.add(
                f"{figure}: latency p{q}", label, percentile(latencies, q), "ms", higher=False
            )
    times = await bare_rally(impl, seconds)
    results.add(
        "bare trio exchange, two processes (no machine, no store): round trips",
        PLAIN,
        len(times) / (sum(times) / 1000),
        "/s",
        higher=True,
    )
    results.add(
        "bare trio exchange, two processes: one-way latency (half a round trip) p50",
        PLAIN,
        percentile(times, 50) / 2,
        "ms",
        higher=False,
    )


# -- resume after kill -9 -------------------------------------------------------------------


async def runner(impl: Ours, db: Path, n: int, mode: str, *flags: str) -> tuple[float, str]:
    """Start bench/_durable_runner.py; the perf_counter instant it was started and its first
    line of output. The process is left running (killed by the caller)."""
    argv = [sys.executable, str(BENCH / "_durable_runner.py"), str(db), str(n), mode, *flags]
    started = time.perf_counter()
    process = await trio.lowlevel.open_process(
        argv, stdout=subprocess.PIPE, stderr=None, env=impl.env()
    )
    impl.procs.append(Proc(mode, process, db.with_suffix(".log")))
    assert process.stdout is not None
    line = b""
    with trio.fail_after(120):
        while not line.endswith(b"\n"):
            chunk = await process.stdout.receive_some(4096)
            if not chunk:
                raise RuntimeError(f"{argv} ended with {await process.wait()}")
            line += chunk
    return started, line.decode()


async def kill9(impl: Ours) -> None:
    for proc in impl.procs:
        if proc.process.returncode is None:
            os.kill(proc.pid, signal.SIGKILL)
            await proc.process.wait()
    impl.procs.clear()


async def resume_scenario(impl: Ours, results: Results, size: dict[str, Any]) -> None:
    n = size["resume"]
    db = impl.work / "resume.db"
    impl.work.mkdir(parents=True, exist_ok=True)
    _, line = await runner(impl, db, n, "spawn", "--durable", "--together")
    assert line.strip() == "committed", line
    await kill9(impl)
    for how, flags in (("one after another", ()), ("all at once", ("--together",))):
        started, line = await runner(impl, db, n, "resume", "--durable", *flags)
        await kill9(impl)  # killed again: the next start resumes after a kill -9 too
        report = json.loads(line)
        assert report["in_b"] == n, f"{report['in_b']} of {n} resumed in their state"
        label = f"{n:,} machines running again after kill -9, started {how}"
        results.add(label, DURABLE, report["running"] - started, "s", higher=False)
        print(
            f"    (interpreter and imports {report['imported'] - started:.2f} s, store open"
            f" {report['opened'] - report['imported']:.2f} s, machines"
            f" {report['running'] - report['opened']:.2f} s)",
            flush=True,
        )
        if how == "one after another":
            fresh = impl.work / "fresh.db"
            started, line = await runner(impl, fresh, n, "resume")
            await kill9(impl)
            report = json.loads(line)
            results.add(label, PLAIN, report["running"] - started, "s", higher=False)


# -- the run --------------------------------------------------------------------------------

Scenario = Callable[[Ours, Results, dict[str, Any]], Awaitable[None]]
SCENARIOS = ("transitions", "pingpong", "resume")
PROCESS_SCENARIOS: dict[str, Scenario] = {"pingpong": pingpong_scenario, "resume": resume_scenario}

FULL = {"machines": 1_000, "rounds": 20, "runs": 3, "rally_seconds": 5.0, "resume": 10_000}
QUICK = {"machines": 1_000, "rounds": 5, "runs": 1, "rally_seconds": 2.0, "resume": 2_000}

#: (part of a figure's name, target, higher is better): durable machines, then non-durable
TARGETS = (
    ("transitions committed", 20_000.0, True),
    ("one at a time: latency p50", 3.0, False),
    ("one at a time: latency p99", 15.0, False),
    ("one at a time: round trips", 300.0, True),
    ("running again after kill -9, started one after another", 5.0, False),
)
PLAIN_TARGETS = (("one at a time: round trips", 3_000.0, True),)


def targets(results: Results) -> str:
    lines = ["| target | figure | measured | ratio to target |", "|---|---|---|---|"]
    for column, wanted in ((DURABLE, TARGETS), (PLAIN, PLAIN_TARGETS)):
        for part, target, higher in wanted:
            for figure, values in results.rows.items():
                if part not in figure or column not in values or "bare" in figure:
                    continue
                value, unit = values[column]
                ratio = value / target if higher else target / value
                sign = ">=" if higher else "<="
                lines.append(
                    f"| {column} {sign} {fmt(target, unit)} | {figure} | {fmt(value, unit)} |"
                    f" {ratio:.2f}x |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, shorter runs")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, help="these scenarios")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    results = Results()
    root = Path(tempfile.mkdtemp(prefix="smdurable"))
    print(
        f"{datetime.date.today()} python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}; work dir {root}",
        flush=True,
    )
    began = time.perf_counter()
    try:
        for name in args.only or SCENARIOS:
            print(f"{name}:", flush=True)
            if name == "transitions":
                transitions(root, results, size)
                continue
            # compiled modules, as an installed package has them
            impl = Ours(root / name, root / "pycache")
            try:
                trio.run(PROCESS_SCENARIOS[name], impl, results, size)
            finally:
                impl.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(results.table(DURABLE, PLAIN).replace("| ratio |", "| durable / non-durable |"))
    print()
    print(targets(results))
    print(f"\n{time.perf_counter() - began:.0f} s in all")


if __name__ == "__main__":
    main()
