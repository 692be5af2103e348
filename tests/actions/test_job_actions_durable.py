"""Job and context actions in a durable machine: no commit awaited before they run, and a
worker killed in the middle of a drain still completes every job once resumed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from statemachine_engine.actions import ActionRegistry
from statemachine_engine.actors import open_runtime
from statemachine_engine.config import load_config_text
from statemachine_engine.persistence import DurableLog, NewJob, SqliteStore, open_store

WORKER = """
name: worker
durable: true
initial_state: waiting
states: [waiting, working, done, stopped]
transitions:
  - {from: waiting, to: working, event: new_job}
  - {from: waiting, to: stopped, event: no_jobs}
  - {from: working, to: done, event: job_done}
  - {from: done, to: waiting, event: success}
actions:
  waiting: [{type: check_database_queue, job_type: render, wait: 0}]
  working:
    - {type: set_context, key: last_seen, value: "{input}"}
    - {type: add_to_list, list_key: seen, value: "{job_id}", success: job_done}
  done: [{type: complete_job}]
"""


@pytest.fixture
async def store() -> AsyncIterator[SqliteStore]:
    async with open_store(":memory:", clock=trio.current_time) as opened:
        yield opened


def test_actions_whose_only_effects_are_the_context_or_the_store_are_rerun_safe() -> None:
    registry = ActionRegistry()
    safe = {
        "check_database_queue",
        "complete_job",
        "get_pending_jobs",
        "wait_for_jobs",
        "set_context",
        "add_to_list",
        "pop_from_list",
    }
    for name in safe:
        assert registry.get(name).RERUN_SAFE, name
    # side effects outside the store: their start is committed before they run
    for name in ("bash", "start_fsm", "sleep", "log", "claim_job", "fail_job"):
        assert not registry.get(name).RERUN_SAFE, name


async def test_a_durable_worker_waits_for_no_commit_before_its_actions(
    autojump_clock: trio.testing.MockClock, store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    barriers = 0
    barrier = DurableLog.barrier

    async def counted(self: DurableLog) -> None:
        nonlocal barriers
        barriers += 1
        await barrier(self)

    monkeypatch.setattr(DurableLog, "barrier", counted)
    await store.add_jobs(NewJob(f"j{i}", "render", data={"input": f"in_{i}"}) for i in range(50))
    async with open_runtime(store=store, wall_clock=trio.current_time) as runtime:
        ref = await runtime.spawn(load_config_text(WORKER), name="worker")
        await ref.wait_stopped()
        assert ref.context["seen"] == [f"j{i}" for i in range(50)]
    assert {job.status for job in await store.list_jobs(limit=None)} == {"completed"}
    # a commit per action (four a job) awaited before: 200; none now
    assert barriers == 0


async def test_a_durable_worker_killed_mid_drain_completes_every_job_once_resumed(
    autojump_clock: trio.testing.MockClock, store: SqliteStore
) -> None:
    await store.add_jobs(NewJob(f"j{i}", "render", data={"input": f"in_{i}"}) for i in range(30))
    spec = load_config_text(WORKER)
    async with open_runtime(store=store, wall_clock=trio.current_time) as runtime:
        ref = await runtime.spawn(spec, name="worker")
        while len(ref.context.get("seen", [])) < 10:
            await trio.lowlevel.checkpoint()
        runtime.kill("worker")
        await ref.wait_stopped()
        # started again (its jobs still held: the process did not stop), it resumes there
        ref = await runtime.spawn(spec, name="worker")
        await ref.wait_stopped()
        seen = ref.context["seen"]
    jobs = await store.list_jobs(limit=None)
    assert {job.job_id for job in jobs if job.status == "completed"} == {f"j{i}" for i in range(30)}
    assert sorted(seen, key=lambda job: int(job[1:])) == [f"j{i}" for i in range(30)]


SLOW_WORKER = """
name: worker
durable: true
initial_state: waiting
states: [waiting, working, done, stopped]
transitions:
  - {from: waiting, to: working, event: new_job}
  - {from: waiting, to: stopped, event: no_jobs}
  - {from: working, to: done, event: wake_up}
  - {from: done, to: waiting, event: success}
actions:
  waiting: [{type: check_database_queue, job_type: render, wait: 0}]
  working: [{type: sleep, duration: 200}]  # longer than a lease: renewed meanwhile
  done: [{type: complete_job}]
"""


async def test_a_durable_worker_stopped_mid_job_keeps_it_and_completes_it_resumed(
    autojump_clock: trio.testing.MockClock, store: SqliteStore
) -> None:
    # SIGTERM / Ctrl-C: a machine in memory gives its job back; a durable one resumes with
    # it, so it keeps the job (its lease lapses only if it does not come back in time)
    await store.add_job("j0", "render")
    assert store.lease_seconds < 200
    spec = load_config_text(SLOW_WORKER)
    async with open_runtime(store=store, wall_clock=trio.current_time) as runtime:
        await runtime.spawn(spec, name="worker")
        await trio.sleep(5)  # mid-sleep, holding j0
    held = await store.get_job("j0")
    assert held is not None and (held.status, held.claimed_by) == ("processing", "worker")
    async with open_runtime(store=store, wall_clock=trio.current_time) as runtime:
        ref = await runtime.spawn(spec, name="worker")
        await ref.wait_stopped()
        assert ref.state == "stopped"
    job = await store.get_job("j0")
    assert job is not None and (job.status, job.attempts) == ("completed", 1)
    assert await store.errors() == []


async def test_a_durable_worker_down_longer_than_its_lease_is_told_its_job_went_back(
    autojump_clock: trio.testing.MockClock, store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    await store.add_job("j0", "render")
    spec = load_config_text(SLOW_WORKER)
    async with open_runtime(store=store, wall_clock=trio.current_time) as runtime:
        await runtime.spawn(spec, name="worker")
        await trio.sleep(5)
    await trio.sleep(store.lease_seconds * 2)  # down: its lease lapses, the sweep requeues j0
    lapsed = await store.get_job("j0")
    assert lapsed is not None and lapsed.status == "pending"
    async with open_runtime(store=store, wall_clock=trio.current_time) as runtime:
        ref = await runtime.spawn(spec, name="worker")
        await trio.sleep(1)
        runtime.kill("worker")
    assert (
        "worker resumes with job j0, which it no longer holds: its lease lapsed while the"
        " machine was down, and the queue gave it out again" in caplog.messages
    )
    assert ref.state == "working"
