"""examples/simple_worker, run as its README says: one worker, jobs added with
``statemachine-db add-job``, ``stop`` ends it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from example_support import EventTap, Example

pytestmark = pytest.mark.slow


async def test_worker_completes_queued_jobs_then_stops(
    example: Callable[[str], Example], events: EventTap
) -> None:
    ex = example("simple_worker")
    worker = await ex.start("statemachine", "config/worker.yaml", *ex.socket_flags(), log="worker")
    await ex.wait_registered("simple_worker")
    await events.wait_state("simple_worker", "waiting")

    for i in (1, 2, 3):
        await ex.run(
            "statemachine-db",
            "add-job",
            f"job_00{i}",
            "--type",
            "task",
            "--machine-type",
            "simple_worker",
            "--payload",
            json.dumps({"message": f"hello {i}"}),
        )
    await ex.eventually(
        lambda: ex.job_statuses() == dict.fromkeys(("job_001", "job_002", "job_003"), "completed"),
        what="all three jobs completed",
    )
    listing = json.loads((await ex.run("statemachine-db", "list", "--format", "json")).stdout)
    results = {job["job_id"]: job["result"] for job in listing}
    assert results == {f"job_00{i}": f"working on job_00{i}: hello {i}" for i in (1, 2, 3)}

    # each job went through processing and finishing, then the worker polled again
    await events.wait_for(
        lambda e: e.type == "state_change" and e.payload["event_trigger"] == "job_completed",
        what="the third job_completed transition",
        nth=3,
    )
    path = events.transitions("simple_worker")
    assert path[0] == ("initializing", "initialized", "waiting")
    work = [t for t in path if t[1] != "no_jobs"]
    assert (
        work[1:]
        == [
            ("waiting", "new_job", "processing"),
            ("processing", "job_done", "finishing"),
            ("finishing", "job_completed", "waiting"),
        ]
        * 3
    )

    # a job whose data brings a failing command (the README's example) fails for good
    await ex.run(
        "statemachine-db",
        "add-job",
        "job_004",
        "--type",
        "task",
        "--machine-type",
        "simple_worker",
        "--max-attempts",
        "1",
        "--payload",
        json.dumps({"command": "echo disk full >&2; exit 3"}),
    )
    await ex.eventually(lambda: ex.job_statuses().get("job_004") == "failed", what="job_004 failed")
    details = json.loads(
        (await ex.run("statemachine-db", "details", "job_004", "--format", "json")).stdout
    )
    assert "Command failed (exit 3): disk full" in details["error_message"]
    await events.wait_for(
        lambda e: e.type == "state_change" and e.payload["event_trigger"] == "job_failed",
        what="the worker back to waiting after the failure",
    )

    mark = len(events.events)
    await ex.send("simple_worker", "stop")
    assert await ex.wait_exit(worker) == 0
    await events.wait_terminated("simple_worker")
    await events.wait_state("simple_worker", "stopped", after=mark)
    assert "Simple worker simple_worker stopped" in events.activity("simple_worker")
    assert ex.registry() == {}
    assert not list(ex.sockets.glob("ctl-*"))
