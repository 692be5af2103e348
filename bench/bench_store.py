"""Store and job-queue benchmarks (issue 3).

Run: .venv/bin/python bench/bench_store.py [--quick]
Prints one line per figure; bench/RESULTS.md records the runs (bench/README.md says what
each figure measures).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import trio

from statemachine_engine.actions.builtin.check_database_queue_action import (
    CheckDatabaseQueueAction,
)
from statemachine_engine.actions.builtin.complete_job_action import CompleteJobAction
from statemachine_engine.actors import open_runtime
from statemachine_engine.config import load_config_text
from statemachine_engine.persistence import NewJob, SqliteStore, open_store

WORKER = """
name: worker
initial_state: waiting
states: [waiting, working, done, stopped]
transitions:
  - {from: waiting, to: working, event: new_job}
  - {from: waiting, to: stopped, event: no_jobs}
  - {from: working, to: done, event: job_done}
  - {from: done, to: waiting, event: success}
actions:
  waiting: [{type: check_database_queue, job_type: bench, wait: 0}]
  working: [{type: set_context, key: seen, value: "{job_id}", success: job_done}]
  done: [{type: complete_job}]
"""

FLIPPER = """
name: flipper
initial_state: a
states: [a, b]
transitions:
  - {from: a, to: b, event: flip}
  - {from: b, to: a, event: flip}
actions:
  a: [{type: set_context, key: side, value: a, success: flip}]
  b: [{type: set_context, key: side, value: b, success: flip}]
"""


class Scratch:
    """A fresh directory for each database; removed at exit."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="smbench", dir="/tmp"))
        self.count = 0

    def db(self) -> str:
        self.count += 1
        return str(self.root / f"bench{self.count}.db")

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def report(label: str, value: float, unit: str) -> None:
    print(f"{label:<72} {value:>12,.0f} {unit}", flush=True)


def timed(fn: Callable[[], Awaitable[int]]) -> float:
    """Run ``fn`` in a fresh trio run; its return value (work done) per second."""
    result: list[float] = []

    async def main() -> None:
        started = time.perf_counter()
        count = await fn()
        result.append(count / (time.perf_counter() - started))

    trio.run(main)
    return result[0]


async def _filled(path: str, n: int) -> tuple[Any, SqliteStore]:
    manager = open_store(path)
    store = await manager.__aenter__()
    await store.add_jobs(NewJob(f"job_{i}", "bench") for i in range(n))
    return manager, store


def bench_enqueue(scratch: Scratch, n: int) -> float:
    async def run() -> int:
        async with open_store(scratch.db()) as store:
            return await store.add_jobs(
                NewJob(f"job_{i}", "bench", data={"i": i}) for i in range(n)
            )

    return timed(run)


def bench_store_drain(path: str, n: int) -> float:
    """Claim and complete through the async store, one job at a time."""
    rate: list[float] = []

    async def main() -> None:
        manager, store = await _filled(path, n)
        try:
            started = time.perf_counter()
            done = 0
            while job := await store.claim_next(job_type="bench", machine_type=None, worker="w"):
                await store.complete(job.job_id)
                done += 1
            rate.append(done / (time.perf_counter() - started))
            assert done == n
        finally:
            await manager.__aexit__(None, None, None)

    trio.run(main)
    return rate[0]


class BenchHost:
    """The little an action needs from its machine."""

    def __init__(self, store: SqliteStore) -> None:
        self.machine_name = "worker"
        self.store = store
        self.published = 0

    def publish(self, event_type: str, payload: Mapping[str, Any]) -> None:
        self.published += 1

    def wall_time(self) -> float:
        return time.time()


def bench_action_drain(path: str, n: int) -> float:
    """check_database_queue, a trivial step, complete_job: the actions without a runtime."""
    rate: list[float] = []

    async def main() -> None:
        manager, store = await _filled(path, n)
        host = BenchHost(store)
        check = CheckDatabaseQueueAction({"type": "check_database_queue", "wait": 0})
        complete = CompleteJobAction({"type": "complete_job"})
        check.host = complete.host = host  # type: ignore[assignment]
        context: dict[str, Any] = {"machine_name": "worker"}
        try:
            started = time.perf_counter()
            done = 0
            while await check.execute(context) == "new_job":
                context["seen"] = context["job_id"]  # the trivial action
                assert await complete.execute(context) == "success"
                done += 1
            rate.append(done / (time.perf_counter() - started))
            assert done == n
        finally:
            await manager.__aexit__(None, None, None)

    trio.run(main)
    return rate[0]


def bench_runtime_drain(path: str, n: int, workers: int = 1, prefetch: int | None = None) -> float:
    """Worker machines in a runtime drain the queue (claim, trivial action, complete);
    ``prefetch`` None leaves check_database_queue's default."""
    rate: list[float] = []
    text = WORKER
    if prefetch is not None:
        text = text.replace("wait: 0}", f"wait: 0, prefetch: {prefetch}}}")
    spec = load_config_text(text)

    async def main() -> None:
        manager, store = await _filled(path, n)
        try:
            async with open_runtime(store=store) as runtime:
                started = time.perf_counter()
                refs = [await runtime.spawn(spec, name=f"worker_{i}") for i in range(workers)]
                for ref in refs:
                    await ref.wait_stopped()
                rate.append(n / (time.perf_counter() - started))
            counts = await store.count_jobs()
            assert counts["completed"] == n, counts
        finally:
            await manager.__aexit__(None, None, None)

    trio.run(main)
    return rate[0]


def bench_record_transitions(path: str, n: int) -> float:
    """Recorder calls as a busy machine makes them (a checkpoint every 64), until committed."""

    async def run() -> int:
        async with open_store(path) as store:
            context = {"job_id": "job_1", "step": 0}
            for step in range(n):
                context["step"] = step
                store.transition(
                    "flipper",
                    from_state="a",
                    to_state="b",
                    event="flip",
                    timestamp=time.time(),
                    context=context,
                )
                if step % 64 == 63:
                    await trio.lowlevel.checkpoint()
            await store.flush()
            assert store.dropped == 0
            return n

    return timed(run)


def bench_runtime_transitions(path: str, seconds: float) -> float:
    """A machine flipping between two states in a runtime; transitions in the database per
    second of flipping."""
    rate: list[float] = []
    spec = load_config_text(FLIPPER)

    async def main() -> None:
        async with open_store(path) as store:
            async with open_runtime(store=store) as runtime:
                ref = await runtime.spawn(spec, name="flipper")
                started = time.perf_counter()
                await trio.sleep(seconds)
                await ref.stop()
                elapsed = time.perf_counter() - started
            await store.flush()
            recorded = len(await store.transitions(machine="flipper", limit=None))
            assert store.dropped == 0, store.dropped
            rate.append(recorded / elapsed)

    trio.run(main)
    return rate[0]


def bench_add_job_process(scratch: Scratch, runs: int, *, bytecode: bool) -> float:
    """``statemachine-db add-job`` as a whole process; median milliseconds."""
    exe = Path(sys.executable).with_name("statemachine-db")
    db = scratch.db()
    env = dict(os.environ)
    if bytecode:
        # as an installed package has it: compiled modules (this environment may disable
        # writing them; keep them out of the source tree)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(scratch.root / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    base = [str(exe), "--db", db, "add-job"]
    subprocess.run([*base, "warm-up", "--type", "t"], env=env, check=True, capture_output=True)
    times = []
    for i in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [*base, f"job_{i}", "--type", "t", "--payload", '{"n": 1}'],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def bench_interpreter(runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    args = parser.parse_args()
    # the flipping machine is reported as a busy loop on purpose; keep the table readable
    logging.basicConfig(level=logging.ERROR)
    n = 2_000 if args.quick else 10_000
    runs = 1 if args.quick else 3
    scratch = Scratch()
    file = scratch.db
    figures: list[tuple[str, Callable[[], float], str]] = [
        (
            f"bulk enqueue, add_jobs, file, n={5 * n}",
            lambda: bench_enqueue(scratch, 5 * n),
            "jobs/s",
        ),
    ]
    for kind, where in (("file", file), ("memory", lambda: ":memory:")):
        figures += [
            (
                f"drain, store API (claim_next + complete), {kind}, n={n}",
                lambda where=where: bench_store_drain(where(), n),
                "jobs/s",
            ),
            (
                f"drain, actions (check_database_queue, step, complete_job), {kind}, n={n}",
                lambda where=where: bench_action_drain(where(), n),
                "jobs/s",
            ),
            (
                f"drain, 1 worker machine in a runtime, {kind}, n={n}",
                lambda where=where: bench_runtime_drain(where(), n),
                "jobs/s",
            ),
        ]
    figures += [
        (
            f"drain, 1 worker machine in a runtime, prefetch: 0, file, n={n}",
            lambda: bench_runtime_drain(file(), n, prefetch=0),
            "jobs/s",
        ),
        (
            f"drain, 8 worker machines in a runtime, file, n={n}",
            lambda: bench_runtime_drain(file(), n, workers=8),
            "jobs/s",
        ),
        (
            f"transitions recorded (Recorder calls), file, n={10 * n}",
            lambda: bench_record_transitions(file(), 10 * n),
            "transitions/s",
        ),
        (
            "transitions recorded, flipping machine in a runtime, file, 3 s",
            lambda: bench_runtime_transitions(file(), 3.0),
            "transitions/s",
        ),
        (
            "transitions, same machine without a store (runtime ceiling), 3 s",
            lambda: bench_flip_without_store(3.0),
            "transitions/s",
        ),
    ]
    samples = 10 if args.quick else 30
    try:
        for label, measure, unit in figures:
            report(label, median_of(runs, measure), unit)
        for compiled in (True, False):
            what = "compiled modules" if compiled else "no bytecode cache"
            report(
                f"statemachine-db add-job process, {what}, median of {samples}",
                bench_add_job_process(scratch, samples, bytecode=compiled),
                "ms",
            )
        report(
            f"python -c pass (interpreter start), median of {samples}",
            bench_interpreter(samples),
            "ms",
        )
    finally:
        scratch.close()


def bench_flip_without_store(seconds: float) -> float:
    rate: list[float] = []
    spec = load_config_text(FLIPPER)

    async def main() -> None:
        async with open_runtime() as runtime:
            ref = await runtime.spawn(spec, name="flipper")
            started = time.perf_counter()
            await trio.sleep(seconds)
            transitions = ref.statistics().transitions
            rate.append(transitions / (time.perf_counter() - started))
            await ref.stop()

    trio.run(main)
    return rate[0]


if __name__ == "__main__":
    main()
