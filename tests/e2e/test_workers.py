"""Worker machines in separate ``statemachine`` processes draining one queue, with jobs
claimed ahead and completions committed with the next write: every job is completed once,
and a worker stopped mid-drain gives back the jobs it had claimed ahead."""

from __future__ import annotations

import signal
from collections import Counter

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
  working: [{type: record_run, success: job_done}]
  done: [{type: complete_job, result: "{machine_name}"}]
"""

# Every run of a job leaves a line in runs-<machine>.txt: a job run twice shows.
RECORD_RUN_ACTION = """\
from statemachine_engine.actions import BaseAction


class RecordRunAction(BaseAction):
    async def execute(self, context):
        with open(f"runs-{context['machine_name']}.txt", "a") as runs:
            runs.write(context["job_id"] + "\\n")
        return self.event("success", "success")
"""

JOBS = 5_000


async def test_two_worker_processes_drain_the_queue_and_a_stopped_one_gives_back_its_jobs(
    cluster: Cluster,
) -> None:
    config = cluster.write("worker.yaml", WORKER_YAML)
    cluster.write("actions/record_run_action.py", RECORD_RUN_ACTION)
    actions = ["--actions-dir", str(cluster.root / "actions")]
    async with open_store(cluster.db) as store:
        await store.add_jobs(NewJob(f"job_{i:05}", "t") for i in range(JOBS))
    a = await cluster.start(config, "worker_a", *actions)
    b = await cluster.start(config, "worker_b", *actions)

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
    runs = Counter(
        line
        for machine in ("worker_a", "worker_b")
        for line in (cluster.root / f"runs-{machine}.txt").read_text().split()
    )
    assert set(runs) == {row["job_id"] for row in rows}
    twice = [job_id for job_id, n in runs.items() if n > 1]
    assert len(twice) <= 1 and max(runs.values()) <= 2, twice
