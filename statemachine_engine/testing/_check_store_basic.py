"""check_store's basic checks: the job queue's operations, history and registry records,
and closing (the queue's claim-ahead and two-store checks are in ``_check_store_queue``)."""

from __future__ import annotations

import trio
import trio.lowlevel
import trio.testing

from statemachine_engine.errors import DuplicateJob, JobNotFound, StoreError
from statemachine_engine.persistence import JobQueue, NewJob, Recorder, Store
from statemachine_engine.testing._checked_store import T0, WAIT, Check, StoreOpener
from statemachine_engine.testing._raises import raises

# -- jobs ----------------------------------------------------------------------------------


async def check_it_is_a_store(open_store: StoreOpener) -> None:
    async with open_store() as store:
        assert isinstance(store, Store)
        assert isinstance(store, JobQueue)
        assert isinstance(store, Recorder)


async def check_add_and_get(open_store: StoreOpener) -> None:
    async with open_store() as store:
        job = await store.add_job("a", "render", data={"file": "x.png"}, priority=2)
        assert (job.job_id, job.job_type, job.machine_type) == ("a", "render", "render")
        assert job.status == "pending" and job.priority == 2
        assert job.data == {"file": "x.png"}
        assert await store.get_job("a") == job
        assert await store.get_job("missing") is None


async def check_a_duplicate_job_id_is_refused(open_store: StoreOpener) -> None:
    async with open_store() as store:
        await store.add_job("a", "t")
        with raises(DuplicateJob):
            await store.add_job("a", "t")
        assert (await store.count_jobs())["total"] == 1


async def check_a_bulk_add_is_all_or_nothing(open_store: StoreOpener) -> None:
    async with open_store() as store:
        assert await store.add_jobs(NewJob(f"j{i}", "t") for i in range(50)) == 50
        with raises(DuplicateJob):
            await store.add_jobs([NewJob("fresh", "t"), NewJob("j3", "t")])
        assert await store.get_job("fresh") is None


async def check_claims_follow_priority_then_age(open_store: StoreOpener) -> None:
    async with open_store() as store:
        await store.add_job("low", "t", priority=9)
        await store.add_job("high", "t", priority=1)
        await store.add_job("mid", "t")
        claimed = [
            await store.claim_next(job_type="t", machine_type=None, worker="w", lease_seconds=30)
            for _ in range(4)
        ]
        assert [job.job_id if job else None for job in claimed] == ["high", "mid", "low", None]
        first = claimed[0]
        assert first is not None and first.started_at is not None
        assert (first.status, first.claimed_by, first.attempts) == ("processing", "w", 1)
        assert first.lease_until is not None
        assert abs(first.lease_until - (first.started_at + 30)) < 1e-3


async def check_a_claim_by_id(open_store: StoreOpener) -> None:
    async with open_store() as store:
        await store.add_job("a", "t")
        job = await store.claim("a", worker="w", lease_seconds=5)
        assert job is not None and job.claimed_by == "w"
        assert await store.claim("a", worker="x") is None
        assert await store.claim("missing", worker="x") is None


async def check_complete_fail_and_heartbeat(open_store: StoreOpener) -> None:
    async with open_store() as store:
        await store.add_jobs([NewJob("a", "t"), NewJob("b", "t", max_attempts=1)])
        await store.claim("a", worker="w")
        assert await store.heartbeat("a", worker="w", lease_seconds=100)
        assert not await store.heartbeat("a", worker="someone else")
        done = await store.complete("a", result=[1, 2])
        assert (done.status, done.result) == ("completed", [1, 2])
        await store.claim("b", worker="w")
        failed = await store.fail("b", error="broken")
        assert (failed.status, failed.error_message) == ("failed", "broken")
        with raises(JobNotFound):
            await store.complete("missing")
        with raises(JobNotFound):
            await store.fail("missing", error="x")


async def check_a_failed_attempt_goes_back_with_a_backoff(open_store: StoreOpener) -> None:
    async with open_store() as store:
        await store.add_job("a", "t", max_attempts=3)
        claimed = await store.claim("a", worker="w")
        assert claimed is not None and claimed.started_at is not None
        job = await store.fail("a", error="flaky")
        assert (job.status, job.attempts) == ("pending", 1)
        assert job.run_at is not None and job.run_at > claimed.started_at
        # not due yet: the next claim skips it
        assert await store.claim_next(job_type="t", machine_type=None, worker="w") is None


async def check_the_listing_reads(open_store: StoreOpener) -> None:
    async with open_store() as store:
        await store.add_jobs(
            [NewJob("a", "t", priority=3), NewJob("b", "t", priority=1), NewJob("c", "u")]
        )
        await store.claim("c", worker="w")
        pending = await store.pending_jobs(job_type="t", machine_type=None)
        assert [job.job_id for job in pending] == ["b", "a"]
        first = await store.pending_jobs(job_type=None, machine_type=None, limit=1)
        assert [job.job_id for job in first] == ["b"]
        assert await store.job_statuses(["a", "c", "zzz"]) == {"a": "pending", "c": "processing"}
        counts = await store.count_jobs()
        assert (counts["pending"], counts["processing"], counts["total"]) == (2, 1, 3)
        assert [j.job_id for j in await store.list_jobs(status="processing")] == ["c"]


async def check_a_waiting_worker_is_woken_by_an_add(open_store: StoreOpener) -> None:
    async with open_store() as store:
        woke: list[bool] = []

        async def waiter() -> None:
            woke.append(await store.wait_for_job(job_type=None, machine_type="t", within=WAIT))

        with trio.fail_after(WAIT / 2):  # far sooner than the waiter's own limit
            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiter)
                await trio.testing.wait_all_tasks_blocked()
                await store.add_job("a", "t")
        assert woke == [True]


async def check_waiting_without_jobs_times_out(open_store: StoreOpener) -> None:
    async with open_store() as store:
        assert not await store.wait_for_job(job_type=None, machine_type=None, within=0.05)
        assert not await store.wait_for_job(job_type=None, machine_type=None, within=0)


async def check_waiting_for_tracked_jobs(open_store: StoreOpener) -> None:
    async with open_store() as store:
        await store.add_jobs([NewJob("a", "t"), NewJob("b", "t")])
        result: dict[str, str] = {}

        async def watcher() -> None:
            result.update(await store.wait_until_finished(["a", "b"], within=WAIT))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watcher)
            await store.claim("a", worker="w")
            await store.complete("a")
            await store.fail("b", error="x", retry=False)
        assert result == {"a": "completed", "b": "failed"}


async def check_concurrent_claims_never_share_a_job(open_store: StoreOpener) -> None:
    async with open_store() as store:
        await store.add_jobs(NewJob(f"j{i}", "t") for i in range(200))
        got: list[str] = []

        async def worker(name: str) -> None:
            while job := await store.claim_next(job_type="t", machine_type=None, worker=name):
                got.append(job.job_id)
                await trio.lowlevel.checkpoint()

        async with trio.open_nursery() as nursery:
            for i in range(8):
                nursery.start_soon(worker, f"w{i}")
        assert sorted(got) == sorted(f"j{i}" for i in range(200))


# -- history and registry ------------------------------------------------------------------


async def check_the_registry_and_history(open_store: StoreOpener) -> None:
    async with open_store() as store:
        store.machine_started(
            "worker_1",
            current_state="idle",
            config_type="worker",
            pid=None,
            endpoint="/tmp/x.sock",
            timestamp=T0,
        )
        context = {"job_id": "a", "count": 0}
        for step in range(1, 6):
            context["count"] = step
            store.transition(
                "worker_1",
                from_state="idle",
                to_state=f"s{step}",
                event="go",
                timestamp=T0 + step,
                context=context,
            )
        await store.flush()
        [row] = await store.machines()
        assert row["machine_name"] == "worker_1"
        assert (row["current_state"], row["last_activity"]) == ("s5", T0 + 5)
        assert (row["config_type"], row["endpoint"]) == ("worker", "/tmp/x.sock")
        assert row["context"] == {"job_id": "a", "count": 5}
        history = await store.transitions(machine="worker_1")
        assert [h["to_state"] for h in history] == ["s5", "s4", "s3", "s2", "s1"]
        assert history[0]["timestamp"] == T0 + 5
        assert await store.machine("worker_1") == row

        store.machine_stopped("worker_1")
        await store.flush()
        assert await store.machines() == []
        assert await store.machine("worker_1") is None


async def check_errors_and_events_are_recorded(open_store: StoreOpener) -> None:
    async with open_store() as store:
        store.error(
            "m",
            state="working",
            action="bash",
            message="exit 3",
            traceback="Traceback ...",
            timestamp=T0 + 1,
            job_id="a",
        )
        for event_type, payload, status in (
            ("go", {"x": 1}, "delivered"),
            ("later", None, "pending"),
        ):
            store.event_sent(
                source_machine="m",
                target_machine="n",
                event_type=event_type,
                payload=payload,
                job_id="a" if payload else None,
                status=status,
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


# -- closing and reopening -----------------------------------------------------------------


async def check_a_closed_store_refuses_work(open_store: StoreOpener) -> None:
    async with open_store() as store:
        pass
    with raises(StoreError, match="closed"):
        await store.add_job("a", "t")
    # a record after the close is dropped, never raised into the machine that made it
    store.transition("m", from_state="a", to_state="b", event="e", timestamp=T0)


async def check_queued_records_are_written_on_close(open_store: StoreOpener) -> None:
    async with open_store() as store:
        for step in range(100):
            store.transition("m", from_state="a", to_state="b", event=f"e{step}", timestamp=T0)
    async with open_store() as store:
        assert len(await store.transitions(limit=None)) == 100


async def check_a_cancelled_owner_still_gets_its_records_written(open_store: StoreOpener) -> None:
    with trio.CancelScope() as scope:
        async with open_store() as store:
            store.machine_started(
                "m", current_state="a", config_type="c", pid=1, endpoint=None, timestamp=T0
            )
            store.machine_stopped("m")
            store.error("m", state="a", action=None, message="bye", traceback=None, timestamp=T0)
            scope.cancel()
            await trio.sleep_forever()
    async with open_store() as store:
        assert await store.machines() == []
        assert [e["message"] for e in await store.errors()] == ["bye"]


async def check_a_store_cancelled_while_it_opens_ends(open_store: StoreOpener) -> None:
    """Cancelled at any point of its opening (Ctrl-C while a runtime starts), a store
    ends promptly instead of waiting for ever for a writer nobody closes."""
    for ticks in range(12):
        with trio.move_on_after(WAIT) as timeout:
            with trio.CancelScope() as opening:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_cancel_after, opening, ticks)
                    async with open_store():
                        await trio.sleep_forever()
        assert not timeout.cancelled_caught, f"cancelled after {ticks} scheduling points"
    async with open_store() as store:  # and the database is still usable
        await store.add_job("after", "t")
        assert (await store.get_job("after")) is not None


async def _cancel_after(scope: trio.CancelScope, ticks: int) -> None:
    for _ in range(ticks):
        await trio.lowlevel.cancel_shielded_checkpoint()
    scope.cancel()


BASIC_CHECKS: tuple[Check, ...] = (
    check_it_is_a_store,
    check_add_and_get,
    check_a_duplicate_job_id_is_refused,
    check_a_bulk_add_is_all_or_nothing,
    check_claims_follow_priority_then_age,
    check_a_claim_by_id,
    check_complete_fail_and_heartbeat,
    check_a_failed_attempt_goes_back_with_a_backoff,
    check_the_listing_reads,
    check_a_waiting_worker_is_woken_by_an_add,
    check_waiting_without_jobs_times_out,
    check_waiting_for_tracked_jobs,
    check_concurrent_claims_never_share_a_job,
    check_the_registry_and_history,
    check_errors_and_events_are_recorded,
    check_a_closed_store_refuses_work,
    check_a_store_cancelled_while_it_opens_ends,
)

REOPEN_CHECKS: tuple[Check, ...] = (
    check_queued_records_are_written_on_close,
    check_a_cancelled_owner_still_gets_its_records_written,
)
