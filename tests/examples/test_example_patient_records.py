"""examples/patient_records (and examples/demo, what ``make demo`` runs): ``statemachine run``
queues five jobs, the controller claims them and runs one templated worker per job, all at
once; every job ends completed. Ctrl-C stops everything and leaves nothing behind."""

from __future__ import annotations

import json
import signal
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
import trio
from example_support import EventTap, Example

from statemachine_engine.service import load_manifest

pytestmark = pytest.mark.slow

JOBS = [f"job_00{i}" for i in range(1, 6)]
WORKERS = [f"patient_record_{job}" for job in JOBS]
CONTROLLER = "concurrent_controller"


async def test_run_completes_every_job_with_concurrent_workers(
    example: Callable[[str], Example], events: EventTap
) -> None:
    ex = example("patient_records")
    run = await ex.start("statemachine", "run", "--no-monitor", *ex.socket_flags(), log="run")
    await ex.eventually(
        lambda: ex.job_statuses() == dict.fromkeys(JOBS, "completed"),
        what="all five jobs completed",
        timeout=40,
    )
    for worker in WORKERS:
        await events.wait_for(
            lambda e, worker=worker: e.machine_name == worker and e.type == "machine_terminated",
            what=f"{worker} terminated",
        )
    # the controller went back to the queue, found nothing and idles
    await events.wait_state(CONTROLLER, "idling")

    registered = {
        e.machine_name: i for i, e in enumerate(events.events) if e.type == "machine_registered"
    }
    terminated = {
        e.machine_name: (i, e.payload.get("final_state"))
        for i, e in enumerate(events.events)
        if e.type == "machine_terminated"
    }
    assert set(WORKERS) <= set(registered)
    assert {w: terminated[w][1] for w in WORKERS} == dict.fromkeys(WORKERS, "done")
    # concurrently: every worker was running before the first one finished
    assert max(registered[w] for w in WORKERS) < min(terminated[w][0] for w in WORKERS)
    for worker in WORKERS:
        assert [t[2] for t in events.transitions(worker)] == ["fact_checking", "ready", "done"]
    controller = [t[1] for t in events.transitions(CONTROLLER)]
    assert controller[: 1 + 3 * 5 + 1] == [
        "jobs_found",
        *["has_job", "job_claimed", "worker_spawned"] * 5,
        "batch_complete",
    ]
    assert "all_jobs_complete" in controller
    # the job results the workers stored, as statemachine-db shows them
    out = await ex.run("statemachine-db", "details", "job_004", "--format", "json")
    details = json.loads(out.stdout)
    assert details["status"] == "completed"
    assert details["result"] == {"report_id": "R-1004", "summary": "Summary of Knee MRI"}
    assert set(ex.registry()) == {CONTROLLER}  # finished workers left the registry

    # Ctrl-C: exit 130, no control socket, no registry row left
    run.send_signal(signal.SIGINT)
    assert await ex.wait_exit(run) == 130
    stopped = await events.wait_terminated(CONTROLLER)
    assert stopped.payload["final_state"] == "idling"
    assert sorted(p.name for p in ex.sockets.iterdir()) == ["events.sock"]  # ours
    assert ex.registry() == {}
    output = ex.log_of(run)
    assert "statemachine run: queued 5 of 5 jobs from the manifest" in output
    assert "Traceback" not in output

    # a second run queues nothing new: the jobs are in the database already
    again = await ex.start("statemachine", "run", "--no-monitor", *ex.socket_flags(), log="again")
    await ex.eventually(
        lambda: "queued 0 of 5 jobs" in ex.log_of(again), what="the second run's report"
    )
    again.send_signal(signal.SIGTERM)
    assert await ex.wait_exit(again) == 143


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


async def test_make_demo_serves_the_monitor(example: Callable[[str], Example]) -> None:
    """``make demo`` runs examples/demo/statemachine-project.yaml: the patient records
    project with the monitor (here on free ports)."""
    example("patient_records")  # the demo's manifest points into this folder
    ex = example("demo")
    assert load_manifest(ex.root / "statemachine-project.yaml").jobs == (
        load_manifest(ex.root.parent / "patient_records" / "statemachine-project.yaml").jobs
    )
    run = await ex.start(
        "statemachine",
        "run",
        "statemachine-project.yaml",
        "--ui-port",
        "0",
        "--websocket-port",
        "0",
        *ex.socket_flags(),
        log="demo",
    )

    def monitor_url() -> str | None:
        for line in ex.log_of(run).splitlines():
            if line.startswith("statemachine run: monitor: http://127.0.0.1:"):
                return line.split()[3]
        return None

    await ex.eventually(lambda: monitor_url() is not None, what="the monitor's address")
    url = str(monitor_url()).rstrip("/")
    assert (await trio.to_thread.run_sync(get_json, url + "/health"))["status"] == "ok"
    await ex.eventually(
        lambda: ex.job_statuses() == dict.fromkeys(JOBS, "completed"),
        what="all five jobs completed",
        timeout=40,
    )
    # the workers' config is known to the monitor, with the Kanban's state groups
    configs = await trio.to_thread.run_sync(get_json, url + "/api/configs")
    assert {c["config_type"] for c in configs} == {"concurrent-controller", "patient-records"}
    diagram = await trio.to_thread.run_sync(get_json, url + "/api/diagram/patient-records")
    for group in ("SUMMARIZING", "FACT_CHECKING", "COMPLETED"):
        assert f"state {group} {{" in diagram["diagram"]

    run.send_signal(signal.SIGINT)
    assert await ex.wait_exit(run) == 130
    assert list(ex.sockets.iterdir()) == []
    assert (ex.root / "data" / "test.db").exists()  # --db wins over the manifest's
