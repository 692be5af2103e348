"""Several hosts on PostgreSQL (issue 13): our job drain beside Procrastinate's, and the
latency of an event between machines on two hosts through the database; SQLite beside.

Run: .venv/bin/python bench/bench_hosts.py [--quick] [--runs R] [--url URL] [--fast-server]

The bench starts its own throwaway PostgreSQL (tests/pg_cluster.py, through bench_pg's
``Databases``: production durability -- fsync, full_page_writes, synchronous_commit on --
unless ``--fast-server``) and makes a fresh database for every run. Figures:

* ``drain`` -- 20,000 no-op jobs drained by 4 workers in 2 processes (bench_pg's drain: 2
  worker tasks a process, claim-ahead, completion without waiting), jobs per second from the
  first job's start to the last one's completion; beside it Procrastinate (installed from
  PyPI into bench/.procrastinate-venv) on the same server, 2 worker processes of
  concurrency 2 running an ``async`` no-op task (5,000 jobs: at its rate on a durable
  server, 20,000 take minutes a run); and our drain on a SQLite file. The ratio is ours
  over Procrastinate's.
* ``event`` -- 1,000 events, one at a time, from a runtime of host ``a`` to a machine of a
  runtime of host ``b`` (two stores on one database, each with its own connections, writer
  thread and listener thread, in one process): from the sender's ``deliver`` call to the
  target's transition -- the inbox row committed with its NOTIFY, heard by b's listener,
  taken in b's transaction, handed to the mailbox. p50 and p99. Beside it the same on one
  host through the control socket (SQLite store).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import trio

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))

from _procrastinate import procrastinate_drain, procrastinate_version  # noqa: E402
from bench_pg import Databases, drain  # noqa: E402

from statemachine_engine import open_runtime  # noqa: E402
from statemachine_engine.config import load_config_text  # noqa: E402
from statemachine_engine.persistence import Notices, open_store, remote_sql  # noqa: E402
from statemachine_engine.service import HostsTransport, RemoteInbox, make_router  # noqa: E402
from statemachine_engine.transport import (  # noqa: E402
    ControlServer,
    MachineEvent,
    Message,
    SocketTransport,
    control_socket_path,
)

PROCESSES = 2
CONCURRENCY = 2

PONG = """
name: pong
initial_state: waiting
states: [waiting]
events: [ping]
transitions:
  - {from: waiting, to: waiting, event: ping}
"""


class Arrivals:
    """A publisher that stamps each state change of the target and wakes the sender."""

    def __init__(self) -> None:
        self.arrived = trio.Event()
        self.at = 0.0

    def publish(self, event: MachineEvent) -> None:
        if event.type == "state_change":
            self.at = time.perf_counter()
            self.arrived.set()


async def _measure(send: Callable[[Message], object], arrivals: Arrivals, n: int) -> list[float]:
    latencies: list[float] = []
    for i in range(n + 20):  # the first 20 warm up connections and caches
        arrivals.arrived = trio.Event()
        start = time.perf_counter()
        await send(Message("ping", {"i": i}, target="pong"))  # type: ignore[misc]
        with trio.fail_after(10):
            await arrivals.arrived.wait()
        if i >= 20:
            latencies.append(arrivals.at - start)
    return latencies


async def latency_between_hosts(url: str, n: int) -> list[float]:
    """Host a's runtime sends to ``pong`` on host b, through the database."""
    arrivals = Arrivals()
    async with (
        open_store(url, host="a") as a_store,
        open_store(url, host="b") as b_store,
        trio.open_nursery() as nursery,
    ):
        notices = Notices(url, [remote_sql.inbox_channel("b")])
        await trio.to_thread.run_sync(notices.start)
        try:
            transport = HostsTransport(a_store, SocketTransport(prefix="/nonexistent/sm"), "a")
            async with (
                open_runtime(store=a_store, transport=transport) as a,
                open_runtime(store=b_store, publisher=arrivals) as b,
            ):
                await b.spawn(load_config_text(PONG), name="pong")
                await b_store.flush()
                await nursery.start(RemoteInbox(b, url, notices).run)
                latencies = await _measure(a.deliver, arrivals, n)
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(notices.stop)
    return latencies


async def latency_one_host(db: str, folder: Path, n: int) -> list[float]:
    """The same on one host: the control socket of b's runtime (a SQLite store)."""
    arrivals = Arrivals()
    folder.mkdir(parents=True, exist_ok=True)
    prefix = str(folder / "c")
    async with (
        open_store(db) as store,
        trio.open_nursery() as nursery,
        open_runtime(store=store, transport=SocketTransport(prefix=prefix)) as a,
        open_runtime(store=store, publisher=arrivals) as b,
    ):
        await b.spawn(load_config_text(PONG), name="pong")
        router = make_router(b, "pong", store)
        await nursery.start(ControlServer(control_socket_path("pong", prefix), router).run)
        latencies = await _measure(a.deliver, arrivals, n)
        nursery.cancel_scope.cancel()
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", help="a PostgreSQL server to use (a database is made per run)")
    parser.add_argument("--fast-server", action="store_true", help="the suite's settings")
    args = parser.parse_args()
    jobs, peer_jobs, events = (2_000, 1_000, 200) if args.quick else (20_000, 5_000, 1_000)
    dbs = Databases(args.url, args.fast_server)
    folder = Path(tempfile.mkdtemp(prefix="bench-hosts-", dir="/tmp"))
    drains: dict[str, list[float]] = {"ours": [], "procrastinate": [], "sqlite": []}
    pg_events: list[float] = []
    socket_events: list[float] = []
    try:
        version = procrastinate_version()
        print(f"{dbs.server}; Procrastinate {version}; {os.cpu_count()} cores", flush=True)
        print(
            f"job drain, {jobs:,} no-op jobs (Procrastinate {peer_jobs:,}),"
            f" {PROCESSES} processes x {CONCURRENCY}:"
        )
        for run in range(args.runs):  # interleaved, so load drifts hit all alike
            drains["ours"].append(drain(dbs.postgres(), jobs))
            drains["procrastinate"].append(
                procrastinate_drain(
                    dbs.postgres(),
                    folder / f"procrastinate-{run}",
                    peer_jobs,
                    PROCESSES,
                    CONCURRENCY,
                )
            )
            drains["sqlite"].append(drain(dbs.sqlite(), jobs))
            print("  " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in drains.items()), flush=True)
        print(f"event between machines, {events:,} one at a time:")
        for run in range(args.runs):
            pg_events += trio.run(latency_between_hosts, dbs.postgres(), events)
            socket_events += trio.run(latency_one_host, dbs.sqlite(), folder / f"s{run}", events)
            print(
                f"  two hosts p50 {percentile(pg_events, 50) * 1e3:.2f} ms,"
                f" one host p50 {percentile(socket_events, 50) * 1e3:.2f} ms",
                flush=True,
            )
    finally:
        dbs.close()
    ours, theirs, lite = (statistics.median(drains[k]) for k in ("ours", "procrastinate", "sqlite"))
    print("\n| figure | PostgreSQL | Procrastinate | SQLite | target |\n|---|---|---|---|---|")
    runs = " / ".join(f"{v:,.0f}" for v in drains["ours"])
    print(
        f"| jobs/s, 4 workers in 2 processes | **{ours:,.0f}** ({runs}) | {theirs:,.0f}"
        f" (ours x{ours / theirs:.1f}) | {lite:,.0f} | >= 5,000 |"
    )
    for p, target in ((50, 10), (99, 30)):
        print(
            f"| event between machines, p{p} | **{percentile(pg_events, p) * 1e3:.2f} ms**"
            f" (two hosts, through the database) | -- |"
            f" {percentile(socket_events, p) * 1e3:.2f} ms (one host, control socket) |"
            f" <= {target} ms |"
        )


if __name__ == "__main__":
    main()
