"""The job-queue, event and registry actions, with a fake host around a real store."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
import trio
import trio.testing

from statemachine_engine.actors import ActorRef, open_runtime
from statemachine_engine.actors._machine import YIELD_EVERY
from statemachine_engine.config import load_config_text
from statemachine_engine.persistence import NewJob, SqliteStore, open_memory_store
from statemachine_engine.transport import RecordingPublisher

if TYPE_CHECKING:
    from conftest import FakeHost, RunAction

EPOCH = 1_700_000_000.0


@pytest.fixture
async def store() -> AsyncIterator[SqliteStore]:
    async with open_memory_store(
        clock=lambda: EPOCH + trio.current_time(), poll_interval=1000.0
    ) as opened:
        yield opened


@pytest.fixture
def host(fake_host: FakeHost, store: SqliteStore) -> FakeHost:
    fake_host.store = store
    fake_host.machine_name = "worker_1"
    return fake_host


# -- check_database_queue ---------------------------------------------------------------


async def test_claims_the_next_job_into_the_context(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    await store.add_job("job_1", "render", data={"input": "a.png", "size": 3}, priority=2)
    context: dict[str, Any] = {}
    event = await run_action({"type": "check_database_queue", "job_type": "render"}, context)
    assert event == "new_job"
    assert context["job_id"] == context["id"] == "job_1"
    assert context["job_type"] == "render"
    assert (context["input"], context["size"]) == ("a.png", 3)
    current = context["current_job"]
    assert current["id"] == "job_1"  # the published package's {current_job.id}
    assert current["job_id"] == "job_1"
    assert current["data"] == {"input": "a.png", "size": 3}
    assert current["status"] == "processing"
    assert current["claimed_by"] == "worker_1"
    assert isinstance(current["row_id"], int)
    [(kind, payload)] = host.published
    assert kind == "job_started"
    assert (payload["job_id"], payload["job_type"], payload["timestamp"]) == (
        "job_1",
        "render",
        host.now,
    )
    job = await store.get_job("job_1")
    assert job is not None and job.claimed_by == "worker_1"


async def test_the_previous_jobs_data_does_not_leak(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    await store.add_job("first", "t", data={"only_in_first": 1, "shared": "one"})
    await store.add_job("second", "t", data={"shared": "two"})
    context: dict[str, Any] = {}
    await run_action({"type": "check_database_queue"}, context)
    assert context["only_in_first"] == 1
    context["mine"] = "kept"
    await run_action({"type": "check_database_queue"}, context)
    assert context["job_id"] == "second"
    assert "only_in_first" not in context  # upstream kept it: the leak this fixes
    assert context["shared"] == "two"
    assert context["mine"] == "kept"


async def test_job_data_cannot_overwrite_engine_keys(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    await store.add_job("a", "t", data={"machine_name": "evil", "job_id": "x", "ok": True})
    context: dict[str, Any] = {}
    await run_action({"type": "check_database_queue"}, context)
    assert context["machine_name"] == "worker_1"
    assert context["job_id"] == "a"
    assert context["ok"] is True


async def test_empty_queue_waits_then_answers_no_jobs(
    run_action: RunAction, host: FakeHost, autojump_clock: trio.testing.MockClock
) -> None:
    assert await run_action({"type": "check_database_queue"}) == "no_jobs"
    assert trio.current_time() == 1.0  # the default wait
    assert await run_action({"type": "check_database_queue", "wait": 0}) == "no_jobs"
    assert trio.current_time() == 1.0


async def test_a_waiting_check_is_woken_by_an_add(
    run_action: RunAction,
    host: FakeHost,
    store: SqliteStore,
    autojump_clock: trio.testing.MockClock,
) -> None:
    result: list[str | None] = []

    async def check() -> None:
        result.append(
            await run_action({"type": "check_database_queue", "job_type": "t", "wait": 30})
        )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(check)
        await trio.sleep(12.5)
        await store.add_job("late", "t")
    assert result == ["new_job"]
    assert trio.current_time() == 12.5


async def test_event_names_are_configurable(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    config = {"type": "check_database_queue", "wait": 0, "success": "got", "empty": "none"}
    assert await run_action(config) == "none"
    await store.add_job("a", "t")
    assert await run_action(config) == "got"


async def test_machine_type_routing(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    await store.add_job("a", "render", machine_type="gpu_worker")
    cpu = {"type": "check_database_queue", "machine_type": "cpu_worker", "wait": 0}
    gpu = {"type": "check_database_queue", "machine_type": "gpu_worker", "wait": 0}
    assert await run_action(cpu) == "no_jobs"
    assert await run_action(gpu) == "new_job"


async def test_without_a_store_the_job_actions_fail_clearly(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    for config in (
        {"type": "check_database_queue"},
        {"type": "claim_job", "job_id": "a"},
        {"type": "get_pending_jobs"},
        {"type": "complete_job", "job_id": "a"},
        {"type": "fail_job", "job_id": "a"},
        {"type": "wait_for_jobs"},
        {"type": "clear_events"},
        {"type": "check_machine_state", "target_machine": "x"},
    ):
        context: dict[str, Any] = {"spawned_jobs": ["a"]}
        assert await run_action(config, context) == "error", config
        assert "no store" in context["last_error"]
        assert context["last_error_action"] == config["type"]


# -- claim_job --------------------------------------------------------------------------


async def test_claim_job_outcomes(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    await store.add_job("a", "t", data={"k": "v"})
    context: dict[str, Any] = {}
    assert await run_action({"type": "claim_job", "job_id": "a"}, context) == "claimed"
    assert (context["job_id"], context["k"]) == ("a", "v")
    assert await run_action({"type": "claim_job", "job_id": "a"}) == "already_claimed"
    missing: dict[str, Any] = {}
    assert await run_action({"type": "claim_job", "job_id": "nope"}, missing) == "error"
    assert "not found" in missing["last_error"]
    unresolved: dict[str, Any] = {}
    assert await run_action({"type": "claim_job", "job_id": "{job}"}, unresolved) == "error"
    assert "needs a job_id" in unresolved["last_error"]


# -- get_pending_jobs -------------------------------------------------------------------


async def test_get_pending_jobs(run_action: RunAction, host: FakeHost, store: SqliteStore) -> None:
    context: dict[str, Any] = {}
    assert await run_action({"type": "get_pending_jobs"}, context) == "no_jobs"
    assert context["pending_jobs"] == []
    await store.add_jobs([NewJob("a", "t", priority=5), NewJob("b", "t", priority=1)])
    await store.add_job("c", "other")
    config = {"type": "get_pending_jobs", "job_type": "t", "store_as": "todo", "limit": 5}
    assert await run_action(config, context) == "jobs_found"
    assert [row["job_id"] for row in context["todo"]] == ["b", "a"]
    assert isinstance(context["todo"][0]["id"], int)  # full rows, as upstream
    assert await run_action({"type": "get_pending_jobs", "limit": 1}, context) == "jobs_found"
    assert len(context["pending_jobs"]) == 1
    job = await store.get_job("a")
    assert job is not None and job.status == "pending"  # nothing claimed


async def test_a_draining_check_claims_ahead_up_to_prefetch(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    await store.add_jobs(NewJob(f"j{i}", "t") for i in range(10))
    context: dict[str, Any] = {}
    seen = []
    for _ in range(4):
        assert await run_action({"type": "check_database_queue", "prefetch": 2}, context) == (
            "new_job"
        )
        seen.append(context["job_id"])
    assert seen == ["j0", "j1", "j2", "j3"]
    # claims of 1, 2 (j2 ahead) and 3 (j4, j5 ahead): two jobs wait for this machine
    counts = await store.count_jobs()
    assert (counts["processing"], counts["pending"]) == (6, 4)
    assert store.statistics()["reserved_jobs"] == 2


async def test_prefetch_zero_claims_only_what_is_asked(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    await store.add_jobs(NewJob(f"j{i}", "t") for i in range(10))
    for _ in range(4):
        await run_action({"type": "check_database_queue", "prefetch": 0}, {})
    assert (await store.count_jobs())["processing"] == 4


@pytest.mark.parametrize("value", [-1, 257, "many", 1.5, True])
async def test_a_bad_prefetch_is_an_error_naming_the_key(
    run_action: RunAction, host: FakeHost, store: SqliteStore, value: Any
) -> None:
    # the machine turns the exception into its error event (tests/actors)
    await store.add_job("a", "t")
    config = {"type": "check_database_queue", "prefetch": value}
    with pytest.raises(ValueError, match="prefetch: expected a whole number from 0 to 256"):
        await run_action(config, {})
    assert (await store.count_jobs())["pending"] == 1


# -- complete_job / fail_job ------------------------------------------------------------


async def test_complete_the_current_job(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    await store.add_job("a", "t")
    context: dict[str, Any] = {}
    await run_action({"type": "check_database_queue"}, context)
    assert await run_action({"type": "complete_job", "result": {"n": 1}}, context) == "success"
    job = await store.get_job("a")
    assert job is not None
    assert (job.status, job.result) == ("completed", {"n": 1})
    assert [kind for kind, _ in host.published] == ["job_started", "job_completed"]
    assert host.published[-1][1]["status"] == "completed"


async def test_the_current_job_is_completed_without_waiting_for_a_commit(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    await store.add_jobs([NewJob("a", "t"), NewJob("b", "t")])
    context: dict[str, Any] = {}
    await run_action({"type": "check_database_queue", "prefetch": 0}, context)
    batches = store.statistics()["batches"]
    assert await run_action({"type": "complete_job"}, context) == "success"
    assert store.statistics()["batches"] == batches  # queued, not yet committed
    assert host.published[-1] == (
        "job_completed",
        {
            "job_id": "a",
            "job_type": "t",
            "status": "completed",
            "attempts": 1,
            "timestamp": host.now,
        },
    )
    # the next claim commits the completion in its own transaction
    await run_action({"type": "check_database_queue", "prefetch": 0}, context)
    assert store.statistics()["batches"] == batches + 1
    assert (await store.job_statuses(["a", "b"])) == {"a": "completed", "b": "processing"}


async def test_a_job_the_machine_does_not_hold_is_completed_at_once(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    await store.add_job("other", "t")
    batches = store.statistics()["batches"]
    config = {"type": "complete_job", "job_id": "other"}
    assert await run_action(config, {}) == "success"
    assert store.statistics()["batches"] == batches + 1


async def test_complete_job_reports_what_it_could_not_do(
    run_action: RunAction, host: FakeHost
) -> None:
    context: dict[str, Any] = {}
    assert await run_action({"type": "complete_job"}, context) == "error"
    assert "no current job" in context["last_error"]
    assert await run_action({"type": "complete_job", "job_id": "{job_id}"}, context) == "error"
    assert await run_action({"type": "complete_job", "job_id": "ghost"}, context) == "error"
    assert "not found" in context["last_error"]
    custom = {"type": "complete_job", "job_id": "ghost", "error": "complete_failed"}
    assert await run_action(custom, context) == "complete_failed"


async def test_fail_job_retries_then_fails(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    await store.add_job("a", "t", max_attempts=2)
    context: dict[str, Any] = {"last_error": "exit 3"}
    await run_action({"type": "claim_job", "job_id": "a"}, context)
    assert await run_action({"type": "fail_job"}, context) == "success"
    job = await store.get_job("a")
    assert job is not None
    assert (job.status, job.error_message) == ("pending", "exit 3")
    assert [kind for kind, _ in host.published] == ["job_started"]
    await store.claim("a", worker="worker_1")
    config = {"type": "fail_job", "job_id": "a", "reason": "gave up"}
    assert await run_action(config, context) == "success"
    job = await store.get_job("a")
    assert job is not None
    assert (job.status, job.error_message) == ("failed", "gave up")
    assert host.published[-1][0] == "job_completed"
    assert host.published[-1][1]["status"] == "failed"


async def test_fail_job_without_retry(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    await store.add_job("a", "t")
    await store.claim("a", worker="worker_1")
    config = {"type": "fail_job", "job_id": "a", "retry": "false", "reason": "bad input"}
    assert await run_action(config) == "success"
    job = await store.get_job("a")
    assert job is not None and job.status == "failed"


# -- wait_for_jobs ----------------------------------------------------------------------


async def test_wait_for_jobs_wakes_when_the_last_one_finishes(
    run_action: RunAction,
    host: FakeHost,
    store: SqliteStore,
    autojump_clock: trio.testing.MockClock,
) -> None:
    await store.add_jobs([NewJob("a", "t"), NewJob("b", "t"), NewJob("c", "t")])
    context: dict[str, Any] = {"spawned_jobs": ["a", {"job_id": "b"}, "c"]}
    result: list[str | None] = []

    async def wait() -> None:
        result.append(await run_action({"type": "wait_for_jobs", "timeout": 100}, context))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait)
        await trio.sleep(2)
        await store.complete("a")
        await trio.sleep(3)
        await store.fail("b", error="x", retry=False)
        await trio.sleep(4)
        await store.complete("c")
    assert result == ["all_jobs_complete"]
    assert trio.current_time() == 9.0
    assert context["completed_jobs"] == ["a", "c"]
    assert context["failed_jobs"] == ["b"]
    assert context["pending_jobs"] == []


async def test_wait_for_jobs_outcomes(
    run_action: RunAction,
    host: FakeHost,
    store: SqliteStore,
    autojump_clock: trio.testing.MockClock,
) -> None:
    assert await run_action({"type": "wait_for_jobs"}, {}) == "no_jobs_tracked"
    await store.add_job("a", "t")
    context: dict[str, Any] = {"mine": ["a"]}
    config: dict[str, Any] = {"type": "wait_for_jobs", "tracked_jobs_key": "mine", "timeout": 5}
    assert await run_action(config, context) is None  # stays in its state, as upstream
    assert trio.current_time() == 5.0
    assert context["pending_jobs"] == ["a"]
    assert await run_action({**config, "pending": "still_waiting"}, context) == "still_waiting"
    with_timeout = {**config, "pending": "still_waiting", "timeout_event": "too_slow"}
    assert await run_action(with_timeout, context) == "too_slow"
    await store.fail("a", error="x", retry=False)
    assert await run_action({**config, "failed": "some_failed"}, context) == "some_failed"
    assert await run_action(config, context) == "all_jobs_complete"


# -- clear_events / check_machine_state -------------------------------------------------


async def test_clear_events(run_action: RunAction, host: FakeHost, store: SqliteStore) -> None:
    for event_type in ("go", "go", "stop"):
        store.event_sent(
            source_machine="cli",
            target_machine="worker_1",
            event_type=event_type,
            payload=None,
            job_id=None,
            status="pending",
        )
    context: dict[str, Any] = {}
    assert await run_action({"type": "clear_events", "event_types": "go"}, context) == (
        "events_cleared"
    )
    assert context["cleared_events"] == 2
    assert await run_action({"type": "clear_events", "event_types": ["go"]}) == (
        "no_events_to_clear"
    )
    assert await run_action({"type": "clear_events", "success": "done"}) == "done"
    assert await run_action({"type": "clear_events", "success": "done"}) == "done"
    assert [e["status"] for e in await store.events(target="worker_1")] == ["processed"] * 3


async def test_check_machine_state(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    store.machine_started(
        "worker_2",
        current_state="idle",
        config_type="worker",
        pid=os.getpid(),
        endpoint=None,
        timestamp=EPOCH,
    )
    config: dict[str, Any] = {
        "type": "check_machine_state",
        "target_machine": "worker_2",
        "expected_states": ["idle", "busy"],
    }
    context: dict[str, Any] = {}
    assert await run_action(config, context) == "in_expected_state"
    assert context["target_machine_state"] == "idle"
    store.transition("worker_2", from_state="idle", to_state="broken", event="e", timestamp=EPOCH)
    assert await run_action(config, context) == "unexpected_state"
    assert context["unexpected_machine_state"] == "broken"
    assert await run_action({**config, "target_machine": "nobody"}, context) == "not_running"


async def test_a_registry_row_of_a_dead_process_is_not_running(
    run_action: RunAction, host: FakeHost, store: SqliteStore
) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    store.machine_started(
        "ghost",
        current_state="idle",
        config_type="worker",
        pid=int(dead.stdout),
        endpoint=None,
        timestamp=EPOCH,
    )
    config = {"type": "check_machine_state", "target_machine": "ghost"}
    assert await run_action(config) == "not_running"


# -- in a runtime -----------------------------------------------------------------------

WORKER = """
name: worker
initial_state: waiting
states: [waiting, working, done, stopped]
transitions:
  - {from: waiting, to: working, event: new_job}
  - {from: waiting, to: stopped, event: no_jobs}
  - {from: working, to: done, event: job_done}
  - {from: done, to: waiting, event: success}
actions:
  waiting: [{type: check_database_queue, job_type: render, wait: 5}]
  working: [{type: set_context, key: last_seen, value: "{input}", success: job_done}]
  done: [{type: complete_job, result: "{input}"}]
"""


async def test_a_worker_machine_drains_the_queue(
    autojump_clock: trio.testing.MockClock, recorder: RecordingPublisher, store: SqliteStore
) -> None:
    await store.add_jobs(NewJob(f"j{i}", "render", data={"input": f"in_{i}"}) for i in range(5))
    async with open_runtime(store=store, publisher=recorder) as runtime:
        ref = await runtime.spawn(load_config_text(WORKER), name="worker")

        async def add_late() -> None:
            await trio.sleep(3)
            await store.add_job("late", "render", data={"input": "late"})

        async with trio.open_nursery() as nursery:
            nursery.start_soon(add_late)
            await ref.wait_stopped()
    assert trio.current_time() == 8.0  # the late job at 3 s, then a 5 s wait
    jobs = await store.list_jobs(limit=None)
    assert {job.status for job in jobs} == {"completed"}
    assert {job.job_id: job.result for job in jobs}["late"] == "late"
    kinds = [e.type for e in recorder.events if e.type.startswith("job_")]
    assert kinds == ["job_started", "job_completed"] * 6
    await store.flush()
    history = await store.transitions(machine="worker", limit=None)
    assert history[0]["to_state"] == "stopped"
    assert await store.machines() == []  # removed from the registry when it stopped


class TaskSteps(trio.abc.Instrument):
    """How many times each task ran (one step: from a schedule point to the next)."""

    def __init__(self) -> None:
        self.steps: dict[trio.lowlevel.Task, int] = {}

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps[task] = self.steps.get(task, 0) + 1


async def test_a_draining_worker_yields_every_few_jobs_not_at_every_one(
    autojump_clock: trio.testing.MockClock, recorder: RecordingPublisher, store: SqliteStore
) -> None:
    """Jobs handed over from the claim-ahead reserve and completions queued for the next
    batch cost the worker no schedule point; the machine loop yields every
    ``YIELD_EVERY`` transitions, so the tasks beside it are not kept waiting for the
    drain (here the reserve is large enough that the claims rarely yield)."""
    total = 200
    await store.add_jobs(NewJob(f"j{i:03}", "render", data={"input": i}) for i in range(total))
    drain = WORKER.replace("wait: 5}", "wait: 0, prefetch: 256}")
    watch = TaskSteps()
    trio.lowlevel.add_instrument(watch)
    seen: list[int] = []  # jobs completed, each time the task beside the worker ran

    async def beside(ref: ActorRef) -> None:
        while ref.status == "running":
            seen.append(sum(e.type == "job_completed" for e in recorder.events))
            await trio.lowlevel.checkpoint()

    async with open_runtime(store=store, publisher=recorder) as runtime:
        ref = await runtime.spawn(load_config_text(drain), name="worker")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(beside, ref)
            await ref.wait_stopped()
    trio.lowlevel.remove_instrument(watch)
    assert seen[-1] == total
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    # one job is three transitions; trio runs the tasks of a round in either order, so the
    # task beside may run before the worker's step in one round and after it in the next
    assert max(gaps) <= 2 * (YIELD_EVERY // 3 + 1)
    worker_steps = max(n for task, n in watch.steps.items() if "MachineActor" in task.name)
    # 3 * 200 / 32 yields and two steps for each claim of the doubling look-ahead (1, 2, 3,
    # 5, 9, ... jobs): 39; a schedule point in every job would make it 200 or more
    assert worker_steps <= total // 4
    assert (await store.count_jobs())["completed"] == total


SLOW_WORKER = """
initial_state: checking
transitions:
  - {from: checking, to: working, event: new_job}
  - {from: working, to: checking, event: done}
actions:
  checking:
    - {type: check_database_queue, job_type: render}
  working:
    - {type: sleep, seconds: 600}
"""


async def test_stopping_the_runtime_gives_the_running_job_back_at_once(
    autojump_clock: trio.testing.MockClock, recorder: RecordingPublisher, store: SqliteStore
) -> None:
    """Ctrl-C on a worker: its job is pending again at once, its attempt not counted
    (a crashed or killed worker's job waits for its lease and counts one)."""
    await store.add_jobs([NewJob("j1", "render"), NewJob("j2", "render")])
    async with open_runtime(store=store, publisher=recorder) as runtime:
        ref = await runtime.spawn(load_config_text(SLOW_WORKER), name="worker")
        await ref.wait_state("working")
        await trio.sleep(5)
        await runtime.stop()
    await store.flush()
    assert trio.current_time() == 5.0
    jobs = {job.job_id: job for job in await store.list_jobs(limit=None)}
    running, reserved = jobs["j1"], jobs["j2"]
    assert (running.status, running.claimed_by, running.attempts) == ("pending", None, 0)
    assert (reserved.status, reserved.claimed_by, reserved.attempts) == ("pending", None, 0)
