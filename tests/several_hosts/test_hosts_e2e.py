"""Two hosts on one PostgreSQL database, end to end: real ``statemachine`` processes on two
simulated hosts (a private /tmp each: no control socket is shared) meeting only through the
server on 127.0.0.1.

A controller on host a sends ``go`` to a worker on host b (through b's inbox) and to one on
its own host (through the socket), then ticks a durable tally on host b; 2,000 jobs are
drained by the workers of both hosts; host b is SIGKILLed mid-run: the jobs it held come
back to host a when their lease lapses, and the tally, started again on b, resumes where its
checkpoint left it and takes the ticks sent while b was down.
"""

from __future__ import annotations

from collections import Counter

import pytest

from .conftest import Site

pytestmark = pytest.mark.slow

JOBS = 2_000
TICKS = 10
#: the most jobs the killed host may have run without its completions committed
RERUN_BOUND = 10

WORKER = """\
metadata: {name: Worker}
initial_state: idle
states: [idle, waiting, working, done]
transitions:
  - {from: idle, to: waiting, event: go}
  - {from: waiting, to: working, event: new_job}
  - {from: waiting, to: waiting, event: no_jobs}
  - {from: working, to: done, event: job_done}
  - {from: done, to: waiting, event: success}
actions:
  waiting: [{type: check_database_queue, job_type: t, wait: 1, lease: 2}]
  working: [{type: record_run, success: job_done}]
  done: [{type: complete_job, result: "{machine_name}"}]
"""

CONTROLLER = f"""\
metadata: {{name: Controller}}
initial_state: starting
final_states: [finished]
states: [starting, ticking, finished]
transitions:
  - {{from: starting, to: ticking, event: event_sent}}
  - {{from: ticking, to: ticking, event: timeout(0.5)}}
  - {{from: ticking, to: finished, event: enough}}
actions:
  starting:
    - {{type: send_event, target: worker_a, event_type: go, fire_and_forget: true}}
    - {{type: send_event, target: worker_b, event_type: go}}
  ticking:
    - {{type: count, limit: {TICKS}}}
    - {{type: send_event, target: tally_b, event_type: tick, fire_and_forget: true}}
"""

# t0 --tick--> t1 ... --tick--> done: a tick lost leaves it short of done
TALLY = (
    "metadata: {name: Tally}\ndurable: true\ninitial_state: t0\nfinal_states: [done]\n"
    f"states: [{', '.join(f't{n}' for n in range(TICKS))}, done]\n"
    "transitions:\n"
    + "".join(
        f"  - {{from: t{n}, to: {f't{n + 1}' if n + 1 < TICKS else 'done'}, event: tick}}\n"
        for n in range(TICKS)
    )
)

# every run of a job leaves a line in runs-<machine>.txt (in the folder both hosts see)
ACTIONS = {
    "record_run_action.py": """\
import trio
from statemachine_engine.actions import BaseAction


class RecordRunAction(BaseAction):
    async def execute(self, context):
        with open(f"runs-{context['machine_name']}.txt", "a") as runs:
            runs.write(context["job_id"] + "\\n")
        await trio.sleep(0.005)
        return self.event("success", "success")
""",
    "count_action.py": """\
from statemachine_engine.actions import BaseAction


class CountAction(BaseAction):
    async def execute(self, context):
        context["n"] = context.get("n", 0) + 1
        return "enough" if context["n"] > int(self.config["limit"]) else None
""",
}


def test_two_hosts_share_events_jobs_and_a_killed_hosts_work(site: Site) -> None:
    for name, text in ACTIONS.items():
        site.write(f"actions/{name}", text)
    actions = ["--actions-dir", str(site.root / "actions")]
    worker = site.write("worker.yaml", WORKER)
    tally = site.write("tally.yaml", TALLY)
    _add_jobs(site)

    site.machine("b", worker, "worker_b", *actions)
    site.machine("b", tally, "tally_b")
    site.wait("host b's machines registered", lambda: _registered(site) >= {"worker_b", "tally_b"})
    site.machine("a", worker, "worker_a", *actions)
    site.wait("worker_a registered", lambda: "worker_a" in _registered(site))
    site.machine("a", site.write("controller.yaml", CONTROLLER), "controller", *actions)

    site.wait("300 jobs run", lambda: _runs(site).total() >= 300 and _tally_step(site) >= 2)
    assert _runs(site)["worker_b"] > 0, "the go sent to host b did not start its worker"
    site.hosts["b"].kill()

    site.wait("every job completed", lambda: _completed(site) == JOBS, timeout=60)
    site.machine("b", tally, "tally_b")  # resumes from its checkpoint
    site.wait("the tally done", lambda: _tally_done(site), timeout=30)

    # go reached worker_b through its inbox, worker_a through its socket
    inbox = site.query("SELECT target_machine, event_type, status FROM inbox ORDER BY id")
    assert {"target_machine": "worker_b", "event_type": "go", "status": "delivered"} in inbox
    assert not [row for row in inbox if row["target_machine"] == "worker_a"]
    # every tick once, in order, the ones sent while b was down included
    ticks = [row for row in inbox if row["target_machine"] == "tally_b"]
    assert [row["status"] for row in ticks] == ["handled"] * TICKS
    steps = site.query(
        "SELECT from_state, to_state FROM state_transitions WHERE machine_name = 'tally_b'"
        " AND event = 'tick' ORDER BY id"
    )
    assert [row["to_state"] for row in steps] == [*(f"t{n}" for n in range(1, TICKS)), "done"]

    # every job completed once; a job ran twice only when b ran it last before it was killed
    # and its completion was not committed yet (completions ride the next group commit)
    jobs = site.query("SELECT job_id, status, result FROM jobs")
    assert len(jobs) == JOBS and {row["status"] for row in jobs} == {"completed"}
    runs = _runs(site)
    every = Counter(_run_lines(site, "worker_a") + _run_lines(site, "worker_b"))
    assert len(every) == JOBS
    twice = {job for job, n in every.items() if n > 1}
    assert twice <= set(_run_lines(site, "worker_b")[-RERUN_BOUND:]), twice
    assert runs["worker_b"] >= 1 and runs["worker_a"] > JOBS // 2


def _add_jobs(site: Site, count: int = JOBS) -> None:
    """The jobs, added as statemachine-db add-job would (the store creates the schema)."""
    import trio

    from statemachine_engine.persistence import NewJob, open_store

    async def add() -> None:
        async with open_store(site.url) as store:
            await store.add_jobs(NewJob(f"job_{n:05}", "t") for n in range(count))

    trio.run(add)


def _registered(site: Site) -> set[str]:
    return {row["machine_name"] for row in site.query("SELECT machine_name FROM machine_state")}


def _completed(site: Site) -> int:
    return int(site.value("SELECT count(*) FROM jobs WHERE status = 'completed'"))


def _tally_step(site: Site) -> int:
    return int(
        site.value(
            "SELECT count(*) FROM inbox WHERE target_machine = 'tally_b' AND status = 'handled'"
        )
    )


def _tally_done(site: Site) -> bool:
    return bool(
        site.value(
            "SELECT count(*) FROM state_transitions WHERE machine_name = 'tally_b'"
            " AND to_state = 'done'"
        )
    )


def _run_lines(site: Site, machine: str) -> list[str]:
    path = site.root / f"runs-{machine}.txt"
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if line.startswith("job_")]


def _runs(site: Site) -> Counter[str]:
    return Counter({m: len(_run_lines(site, m)) for m in ("worker_a", "worker_b")})
