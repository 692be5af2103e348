"""The PostgreSQL server stopped and started again under running workers (``pg_ctl stop -m
fast``, then start): the workers of both hosts wait for it -- their writes queued, their
connections retried with backoff -- then carry on, and every job is run and completed once;
an event to a machine of the other host is delivered through the inbox again."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from pg_cluster import Cluster

from .conftest import STATEMACHINE_DB, Site
from .test_hosts_e2e import ACTIONS, _add_jobs, _completed, _run_lines
from .test_hosts_send_event import LISTENER

pytestmark = pytest.mark.slow

JOBS = 2_000

# a lease far longer than the outage: nothing is rescued, so nothing may run twice
WORKER = """\
metadata: {name: Worker}
initial_state: waiting
states: [waiting, working, done]
transitions:
  - {from: waiting, to: working, event: new_job}
  - {from: waiting, to: waiting, event: no_jobs}
  - {from: working, to: done, event: job_done}
  - {from: done, to: waiting, event: success}
actions:
  waiting: [{type: check_database_queue, job_type: t, wait: 1, lease: 60}]
  working: [{type: record_run, success: job_done}]
  done: [{type: complete_job, result: "{machine_name}"}]
"""


def test_workers_wait_for_a_restarted_server_and_complete_every_job_once(
    site: Site, pg_cluster: Cluster
) -> None:
    for name, text in ACTIONS.items():
        site.write(f"actions/{name}", text)
    worker = site.write("worker.yaml", WORKER)
    _add_jobs(site, JOBS)
    actions = ["--actions-dir", str(site.root / "actions")]
    processes = [
        site.machine("a", worker, "worker_a", *actions),
        site.machine("b", worker, "worker_b", *actions),
        site.machine("b", site.write("listener.yaml", LISTENER), "listener"),
    ]
    site.wait("300 jobs completed", lambda: _completed(site) >= 300)

    pg_cluster.stop_server()
    down = time.monotonic()
    while time.monotonic() - down < 2.0:  # the outage: the workers run into it
        assert all(p.poll() is None for p in processes), site.logs()
        time.sleep(0.1)
    pg_cluster.start_server()

    site.wait("every job completed", lambda: _completed(site) == JOBS, timeout=90)
    assert all(p.poll() is None for p in processes), "a worker gave up:\n" + site.logs()
    runs = Counter(_run_lines(site, "worker_a") + _run_lines(site, "worker_b"))
    assert len(runs) == JOBS
    assert [job for job, n in runs.items() if n > 1] == []
    attempts = site.query("SELECT attempts, count(*) AS n FROM jobs GROUP BY attempts")
    assert attempts == [{"attempts": 1, "n": JOBS}]
    # host b's inbox listens and takes again: an event from host a reaches its listener
    sent = site.run("a", [STATEMACHINE_DB, "send-event", "--target", "listener", "--type", "ping"])
    assert sent.returncode == 0, sent.stdout + sent.stderr + site.logs()
    assert "taken from its inbox by its runtime on host b" in sent.stdout
