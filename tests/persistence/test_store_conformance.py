"""The Store contract, run against the in-memory and the file-backed SQLite store.

Real clock here (the file store works in threads, which an autojump clock would skip
over); exact virtual-time behaviour is in test_store_timing.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from statemachine_engine.errors import DuplicateJob, JobNotFound, StoreError
from statemachine_engine.persistence import (
    JobQueue,
    NewJob,
    Recorder,
    SqliteStore,
    Store,
    open_store,
)


async def test_it_is_a_store(store: SqliteStore) -> None:
    assert isinstance(store, Store)
    assert isinstance(store, JobQueue)
    assert isinstance(store, Recorder)


async def test_add_and_get(store: SqliteStore) -> None:
    job = await store.add_job("a", "render", data={"file": "x.png"}, priority=2)
    assert (job.job_id, job.job_type, job.machine_type) == ("a", "render", "render")
    assert job.status == "pending" and job.priority == 2
    assert job.data == {"file": "x.png"}
    again = await store.get_job("a")
    assert again == job
    assert await store.get_job("missing") is None


async def test_duplicate_job_id_is_refused(store: SqliteStore) -> None:
    await store.add_job("a", "t")
    with pytest.raises(DuplicateJob):
        await store.add_job("a", "t")
    assert (await store.count_jobs())["total"] == 1


async def test_bulk_add_is_all_or_nothing(store: SqliteStore) -> None:
    assert await store.add_jobs(NewJob(f"j{i}", "t") for i in range(50)) == 50
    with pytest.raises(DuplicateJob):
        await store.add_jobs([NewJob("fresh", "t"), NewJob("j3", "t")])
    assert await store.get_job("fresh") is None


async def test_claims_follow_priority_then_age(store: SqliteStore) -> None:
    await store.add_job("low", "t", priority=9)
    await store.add_job("high", "t", priority=1)
    await store.add_job("mid", "t")
    claimed = [
        await store.claim_next(job_type="t", machine_type=None, worker="w") for _ in range(4)
    ]
    assert [job.job_id if job else None for job in claimed] == ["high", "mid", "low", None]
    first = claimed[0]
    assert first is not None
    assert (first.status, first.claimed_by, first.attempts) == ("processing", "w", 1)
    assert first.lease_until == pytest.approx(first.started_at + store.lease_seconds)  # type: ignore[operator]


async def test_claim_by_id(store: SqliteStore) -> None:
    await store.add_job("a", "t")
    job = await store.claim("a", worker="w", lease_seconds=5)
    assert job is not None and job.claimed_by == "w"
    assert await store.claim("a", worker="x") is None
    assert await store.claim("missing", worker="x") is None


async def test_complete_fail_and_heartbeat(store: SqliteStore) -> None:
    await store.add_jobs([NewJob("a", "t"), NewJob("b", "t", max_attempts=1)])
    await store.claim("a", worker="w")
    assert await store.heartbeat("a", worker="w", lease_seconds=100)
    assert not await store.heartbeat("a", worker="someone else")
    done = await store.complete("a", result=[1, 2])
    assert (done.status, done.result) == ("completed", [1, 2])
    await store.claim("b", worker="w")
    failed = await store.fail("b", error="broken")
    assert (failed.status, failed.error_message) == ("failed", "broken")
    with pytest.raises(JobNotFound):
        await store.complete("missing")
    with pytest.raises(JobNotFound):
        await store.fail("missing", error="x")


async def test_failed_attempt_goes_back_with_a_backoff(store: SqliteStore, epoch: float) -> None:
    await store.add_job("a", "t", max_attempts=3)
    await store.claim("a", worker="w")
    job = await store.fail("a", error="flaky")
    assert job.status == "pending"
    assert job.run_at is not None and job.run_at > epoch + trio.current_time()
    # not due yet: the next claim skips it
    assert await store.claim_next(job_type="t", machine_type=None, worker="w") is None


async def test_listing_reads(store: SqliteStore) -> None:
    await store.add_jobs(
        [NewJob("a", "t", priority=3), NewJob("b", "t", priority=1), NewJob("c", "u")]
    )
    await store.claim("c", worker="w")
    pending = await store.pending_jobs(job_type="t", machine_type=None)
    assert [job.job_id for job in pending] == ["b", "a"]
    assert [
        j.job_id for j in await store.pending_jobs(job_type=None, machine_type=None, limit=1)
    ] == ["b"]
    assert await store.job_statuses(["a", "c", "zzz"]) == {"a": "pending", "c": "processing"}
    counts = await store.count_jobs()
    assert (counts["pending"], counts["processing"], counts["total"]) == (2, 1, 3)
    assert [j.job_id for j in await store.list_jobs(status="processing")] == ["c"]


async def test_registry_and_history(store: SqliteStore, epoch: float) -> None:
    store.machine_started(
        "worker_1",
        current_state="idle",
        config_type="worker",
        pid=None,
        endpoint="/tmp/x.sock",
        timestamp=epoch,
    )
    context = {"job_id": "a", "count": 0}
    for step in range(1, 6):
        context["count"] = step
        store.transition(
            "worker_1",
            from_state="idle",
            to_state=f"s{step}",
            event="go",
            timestamp=epoch + step,
            context=context,
        )
    await store.flush()
    [row] = await store.machines()
    assert row["machine_name"] == "worker_1"
    assert row["current_state"] == "s5"
    assert row["last_activity"] == epoch + 5
    assert (row["config_type"], row["endpoint"]) == ("worker", "/tmp/x.sock")
    assert row["context"] == {"job_id": "a", "count": 5}
    history = await store.transitions(machine="worker_1")
    assert [h["to_state"] for h in history] == ["s5", "s4", "s3", "s2", "s1"]
    assert history[0]["timestamp"] == epoch + 5
    assert await store.machine("worker_1") == row

    store.machine_stopped("worker_1")
    await store.flush()
    assert await store.machines() == []
    assert await store.machine("worker_1") is None


async def test_errors_and_events_are_recorded(store: SqliteStore, epoch: float) -> None:
    store.error(
        "m",
        state="working",
        action="bash",
        message="exit 3",
        traceback="Traceback ...",
        timestamp=epoch + 1,
        job_id="a",
    )
    store.event_sent(
        source_machine="m",
        target_machine="n",
        event_type="go",
        payload={"x": 1},
        job_id="a",
        status="delivered",
    )
    store.event_sent(
        source_machine="m",
        target_machine="n",
        event_type="later",
        payload=None,
        job_id=None,
        status="pending",
    )
    await store.flush()
    [error] = await store.errors(machine="m")
    assert (error["action"], error["message"], error["job_id"]) == ("bash", "exit 3", "a")
    events = await store.events(target="n")
    assert [(e["event_type"], e["status"], e["payload"]) for e in events] == [
        ("later", "pending", None),
        ("go", "delivered", {"x": 1}),
    ]
    assert await store.mark_events_processed(target_machine="n", event_types=["later"]) == 1
    assert await store.mark_events_processed(target_machine="n") == 0
    assert [e["status"] for e in await store.events(target="n")] == ["processed", "delivered"]


async def test_waiting_worker_is_woken_by_an_add(store: SqliteStore) -> None:
    woke: list[bool] = []

    async def waiter() -> None:
        woke.append(await store.wait_for_job(job_type=None, machine_type="t", within=30))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await trio.testing.wait_all_tasks_blocked()
            await store.add_job("a", "t")
    assert woke == [True]


async def test_waiting_without_jobs_times_out(store: SqliteStore) -> None:
    with trio.fail_after(10):
        assert not await store.wait_for_job(job_type=None, machine_type=None, within=0.05)
        assert not await store.wait_for_job(job_type=None, machine_type=None, within=0)


async def test_waiting_for_tracked_jobs(store: SqliteStore) -> None:
    await store.add_jobs([NewJob("a", "t"), NewJob("b", "t")])
    result: dict[str, str] = {}

    async def watcher() -> None:
        result.update(await store.wait_until_finished(["a", "b"], within=30))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watcher)
            await store.claim("a", worker="w")
            await store.complete("a")
            await store.fail("b", error="x", retry=False)
    assert result == {"a": "completed", "b": "failed"}


async def test_concurrent_claims_never_share_a_job(store: SqliteStore) -> None:
    await store.add_jobs(NewJob(f"j{i}", "t") for i in range(200))
    got: list[str] = []

    async def worker(name: str) -> None:
        while job := await store.claim_next(job_type="t", machine_type=None, worker=name):
            got.append(job.job_id)
            await trio.sleep(0)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for i in range(8):
                nursery.start_soon(worker, f"w{i}")
    assert sorted(got) == sorted(f"j{i}" for i in range(200))


async def test_a_closed_store_refuses_work(store_path: str, epoch: float) -> None:
    async with open_store(store_path) as store:
        pass
    with pytest.raises(StoreError, match="closed"):
        await store.add_job("a", "t")
    store.transition("m", from_state="a", to_state="b", event="e", timestamp=epoch)
    assert store.dropped == 1


async def test_queued_records_are_written_on_close(tmp_dir: Path, epoch: float) -> None:
    path = tmp_dir / "history.db"
    async with open_store(path) as store:
        for step in range(100):
            store.transition(
                "m", from_state="a", to_state="b", event=f"e{step}", timestamp=epoch + step
            )
    async with open_store(path) as store:
        assert len(await store.transitions(limit=None)) == 100


async def test_cancelled_owner_still_gets_its_records_written(tmp_dir: Path, epoch: float) -> None:
    path = tmp_dir / "history.db"
    with trio.CancelScope() as scope:
        async with open_store(path) as store:
            store.machine_started(
                "m", current_state="a", config_type="c", pid=1, endpoint=None, timestamp=epoch
            )
            store.machine_stopped("m")
            store.error("m", state="a", action=None, message="bye", traceback=None, timestamp=epoch)
            scope.cancel()
            await trio.sleep_forever()
    async with open_store(path) as store:
        assert await store.machines() == []
        assert [e["message"] for e in await store.errors()] == ["bye"]
