"""check_store's job-queue checks: claiming ahead, completing without waiting, and two stores
on one database (two processes, or two hosts) sharing the queue."""

from __future__ import annotations

import trio
import trio.lowlevel

from statemachine_engine.persistence import NewJob
from statemachine_engine.testing._checked_store import Check, CheckedStore, StoreOpener


async def _fill(store: CheckedStore, n: int) -> None:
    await store.add_jobs(NewJob(f"j{i:03}", "t") for i in range(n))


async def _claim(store: CheckedStore, worker: str = "w", prefetch: int = 4) -> str | None:
    job = await store.claim_next(job_type=None, machine_type=None, worker=worker, prefetch=prefetch)
    return job.job_id if job is not None else None


async def _statuses(store: CheckedStore) -> dict[str, tuple[str, int]]:
    return {job.job_id: (job.status, job.attempts) for job in await store.list_jobs(limit=None)}


def _reserved(statuses: dict[str, tuple[str, int]]) -> list[str]:
    """Jobs claimed ahead for a worker and not yet handed to it: processing, no attempt."""
    return sorted(job_id for job_id, status in statuses.items() if status == ("processing", 0))


# -- claiming ahead ------------------------------------------------------------------------


async def check_a_draining_worker_gets_its_jobs_in_queue_order(open_store: StoreOpener) -> None:
    async with open_store() as store:
        await _fill(store, 12)
        await store.add_job("urgent", "t", priority=0)
        taken = [await _claim(store) for _ in range(13)]
        assert taken == ["urgent", *(f"j{i:03}" for i in range(12))]
        assert await _claim(store) is None
        assert set(await _statuses(store)) == {"urgent", *(f"j{i:03}" for i in range(12))}
        assert {status for status, _ in (await _statuses(store)).values()} == {"processing"}


async def check_jobs_claimed_ahead_are_kept_for_their_worker(open_store: StoreOpener) -> None:
    async with open_store() as store:
        await _fill(store, 8)
        assert [await _claim(store, "a") for _ in range(2)] == ["j000", "j001"]
        reserved = _reserved(await _statuses(store))
        assert reserved, "a worker taking jobs one after the other got none claimed ahead"
        held = await store.get_job(reserved[0])
        assert held is not None and held.started_at is None
        other = await _claim(store, "b", prefetch=0)
        assert other is not None and other not in reserved
        handed = await store.claim_next(job_type=None, machine_type=None, worker="a", prefetch=4)
        assert handed is not None and handed.job_id == reserved[0]
        assert (handed.claimed_by, handed.attempts) == ("a", 1)
        assert handed.started_at is not None


async def check_prefetch_zero_claims_one_job_per_call(open_store: StoreOpener) -> None:
    async with open_store() as store:
        await _fill(store, 5)
        for expected in ("j000", "j001", "j002"):
            assert await _claim(store, prefetch=0) == expected
        statuses = sorted(status for status, _ in (await _statuses(store)).values())
        assert statuses == ["pending"] * 2 + ["processing"] * 3


async def check_a_stopping_machine_gives_its_jobs_claimed_ahead_back(
    open_store: StoreOpener,
) -> None:
    async with open_store() as store:
        store.machine_started(
            "w", current_state="s", config_type="c", pid=None, endpoint=None, timestamp=0.0
        )
        await _fill(store, 8)
        assert [await _claim(store) for _ in range(2)] == ["j000", "j001"]
        reserved = _reserved(await _statuses(store))
        assert reserved
        store.machine_stopped("w")
        await store.flush()
        statuses = await _statuses(store)
        assert [statuses[job_id] for job_id in reserved] == [("pending", 0)] * len(reserved)
        assert await _claim(store, "other", prefetch=0) == reserved[0]


async def check_a_completion_submitted_without_waiting_is_written(open_store: StoreOpener) -> None:
    async with open_store() as store:
        await _fill(store, 2)
        job = await store.claim_next(job_type=None, machine_type=None, worker="w")
        assert job is not None
        assert store.complete_soon(job.job_id, worker="w", result={"ok": True})
        await store.flush()
        done = await store.get_job(job.job_id)
        assert done is not None and (done.status, done.result) == ("completed", {"ok": True})


async def check_a_completion_of_a_job_not_held_is_refused(open_store: StoreOpener) -> None:
    async with open_store() as store:
        await _fill(store, 1)
        assert not store.complete_soon("j000", worker="w")  # pending: nobody holds it
        assert await _claim(store) == "j000"
        assert not store.complete_soon("j000", worker="someone else")
        await store.flush()
        assert (await _statuses(store))["j000"] == ("processing", 1)


# -- two stores on one database ------------------------------------------------------------


async def check_a_closing_store_gives_every_job_claimed_ahead_back(
    open_store: StoreOpener,
) -> None:
    async with open_store() as store:
        await _fill(store, 8)
        assert [await _claim(store) for _ in range(2)] == ["j000", "j001"]
        reserved = _reserved(await _statuses(store))
        assert reserved
    async with open_store() as store:
        statuses = await _statuses(store)
        assert [statuses[job_id] for job_id in reserved] == [("pending", 0)] * len(reserved)


async def check_a_job_added_through_one_store_is_claimed_through_another(
    open_store: StoreOpener,
) -> None:
    async with open_store() as first, open_store() as second:
        await first.add_job("a", "t", data={"n": 1})
        seen = await second.get_job("a")
        assert seen is not None and (seen.status, seen.data) == ("pending", {"n": 1})
        claimed = await second.claim_next(job_type="t", machine_type=None, worker="there")
        assert claimed is not None and claimed.job_id == "a"
        assert await first.claim("a", worker="here") is None
        await second.complete("a", result="done", worker="there")
        done = await first.get_job("a")
        assert done is not None and (done.status, done.result) == ("completed", "done")


async def check_two_stores_never_claim_the_same_job(open_store: StoreOpener) -> None:
    total = 300
    got: list[str] = []

    async def worker(store: CheckedStore, name: str) -> None:
        while job := await store.claim_next(
            job_type="t", machine_type=None, worker=name, prefetch=4
        ):
            got.append(job.job_id)
            store.complete_soon(job.job_id, worker=name)
            await trio.lowlevel.checkpoint()

    async with open_store() as first, open_store() as second:
        await first.add_jobs(NewJob(f"j{i:03}", "t") for i in range(total))
        async with trio.open_nursery() as nursery:
            for i in range(4):
                nursery.start_soon(worker, first, f"first-{i}")
                nursery.start_soon(worker, second, f"second-{i}")
    assert sorted(got) == [f"j{i:03}" for i in range(total)], "a job was handed out twice or never"
    async with open_store() as store:
        counts = await store.count_jobs()
        assert (counts["completed"], counts["total"]) == (total, total)


QUEUE_CHECKS: tuple[Check, ...] = (
    check_a_draining_worker_gets_its_jobs_in_queue_order,
    check_jobs_claimed_ahead_are_kept_for_their_worker,
    check_prefetch_zero_claims_one_job_per_call,
    check_a_stopping_machine_gives_its_jobs_claimed_ahead_back,
    check_a_completion_submitted_without_waiting_is_written,
    check_a_completion_of_a_job_not_held_is_refused,
)

SHARED_CHECKS: tuple[Check, ...] = (
    check_a_closing_store_gives_every_job_claimed_ahead_back,
    check_a_job_added_through_one_store_is_claimed_through_another,
    check_two_stores_never_claim_the_same_job,
)
