"""The store in virtual time (in-memory database, autojump clock): wake-ups, backoff,
lease renewal and expiry, back-pressure and cancellation, at exact times."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trio
import trio.testing

from statemachine_engine.persistence import NewJob, SqliteStore, open_memory_store


@pytest.fixture
async def mem(epoch: float) -> AsyncIterator[SqliteStore]:
    """The in-memory store; tests using it also request ``autojump_clock`` (pytest-trio
    only takes a clock from the test's own arguments)."""
    async with open_memory_store(
        clock=lambda: epoch + trio.current_time(),
        lease_seconds=3.0,
        sweep_interval=1.0,
        poll_interval=1000.0,
        retry_backoff=2.0,
    ) as store:
        yield store


async def test_an_add_wakes_the_waiter_at_once(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    woke_at: list[float] = []

    async def waiter() -> None:
        assert await mem.wait_for_job(job_type=None, machine_type="t", within=100)
        woke_at.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.sleep(7)
        await mem.add_job("a", "t")
    assert woke_at == [7.0]


async def test_an_add_for_another_machine_type_does_not_wake(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(mem.add_job, "a", "other")
        assert not await mem.wait_for_job(job_type=None, machine_type="t", within=5)
    assert trio.current_time() == 5.0


async def test_the_slow_poll_wakes_waiters_for_other_processes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_memory_store(poll_interval=5.0) as store:
        # True at the poll: another process may have added a job meanwhile
        assert await store.wait_for_job(job_type=None, machine_type=None, within=60)
        assert trio.current_time() == 5.0


async def test_the_doorbell_hook_wakes_waiters_at_once(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    woke_at: list[float] = []

    async def waiter() -> None:
        assert await mem.wait_for_job(job_type=None, machine_type="t", within=100)
        woke_at.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.sleep(4)
        mem.notify_job_added("t")  # what the control-socket doorbell will call
    assert woke_at == [4.0]


async def test_a_retried_job_wakes_its_worker_when_due(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    await mem.add_job("a", "t")
    await mem.claim("a", worker="w")
    await trio.sleep(2)  # within the 3 s lease
    job = await mem.fail("a", error="flaky")
    assert job.status == "pending"
    # backoff 2 s for the first retry: the worker sleeps until then, no polling
    assert await mem.wait_for_job(job_type="t", machine_type=None, within=100)
    assert trio.current_time() == 4.0
    again = await mem.claim_next(job_type="t", machine_type=None, worker="w")
    assert again is not None and again.attempts == 2


async def test_waiting_for_jobs_wakes_on_completion(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    await mem.add_jobs([NewJob("a", "t"), NewJob("b", "t")])
    finished_at: list[float] = []

    async def watcher() -> None:
        statuses = await mem.wait_until_finished(["a", "b"], within=100)
        assert statuses == {"a": "completed", "b": "completed"}
        finished_at.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watcher)
        await trio.sleep(3)
        await mem.complete("a")
        await trio.sleep(4)
        await mem.complete("b")
    assert finished_at == [7.0]


async def test_waiting_for_jobs_times_out(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    await mem.add_job("a", "t")
    statuses = await mem.wait_until_finished(["a", "never_added"], within=30)
    assert statuses == {"a": "pending"}
    assert trio.current_time() == 30.0


async def test_leases_of_running_machines_are_renewed(
    mem: SqliteStore, epoch: float, autojump_clock: trio.testing.MockClock
) -> None:
    mem.machine_started(
        "w", current_state="idle", config_type="c", pid=None, endpoint=None, timestamp=epoch
    )
    await mem.add_job("a", "t")
    await mem.claim_next(job_type=None, machine_type=None, worker="w")
    await trio.sleep(60)  # twenty leases long
    job = await mem.get_job("a")
    assert job is not None and job.status == "processing"
    assert job.lease_until is not None and job.lease_until > epoch + 60

    mem.machine_stopped("w")  # the machine is gone: renewals stop, the lease lapses
    lapsed_by = trio.current_time() + 3.0
    while (job := await mem.get_job("a")) is not None and job.status == "processing":
        await trio.sleep(0.5)
    assert job is not None
    assert job.status == "pending"
    assert job.attempts == 1
    assert "lease expired while held by w" in (job.error_message or "")
    assert lapsed_by <= trio.current_time() <= lapsed_by + 1.5  # found by the next sweep


async def test_a_machine_stopped_on_purpose_gives_its_job_back_at_once(
    mem: SqliteStore, epoch: float, autojump_clock: trio.testing.MockClock
) -> None:
    mem.machine_started(
        "w", current_state="idle", config_type="c", pid=None, endpoint=None, timestamp=epoch
    )
    await mem.add_jobs([NewJob("a", "t"), NewJob("b", "t")])
    await mem.claim_next(job_type=None, machine_type=None, worker="w")
    await mem.claim("b", worker="other")  # another worker's job is left alone
    woken = trio.Event()

    async def waiter() -> None:
        await mem.wait_for_job(job_type=None, machine_type="anything", within=100)
        woken.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        stopped_at = trio.current_time()
        mem.machine_stopped("w", give_back_jobs=True)  # Ctrl-C, SIGTERM, a parent stopping it
        await mem.flush()
        await woken.wait()  # waiting workers learn of it at once
        nursery.cancel_scope.cancel()
    assert trio.current_time() == stopped_at  # not after a lease
    job = await mem.get_job("a")
    assert job is not None
    assert (job.status, job.claimed_by, job.attempts, job.started_at) == ("pending", None, 0, None)
    other = await mem.get_job("b")
    assert other is not None and (other.status, other.claimed_by) == ("processing", "other")
    assert await mem.claim_next(job_type=None, machine_type=None, worker="w2") is not None


async def test_a_lapsed_job_is_failed_when_attempts_are_used_up(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    await mem.add_job("a", "t", max_attempts=1)
    await mem.claim("a", worker="crashed")  # never registered: nobody renews
    await trio.sleep(5)
    job = await mem.get_job("a")
    assert job is not None and job.status == "failed"


async def test_a_claim_nobody_received_is_given_back(
    mem: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    await mem.add_job("a", "t")
    gate = trio.Event()
    real_transaction = mem._connections.transaction

    async def slow_transaction(fn: Callable[[sqlite3.Connection], Any], **kw: Any) -> Any:
        await gate.wait()
        return await real_transaction(fn, **kw)

    mem._connections.transaction = slow_transaction  # type: ignore[method-assign]
    scope = trio.CancelScope()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scope_claim, mem, scope)
        await trio.testing.wait_all_tasks_blocked()
        scope.cancel()  # the claimer gives up while its claim is being written
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
    mem._connections.transaction = real_transaction  # type: ignore[method-assign]
    await mem.flush()
    job = await mem.get_job("a")
    assert job is not None
    assert (job.status, job.attempts, job.claimed_by) == ("pending", 0, None)


async def scope_claim(store: SqliteStore, scope: trio.CancelScope) -> None:
    with scope:
        await store.claim_next(job_type=None, machine_type=None, worker="w")


async def test_a_full_queue_drops_records_instead_of_blocking(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture, epoch: float
) -> None:
    caplog.set_level(logging.WARNING, logger="statemachine_engine.persistence")
    async with open_memory_store(queue_size=10) as store:
        for step in range(25):  # no checkpoint: the writer cannot drain meanwhile
            store.transition("m", from_state="a", to_state="b", event="e", timestamp=epoch + step)
        await store.flush()
        accepted = len(await store.transitions(limit=None))
        # ten queued, plus one handed straight to the waiting writer
        assert accepted in (10, 11)
        assert store.dropped == 25 - accepted
    drops = [r for r in caplog.records if "dropping queued writes" in r.getMessage()]
    assert len(drops) == 1  # said once, not once per record


async def test_history_rides_along_with_the_next_job_write(
    mem: SqliteStore, epoch: float, autojump_clock: trio.testing.MockClock
) -> None:
    batches = mem.statistics()["batches"]
    for step in range(5):
        mem.transition("m", from_state="a", to_state="b", event="e", timestamp=epoch + step)
    await mem.add_job("a", "t")
    assert mem.statistics()["batches"] == batches + 1
    assert len(await mem.transitions(limit=None)) == 5


async def test_history_alone_is_committed_within_the_record_delay(
    mem: SqliteStore, epoch: float
) -> None:
    mem.transition("m", from_state="a", to_state="b", event="e", timestamp=epoch)
    await trio.sleep(0.02)
    assert len(await mem.transitions(limit=None)) == 1
