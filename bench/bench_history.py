"""The monitor's history reads at scale (issue 15): the page's load and an instance's timeline.

Run: .venv/bin/python bench/bench_history.py [--instances 10000] [--rows 1000000] [--repeat 5]

Builds a SQLite database with ``--instances`` finished instances (one job each, ended over
the last hour) and ``--rows`` history rows (transitions, activity lines, errors), one of the
instances holding 10,000 transitions; then serves it with the monitor (``serve_monitor``
over ``browse_file``, as ``statemachine-ui --db`` does) and times real HTTP requests:

* page load: the four requests the UI makes on opening (machines, activity, jobs, job
  stats), one after another: target <= 1 s in total;
* an instance's timeline page (50 items), its first page and one 5,000 items deep:
  target <= 200 ms each.

Prints one line per figure (first request, then the median of ``--repeat``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import trio

from statemachine_engine.monitor import MonitorServer, serve_monitor
from statemachine_engine.persistence import browse_file, connect, transaction

BIG = "instance_00000"  # the instance with 10,000 transitions
BIG_TRANSITIONS = 10_000
STATES = ("waiting", "working", "uploading", "done")


def build(path: Path, instances: int, rows: int, now: float) -> None:
    """The database: runs, jobs and history spread over the last hour."""
    conn = connect(path)
    rng = random.Random(15)
    with transaction(conn):
        start = now - 3600.0
        conn.executemany(
            "INSERT INTO machine_runs (machine_name, config_type, status, started_at, ended_at,"
            " job_id) VALUES (?, 'worker', 'finished', ?, ?, ?)",
            [
                (f"instance_{i:05d}", start + i * 0.3, start + i * 0.3 + 5.0, f"job_{i:05d}")
                for i in range(instances)
            ],
        )
        conn.executemany(
            "INSERT INTO jobs (job_id, job_type, machine_type, status, created_at, started_at,"
            " completed_at, run_at, attempts) VALUES (?, 'work', 'worker', ?, ?, ?, ?, ?, 1)",
            [
                (
                    f"job_{i:05d}",
                    "failed" if i % 50 == 0 else "completed",
                    start + i * 0.3 - 1.0,
                    start + i * 0.3,
                    start + i * 0.3 + 5.0,
                    start + i * 0.3 - 1.0,
                )
                for i in range(instances)
            ],
        )
        transitions = int(rows * 0.8)
        activity = int(rows * 0.18)
        errors = rows - transitions - activity

        # rows in time order, as a runtime appends them; the long instance's transitions
        # spread over the hour among the others'
        every = max(transitions // BIG_TRANSITIONS, 1)

        def name() -> str:
            return f"instance_{rng.randrange(1, instances):05d}"

        def owner(i: int) -> str:
            return BIG if i % every == 0 and i // every < BIG_TRANSITIONS else name()

        conn.executemany(
            "INSERT INTO state_transitions (machine_name, from_state, to_state, event, timestamp)"
            " VALUES (?, ?, ?, 'next', ?)",
            (
                (owner(i), STATES[i % 4], STATES[(i + 1) % 4], start + 3600.0 * i / transitions)
                for i in range(transitions)
            ),
        )
        conn.executemany(
            "INSERT INTO activity_log (machine_name, level, message, timestamp)"
            " VALUES (?, 'info', ?, ?)",
            (
                (name(), f"processed chunk {i}", start + 3600.0 * i / activity)
                for i in range(activity)
            ),
        )
        conn.executemany(
            "INSERT INTO errors (machine_name, state, action, message, timestamp)"
            " VALUES (?, 'working', 'bash', 'exit status 1', ?)",
            ((name(), start + 3600.0 * i / errors) for i in range(errors)),
        )
    conn.execute("ANALYZE")
    conn.close()


async def get(port: int, target: str) -> tuple[float, Any]:
    """GET ``target``; (seconds, decoded JSON body)."""
    began = time.perf_counter()
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        await stream.send_all(request.encode())
        data = b""
        while chunk := await stream.receive_some(1 << 16):
            data += chunk
    elapsed = time.perf_counter() - began
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"{target}: {head.splitlines()[0].decode()} {body[:200]!r}")
    return elapsed, json.loads(body)


PAGE_LOAD = (
    "/api/machines",
    "/api/activity?limit=50",
    "/api/jobs?limit=50",
    "/api/jobs/stats?minutes=60",
)


async def measure(path: Path, repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    async with trio.open_nursery() as nursery:
        server: MonitorServer = await nursery.start(
            partial(
                serve_monitor,
                ui_port=0,
                websocket_port=None,
                browse=browse_file(path),
                token_folder=path.parent,
            )
        )
        assert server.ui_port is not None
        port = server.ui_port
        _, first = await get(port, f"/api/machines/{BIG}/history?limit=50")
        before = first["next_before"]
        for _ in range(100):  # 5,000 items deep
            _, page = await get(port, f"/api/machines/{BIG}/history?limit=50&before={before}")
            before = page["next_before"]
        for _ in range(repeat):
            total = 0.0
            for target in PAGE_LOAD:
                seconds, body = await get(port, target)
                times.setdefault(target, []).append(seconds)
                total += seconds
            times.setdefault("page load (4 requests)", []).append(total)
            seconds, body = await get(port, f"/api/machines/{BIG}/history?limit=50")
            assert len(body["items"]) == 50
            times.setdefault("timeline, first page", []).append(seconds)
            seconds, body = await get(port, f"/api/machines/{BIG}/history?limit=50&before={before}")
            times.setdefault("timeline, 5,000 items deep", []).append(seconds)
        nursery.cancel_scope.cancel()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", metavar="DIR", help="build the database in DIR and keep it")
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 3 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.repeat = 100_000, 3
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bench-history-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "history.db"
    if path.exists():
        path.unlink()
    began = time.perf_counter()
    build(path, args.instances, args.rows, time.time())
    size = os.path.getsize(path) / 1e6
    print(f"built {args.instances:,} finished instances, {args.rows:,} history rows "
          f"({size:.0f} MB) in {time.perf_counter() - began:.1f} s")  # fmt: skip
    times = trio.run(measure, path, args.repeat)
    for name, seconds in times.items():
        target = 1.0 if name.startswith("page load") else 0.2 if "timeline" in name else None
        median = statistics.median(seconds)
        verdict = "" if target is None else (" met" if median <= target else " NOT MET")
        line = f"{name:32} first {seconds[0] * 1000:7.1f} ms  median {median * 1000:7.1f} ms"
        print(line + (f"  (target <= {target * 1000:.0f} ms:{verdict})" if target else ""))
    if not args.keep:
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
