"""Claiming ahead for a worker that drains a backlog, and completing without waiting:
in virtual time on the in-memory store, with exact times."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from statemachine_engine.persistence import (
    NewJob,
    SqliteStore,
    jobs_sql,
    open_memory_store,
    open_store,
)
from statemachine_engine.persistence._reserve import HOLD_SECONDS


@pytest.fixture
async def mem(epoch: float) -> AsyncIterator[SqliteStore]:
    async with open_memory_store(
        clock=lambda: epoch + trio.current_time(), lease_seconds=30.0, sweep_interval=100.0
    ) as store:
        yield store


async def fill(store: SqliteStore, n: int, **kwargs: int) -> None:
    await store.add_jobs(NewJob(f"j{i:02}", "t", **kwargs) for i in range(n))


async def statuses(store: SqliteStore) -> dict[str, str]:
    return {job.job_id: job.status for job in await store.list_jobs(limit=None)}


async def claim(store: SqliteStore, worker: str = "w", prefetch: int = 4) -> str | None:
    job = await store.claim_next(job_type=None, machine_type=None, worker=worker, prefetch=prefetch)
    return job.job_id if job is not None else None


async def test_a_draining_worker_gets_jobs_claimed_ahead_in_queue_order(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    await fill(mem, 12)
    await mem.add_job("urgent", "t", priority=0)
    taken = [await claim(mem) for _ in range(13)]
    assert taken == ["urgent", *(f"j{i:02}" for i in range(12))]
    # claims asking for 1, 2, 3, 5 and 5 jobs (the look-ahead doubles up to prefetch=4;
    # the last finds 2): 5 claims instead of 13
    assert mem.statistics()["batches"] == 2 + 5  # add_jobs and add_job, then the claims
    assert await claim(mem) is None
    assert set((await statuses(mem)).values()) == {"processing"}


async def test_jobs_claimed_ahead_are_held_by_the_worker_and_not_handed_to_others(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock, epoch: float
) -> None:
    await fill(mem, 4)
    assert [await claim(mem, "a") for _ in range(2)] == ["j00", "j01"]
    # j02 was claimed ahead for a together with j01
    assert (await statuses(mem))["j02"] == "processing"
    reserved = await mem.get_job("j02")
    assert reserved is not None and (reserved.attempts, reserved.started_at) == (0, None)
    assert await claim(mem, "b") == "j03"
    handed = await mem.claim_next(job_type=None, machine_type=None, worker="a", prefetch=4)
    assert handed is not None and handed.job_id == "j02"
    assert (handed.attempts, handed.started_at) == (1, epoch + trio.current_time())
    job = await mem.get_job("j02")  # started in the database too (with the next write)
    assert job is not None and (job.claimed_by, job.attempts) == ("a", 1)
    assert job.started_at == handed.started_at


async def test_prefetch_zero_claims_one_job_per_call(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    await fill(mem, 5)
    for expected in ("j00", "j01", "j02"):
        assert await claim(mem, prefetch=0) == expected
    assert sorted((await statuses(mem)).values()) == ["pending"] * 2 + ["processing"] * 3


async def test_a_slow_worker_never_gets_jobs_claimed_ahead(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    await fill(mem, 5)
    for expected in ("j00", "j01", "j02"):
        assert await claim(mem) == expected
        await trio.sleep(HOLD_SECONDS + 0.1)  # each job takes longer than the hold
    assert sorted((await statuses(mem)).values()) == ["pending"] * 2 + ["processing"] * 3


async def test_a_reserve_not_taken_from_goes_back_without_counting_an_attempt(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    await fill(mem, 6)
    for _ in range(3):
        await claim(mem)  # j00; j01 + j02 ahead; j02 from the reserve
    await claim(mem)  # j03 + j04 and j05 ahead
    taken_at = trio.current_time()
    assert (await statuses(mem))["j05"] == "processing"
    released = trio.Event()

    async def watch() -> None:
        while (await statuses(mem))["j05"] != "pending":
            await trio.sleep(0.01)
        released.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        await released.wait()
    assert trio.current_time() - taken_at == pytest.approx(HOLD_SECONDS, abs=0.011)
    for job_id in ("j04", "j05"):
        job = await mem.get_job(job_id)
        assert job is not None
        assert (job.status, job.attempts, job.claimed_by) == ("pending", 0, None)
    assert mem.statistics()["reserved_jobs"] == 0
    assert await claim(mem, "other") == "j04"


async def test_a_stopping_machine_gives_its_reserve_back(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    mem.machine_started(
        "w", current_state="s", config_type="c", pid=None, endpoint=None, timestamp=0.0
    )
    await fill(mem, 4)
    assert [await claim(mem) for _ in range(2)] == ["j00", "j01"]  # j02 ahead
    mem.machine_stopped("w")
    await mem.flush()
    job = await mem.get_job("j02")
    assert job is not None and (job.status, job.attempts) == ("pending", 0)
    assert await claim(mem, "other") == "j02"


async def test_a_closing_store_gives_every_reserve_back(db_path: object) -> None:
    path = str(db_path)
    async with open_store(path) as store:
        await fill(store, 4)
        assert [await claim(store) for _ in range(2)] == ["j00", "j01"]
        assert store.statistics()["reserved_jobs"] == 1
    async with open_store(path) as store:
        job = await store.get_job("j02")
        assert job is not None and (job.status, job.attempts) == ("pending", 0)


async def test_complete_soon_commits_with_the_next_write(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    await fill(mem, 3)
    job = await mem.claim_next(job_type=None, machine_type=None, worker="w")
    assert job is not None
    batches = mem.statistics()["batches"]
    assert mem.complete_soon(job.job_id, worker="w", result={"ok": True})
    assert mem.statistics()["batches"] == batches  # nothing written yet
    await claim(mem)  # the next claim commits it in the same transaction
    assert mem.statistics()["batches"] == batches + 1
    done = await mem.get_job(job.job_id)
    assert done is not None and (done.status, done.result) == ("completed", {"ok": True})


async def test_complete_soon_refuses_a_job_the_worker_does_not_hold(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    await fill(mem, 1)
    assert not mem.complete_soon("j00", worker="w")  # pending: nobody holds it
    job = await mem.claim_next(job_type=None, machine_type=None, worker="w")
    assert job is not None
    assert not mem.complete_soon("j00", worker="someone else")
    assert (await statuses(mem))["j00"] == "processing"


async def test_a_submitted_completion_waits_at_most_the_record_delay(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    await fill(mem, 1)
    job = await mem.claim_next(job_type=None, machine_type=None, worker="w")
    assert job is not None
    start = trio.current_time()
    assert mem.complete_soon(job.job_id, worker="w")
    while mem._writer.unwritten:
        await trio.sleep(0.001)
    assert trio.current_time() - start == pytest.approx(0.01, abs=0.0015)


async def test_a_completion_that_fails_at_commit_is_logged(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    await fill(mem, 1)
    job = await mem.claim_next(job_type=None, machine_type=None, worker="w")
    assert job is not None
    # another process took the job meanwhile (its lease lapsed there)
    await mem._writer.request(
        lambda conn, now: conn.execute("UPDATE jobs SET claimed_by = 'other' WHERE id = 1")
    )
    with caplog.at_level(logging.WARNING):
        assert mem.complete_soon(job.job_id, worker="w")
        await mem.flush()
    assert f"completing job {job.job_id} for w failed" in caplog.text
    still = await mem.get_job(job.job_id)
    assert still is not None and (still.status, still.claimed_by) == ("processing", "other")
    # no longer renewed for w: the job's lease lapses and it runs again
    assert mem._holdings.holder(job.job_id) is None


async def test_a_write_submitted_while_the_store_closes_is_still_written(db_path: object) -> None:
    path = str(db_path)

    def then_give_back(_row: object) -> None:
        # as a claim's caller that was cancelled during the close would give it back
        store._writer.submit(lambda conn, now: jobs_sql.add_job(conn, NewJob("late", "t"), now=now))

    async with open_store(path) as store:
        store._writer.submit(
            lambda conn, now: jobs_sql.add_job(conn, NewJob("first", "t"), now=now),
            after=then_give_back,
        )
    async with open_store(path) as store:
        assert await store.job_statuses(["first", "late"]) == {
            "first": "pending",
            "late": "pending",
        }


async def test_a_reserved_job_the_worker_lost_is_not_handed_over(
    epoch: float, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_memory_store(
        clock=lambda: epoch + trio.current_time(), lease_seconds=0.9, sweep_interval=100.0
    ) as store:
        store.machine_started(
            "w", current_state="s", config_type="c", pid=None, endpoint=None, timestamp=0.0
        )
        await fill(store, 4)
        assert [await claim(store) for _ in range(2)] == ["j00", "j01"]  # j02 ahead
        # an operator puts every processing job back (statemachine-db reset-processing
        # --force); the next lease renewal finds w's jobs gone
        await store._writer.request(
            lambda conn, now: jobs_sql.reset_processing(conn, now=now, older_than=None)
        )
        await trio.sleep(0.35)
        assert store._holdings.holder("j02") is None
        assert await claim(store, "b", prefetch=0) == "j00"
        assert await claim(store) == "j01"  # from the queue, not j02 from the lost reserve
        job = await store.get_job("j01")
        assert job is not None and (job.claimed_by, job.status) == ("w", "processing")
