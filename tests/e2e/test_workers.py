"""Worker machines in separate ``statemachine`` processes draining one queue, with jobs
claimed ahead and completions committed with the next write: every job is completed once,
and a worker stopped mid-drain gives back the jobs it had claimed ahead."""

from __future__ import annotations

import signal

import pytest

from statemachine_engine.persistence import NewJob, open_store

from .conftest import Cluster

pytestmark = pytest.mark.slow

WORKER_YAML = """\
metadata: {name: Worker}
initial_state: waiting
states: [waiting, working, done]
transitions:
  - {from: waiting, to: working, event: new_job}
  - {from: waiting, to: waiting, event: no_jobs}
  - {from: working, to: done, event: job_done}
  - {from: done, to: waiting, event: success}
actions:
  waiting: [{type: check_database_queue, job_type: t, wait: 1, lease: 2}]
  working: [{type: set_context, key: seen, value: "{job_id}", success: job_done}]
  done: [{type: complete_job, result: "{machine_name}"}]
"""

JOBS = 5_000


async def test_two_worker_processes_drain_the_queue_and_a_stopped_one_gives_back_its_jobs(
    cluster: Cluster,
) -> None:
    config = cluster.write("worker.yaml", WORKER_YAML)
    async with open_store(cluster.db) as store:
        await store.add_jobs(NewJob(f"job_{i:05}", "t") for i in range(JOBS))
    a = await cluster.start(config, "worker_a")
    b = await cluster.start(config, "worker_b")

    def completed() -> int:
        rows = cluster.query("SELECT count(*) AS n FROM jobs WHERE status = 'completed'")
        return int(rows[0]["n"])

    await cluster.wait_db("300 jobs completed", lambda: completed() >= 300, timeout=30)
    a.send_signal(signal.SIGTERM)
    assert await a.wait() == 143
    # a's reserve went back when it stopped; a job it was running comes back after its
    # lease (2 s) and b's next sweep (5 s)
    await cluster.wait_db("every job completed", lambda: completed() == JOBS, timeout=60)
    b.send_signal(signal.SIGTERM)
    assert await b.wait() == 143

    rows = cluster.query("SELECT job_id, attempts, result, status FROM jobs")
    assert len(rows) == JOBS
    by_worker = {'"worker_a"': 0, '"worker_b"': 0}
    for row in rows:
        by_worker[row["result"]] += 1
    assert by_worker['"worker_a"'] >= 300 - 20 and by_worker['"worker_b"'] > 0, by_worker
    # claimed once each; at most the one job a was running when it stopped ran twice
    retried = [row["job_id"] for row in rows if row["attempts"] != 1]
    assert len(retried) <= 1, retried
    assert cluster.query("SELECT * FROM errors") == []
