"""One drain run of bench_drain.py: a worker process, its queue, and who reads its events.

:class:`DrainRun` fills a fresh SQLite file with ``n`` jobs, starts ``statemachine
worker.yaml`` on it (the worker stops on ``no_jobs``), optionally with a reader of every
event (this process, through the harness's observer) or a real ``statemachine-ui`` on the
event socket, waits for the worker to exit, and reads the drain's span from the job rows.
:func:`published_drain` does the same with the published package's worker.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import trio
from _peers import ensure_peers_venv
from _process_harness import OUR_BIN, Ours, Proc, Upstream, write

from statemachine_engine.persistence import NewJob, open_store

OURS_FIGURES = ("reader", "ui", "quiet", "durable-reader", "durable-quiet")

WORKER_YAML = """\
name: worker
{durable}initial_state: waiting
states: [waiting, working, done, stopped]
events: [new_job, no_jobs, job_done, success]
transitions:
  - {{from: waiting, to: working, event: new_job}}
  - {{from: waiting, to: stopped, event: no_jobs}}
  - {{from: working, to: done, event: job_done}}
  - {{from: done, to: waiting, event: success}}
actions:
  waiting: [{{type: check_database_queue, job_type: bench, wait: 0}}]
  working: [{{type: set_context, key: seen, value: "{{job_id}}", success: job_done}}]
  done: [{{type: complete_job}}]
"""

# the published package: no `events` list needed, no {job_id} (its check_database_queue sets
# only {id}); the same states and transitions
PUBLISHED_YAML = """\
name: worker
initial_state: waiting
transitions:
  - {from: waiting, to: working, event: new_job}
  - {from: waiting, to: stopped, event: no_jobs}
  - {from: working, to: done, event: job_done}
  - {from: done, to: waiting, event: success}
actions:
  waiting: [{type: check_database_queue, job_type: bench}]
  working: [{type: set_context, key: seen, value: "{id}", success: job_done}]
  done: [{type: complete_job, job_id: "{id}"}]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DrainRun:
    """One run of one figure of ours (see ``OURS_FIGURES``)."""

    def __init__(
        self, folder: Path, figure: str, n: int, pycache: Path, profile_to: Path | None = None
    ) -> None:
        self.folder = folder
        self.figure = figure
        self.n = n
        self.profile_to = profile_to
        # compiled modules kept in ``pycache``, as an installed package has them: without
        # it, an environment with PYTHONDONTWRITEBYTECODE compiles every module the worker
        # imports on first use -- during the drain, for the job actions -- at every run
        self.impl = Ours(folder, pycache)
        #: CPU seconds of the worker process (start-up included) and of this process (the
        #: reader, when it reads) while the worker ran
        self.worker_cpu = self.reader_cpu = 0.0

    async def measure(self) -> float:
        impl = self.impl
        db = impl.db_of(self.folder)
        await _fill(db, self.n)
        durable = "durable: true\n" if self.figure.startswith("durable") else ""
        config = write(self.folder, "worker.yaml", WORKER_YAML.format(durable=durable))
        name = impl.unique("worker")
        try:
            async with trio.open_nursery() as nursery:
                if self.figure.endswith("reader"):
                    await impl.listen(nursery)
                elif self.figure == "ui":
                    await self._start_ui()
                argv = impl.argv(config, name, self.folder)
                children, own = _children_cpu(), time.process_time()
                proc = await impl.spawn(self._profiled(argv, "worker"), self.folder, name)
                if await proc.wait(300) is None:
                    raise TimeoutError(f"the worker did not finish; see {proc.log}")
                self.worker_cpu = _children_cpu() - children
                self.reader_cpu = time.process_time() - own
                if self.figure.endswith("reader"):
                    await self._check_every_event(name)
                nursery.cancel_scope.cancel()
        finally:
            impl.cleanup()
        return _rate(db, self.n)

    async def _check_every_event(self, name: str) -> None:
        observer = self.impl.observer
        await observer.wait_count(name, "job_completed", self.n, 30)
        seen = Counter(e["type"] for _, e in observer.events if e.get("machine_name") == name)
        if seen["job_started"] != self.n or seen["job_completed"] != self.n:
            raise RuntimeError(f"the reader missed job events: {dict(seen)}")

    async def _start_ui(self) -> Proc:
        impl = self.impl
        argv = [
            str(OUR_BIN / "statemachine-ui"),
            "--port",
            str(free_port()),
            "--websocket-port",
            str(free_port()),
            "--event-socket-path",
            impl.event_socket,
            "--config",
            str(self.folder / "worker.yaml"),
            "--log-level",
            "WARNING",
        ]
        proc = await impl.spawn(argv, self.folder, "ui")
        with trio.fail_after(30):
            while not os.path.exists(impl.event_socket):
                await trio.sleep(0.01)
        if self.profile_to is not None:
            self._attach_profiler(proc.pid, "ui")
        return proc

    def _profiled(self, argv: list[str], role: str) -> list[str]:
        if self.profile_to is None:
            return argv
        out = self.profile_to / f"{self.figure}-{role}"
        spy = str(ensure_peers_venv() / "py-spy")
        return [spy, "record", "--rate", "500", "--format", "raw", "-o", f"{out}.txt", "--", *argv]

    def _attach_profiler(self, pid: int, role: str) -> None:
        assert self.profile_to is not None
        out = self.profile_to / f"{self.figure}-{role}.txt"
        spy = str(ensure_peers_venv() / "py-spy")
        # runs until the ui is killed at the end of the run
        subprocess.Popen(
            [spy, "record", "--rate", "500", "--format", "raw", "-o", str(out), "--pid", str(pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _fill(db: Path, n: int) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    async with open_store(str(db)) as store:
        await store.add_jobs(NewJob(f"job_{i}", "bench") for i in range(n))


def _rate(db: Path, n: int) -> float:
    """Jobs per second from the first job's start to the last one's completion."""
    conn = sqlite3.connect(db, timeout=5)
    try:
        done, first, last = conn.execute(
            "SELECT count(*), min(started_at), max(completed_at) FROM jobs"
            " WHERE status = 'completed'"
        ).fetchone()
    finally:
        conn.close()
    if done != n:
        raise RuntimeError(f"{db}: {done} of {n} jobs completed")
    return float(n / (last - first))


#: its check_database_queue fails on a job without data
PAYLOAD = ("--payload", '{"n": 0}')


def published_drain(folder: Path, python: Path, n: int) -> float:
    """Jobs per second of the published package's worker process, its event socket read:
    from spawn to exit (at about ten jobs a second, its start-up is a small part)."""
    return trio.run(_published_drain, folder, python, n)


async def _published_drain(folder: Path, python: Path, n: int) -> float:
    impl = Upstream(folder, python)
    db = impl.db_of(folder)
    bin_dir = python.parent
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(bin_dir / "statemachine-db"), "add-job", "job_0", "--type", "bench", *PAYLOAD],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    _clone_first_job(db, n)
    config = write(folder, "worker.yaml", PUBLISHED_YAML)
    try:
        async with trio.open_nursery() as nursery:
            await impl.listen(nursery)
            started = time.perf_counter()
            proc = await impl.start(config, impl.unique("worker"), folder)
            if await proc.wait(300) is None:
                raise TimeoutError(f"the published worker did not finish; see {proc.log}")
            elapsed = time.perf_counter() - started
            nursery.cancel_scope.cancel()
    finally:
        impl.cleanup()
    conn = sqlite3.connect(db, timeout=5)
    try:
        done = conn.execute("SELECT count(*) FROM jobs WHERE status = 'completed'").fetchone()[0]
    finally:
        conn.close()
    if done != n:
        raise RuntimeError(f"{db}: the published worker completed {done} of {n} jobs")
    return n / elapsed


def _clone_first_job(db: Path, n: int) -> None:
    """Copy the one job ``statemachine-db add-job`` wrote to ``n`` jobs in all (whatever the
    published schema's columns)."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        row = dict(conn.execute("SELECT * FROM jobs").fetchone())
        row.pop("id", None)
        insert = f"INSERT INTO jobs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})"
        with conn:
            for i in range(1, n):
                row["job_id"] = f"job_{i}"
                with contextlib.suppress(sqlite3.IntegrityError):
                    conn.execute(insert, list(row.values()))
    finally:
        conn.close()
