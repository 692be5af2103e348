"""The PostgreSQL store against SQLite (issue 13): durable transitions per second in one
process, and a job queue drained by 4 workers in 2 processes.

Run: .venv/bin/python bench/bench_pg.py [--quick] [--runs R] [--url URL] [--fast-server]

Without ``--url`` the bench starts its own throwaway PostgreSQL (tests/pg_cluster.py: initdb
in a temporary folder, loopback only) with the durability a production server has --
``fsync``, ``full_page_writes`` and ``synchronous_commit`` on -- unless ``--fast-server``
keeps the test suite's settings (all three off). Figures:

* ``transitions`` -- 1,000 durable machines (``durable: true``: a checkpoint per step) fed
  ``send_nowait`` rounds in one process, transitions per second until all are committed;
  the same on a SQLite file;
* ``drain`` -- 20,000 no-op jobs drained by 4 workers in 2 processes (2 worker tasks per
  process, each claiming with claim-ahead and completing without waiting), jobs per second
  from the first job's start to the last one's completion as the job rows stamp them; the
  same on a SQLite file.

Each figure is the median of ``--runs`` runs (default 3), the backends' runs interleaved.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import trio
import trio.testing

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))

from bench_core import FLIP  # noqa: E402

from statemachine_engine import open_runtime  # noqa: E402
from statemachine_engine.config import load_config_text  # noqa: E402
from statemachine_engine.persistence import NewJob, open_store  # noqa: E402
from statemachine_engine.transport import MachineEvent  # noqa: E402

WORKER_PROCESSES = 2
WORKERS_PER_PROCESS = 2
PREFETCH = 64
DURABLE_SERVER = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}


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


async def durable_transitions(db: str, machines: int, rounds: int) -> float:
    """Transitions per second into ``machines`` durable machines, until all are committed."""
    spec = load_config_text(FLIP, known_actions=[])
    counter = Transitions()
    async with open_store(db) as store, open_runtime(store=store, publisher=counter) as rt:
        refs = [await rt.spawn(spec, name=f"m{i:05d}", durable=True) for i in range(machines)]
        await trio.testing.wait_all_tasks_blocked()
        await store.flush()
        counter.target = counter.count + machines * rounds
        start = time.perf_counter()
        for _ in range(rounds):
            for ref in refs:
                ref.send_nowait("flip")
            await trio.sleep(0)
        await counter.reached.wait()
        await store.flush()
        elapsed = time.perf_counter() - start
        await rt.stop()
    return machines * rounds / elapsed


# -- the drain -------------------------------------------------------------------------------


async def fill(db: str, jobs: int) -> None:
    async with open_store(db) as store:
        for start in range(0, jobs, 5_000):
            await store.add_jobs(
                NewJob(f"j{i:06d}", "noop") for i in range(start, min(jobs, start + 5_000))
            )


async def work(db: str, process: int) -> None:
    """One worker process: WORKERS_PER_PROCESS tasks draining the queue, then exit."""

    async def worker(name: str) -> None:
        while True:
            job = await store.claim_next(
                job_type=None, machine_type="noop", worker=name, prefetch=PREFETCH
            )
            if job is None:
                return
            if not store.complete_soon(job.job_id, worker=name):
                await store.complete(job.job_id, worker=name)

    async with open_store(db) as store, trio.open_nursery() as nursery:
        for n in range(WORKERS_PER_PROCESS):
            nursery.start_soon(worker, f"p{process}w{n}")


async def drain_rate(db: str) -> tuple[float, int]:
    """Jobs per second between the first start and the last completion; jobs completed."""
    async with open_store(db) as store:
        jobs = await store.list_jobs(limit=None)
    done = [job for job in jobs if job.status == "completed"]
    first = min(job.started_at or 0.0 for job in done)
    last = max(job.completed_at or 0.0 for job in done)
    return len(done) / (last - first), len(done)


def drain(db: str, jobs: int) -> float:
    trio.run(fill, db, jobs)
    procs = [
        subprocess.Popen([sys.executable, __file__, "--worker", db, str(p)])
        for p in range(WORKER_PROCESSES)
    ]
    for proc in procs:
        if proc.wait(timeout=600) != 0:
            raise SystemExit(f"a worker process failed (exit {proc.returncode})")
    rate, completed = trio.run(drain_rate, db)
    if completed != jobs:
        raise SystemExit(f"{completed} of {jobs} jobs completed")
    return rate


# -- the databases ---------------------------------------------------------------------------


class Databases:
    """A fresh database per run: a PostgreSQL database on the server, or a SQLite file."""

    def __init__(self, url: str | None, fast_server: bool) -> None:
        self._cluster = None
        self._folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self._n = 0
        if url is None:
            from pg_cluster import start_cluster

            self._cluster = start_cluster()
            if not fast_server:
                for name, value in DURABLE_SERVER.items():
                    self._cluster.admin_sql(f"ALTER SYSTEM SET {name} = {value}")
                self._cluster.admin_sql("SELECT pg_reload_conf()")
            url = self._cluster.url()
        self._url = url
        self.server = self._describe()

    def _describe(self) -> str:
        import psycopg

        with psycopg.connect(self._url, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            settings = {
                name: conn.execute(f"SHOW {name}").fetchone()  # type: ignore[arg-type]
                for name in DURABLE_SERVER
            }
        shown = ", ".join(f"{name} {row[0]}" for name, row in settings.items() if row)
        return f"PostgreSQL {version[0] if version else '?'} ({shown})"

    def postgres(self) -> str:
        import psycopg

        self._n += 1
        name = f"bench_{os.getpid()}_{self._n}"
        with psycopg.connect(self._url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")  # type: ignore[arg-type]
            conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
        return self._url.rsplit("/", 1)[0] + "/" + name

    def sqlite(self) -> str:
        self._n += 1
        return str(self._folder / f"bench-{self._n}.db")

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
        shutil.rmtree(self._folder, ignore_errors=True)


def median_of(runs: int, figures: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    seen: dict[str, list[float]] = {name: [] for name in figures}
    for _ in range(runs):
        for name, run in figures.items():  # interleaved, so load drifts hit both alike
            seen[name].append(run())
            print(f"  {name}: {seen[name][-1]:,.0f}/s", flush=True)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", help="a PostgreSQL server to use (a database is made per run)")
    parser.add_argument("--fast-server", action="store_true", help="the suite's settings")
    parser.add_argument("--worker", nargs=2, metavar=("DB", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        trio.run(work, args.worker[0], int(args.worker[1]))
        return
    machines, rounds, jobs = (200, 10, 2_000) if args.quick else (1_000, 20, 20_000)
    dbs = Databases(args.url, args.fast_server)
    try:
        print(f"{dbs.server}; {os.cpu_count()} cores, Python {sys.version.split()[0]}")
        print(f"durable transitions, {machines:,} machines x {rounds} rounds, one process:")
        transitions = median_of(
            args.runs,
            {
                "postgresql": lambda: trio.run(
                    durable_transitions, dbs.postgres(), machines, rounds
                ),
                "sqlite": lambda: trio.run(durable_transitions, dbs.sqlite(), machines, rounds),
            },
        )
        print(f"job drain, {jobs:,} jobs, {WORKER_PROCESSES} processes x {WORKERS_PER_PROCESS}:")
        drains = median_of(
            args.runs,
            {
                "postgresql": lambda: drain(dbs.postgres(), jobs),
                "sqlite": lambda: drain(dbs.sqlite(), jobs),
            },
        )
    finally:
        dbs.close()
    print("\n| figure | PostgreSQL | SQLite file | target |\n|---|---|---|---|")
    for what, seen, target in (
        ("durable transitions/s, one process", transitions, ">= 5,000"),
        ("jobs/s, 4 workers in 2 processes", drains, ">= 5,000"),
    ):
        pg, lite = (statistics.median(seen[name]) for name in ("postgresql", "sqlite"))
        runs = " / ".join(f"{v:,.0f}" for v in seen["postgresql"])
        print(f"| {what} | **{pg:,.0f}** ({runs}) | {lite:,.0f} | {target} |")


if __name__ == "__main__":
    main()
