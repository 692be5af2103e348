"""The job queue shared by several hosts on PostgreSQL: two stores on one database stand for
two hosts (each has its own connections, writer thread and listener, as two processes would).

Real clock and a real server; every wait is bounded with trio.fail_after.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import trio
import trio.testing

from statemachine_engine.persistence import NewJob, SqliteStore, open_store

JOBS = 1_000


async def _drain(store: SqliteStore, worker: str, taken: list[str]) -> None:
    """Claim (with claim-ahead) and complete jobs until the queue has none left."""
    while True:
        job = await store.claim_next(job_type=None, machine_type="t", worker=worker, prefetch=16)
        if job is None:
            return
        taken.append(job.job_id)
        if not store.complete_soon(job.job_id, worker=worker, result={"by": worker}):
            await store.complete(job.job_id, worker=worker, result={"by": worker})


async def test_two_hosts_draining_one_queue_never_get_the_same_job(pg_url: str) -> None:
    taken: dict[str, list[str]] = {"host-a": [], "host-b": []}
    async with open_store(pg_url, host="host-a") as a, open_store(pg_url, host="host-b") as b:
        await a.add_jobs(NewJob(f"j{i:04}", "t") for i in range(JOBS))
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for n in range(2):
                    nursery.start_soon(_drain, a, f"a{n}", taken["host-a"])
                    nursery.start_soon(_drain, b, f"b{n}", taken["host-b"])
        await a.flush()
        await b.flush()
        counts = await a.count_jobs()
        jobs = await a.list_jobs(limit=None)
    every = taken["host-a"] + taken["host-b"]
    assert [job for job, n in Counter(every).items() if n > 1] == []
    assert sorted(every) == [f"j{i:04}" for i in range(JOBS)]
    assert taken["host-a"] and taken["host-b"], "one host drained the whole queue alone"
    assert counts["completed"] == JOBS
    assert {job.attempts for job in jobs} == {1}


async def test_a_crashed_hosts_lease_is_rescued_by_another(pg_url: str) -> None:
    # the rescuer's clock runs two minutes ahead: from where it stands the lease lapsed,
    # without this test waiting for it
    ahead = lambda: time.time() + 120  # noqa: E731
    async with open_store(pg_url, host="rescuer", clock=ahead, retry_backoff=0) as rescuer:
        async with open_store(pg_url, host="crashing", lease_seconds=30) as crashing:
            await crashing.add_job("x", "t")
            held = await crashing.claim_next(job_type=None, machine_type="t", worker="w1")
            assert held is not None and held.claimed_by == "w1"
            crashing.crash()  # kill -9: nothing more is written, no claim is given back
        assert (await rescuer.get_job("x")).status == "processing"  # type: ignore[union-attr]
        rescued = await rescuer.requeue_expired()
        assert [(row["job_id"], row["status"]) for row in rescued] == [("x", "pending")]
        again = await rescuer.claim_next(job_type=None, machine_type="t", worker="w2")
        assert again is not None and (again.job_id, again.claimed_by) == ("x", "w2")
        assert again.attempts == 2
        assert "lease expired while held by w1" in (again.error_message or "")


async def test_a_job_added_on_one_host_wakes_a_worker_waiting_on_another(pg_url: str) -> None:
    # the waiting host polls once a minute: only the notification can wake it in time
    async with (
        open_store(pg_url, host="waiting", poll_interval=60) as waiting,
        open_store(pg_url, host="adding") as adding,
    ):
        woke_at: list[float] = []

        async def wait() -> None:
            assert await waiting.wait_for_job(job_type=None, machine_type="render", within=30)
            woke_at.append(trio.current_time())

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait)
                await trio.testing.wait_all_tasks_blocked()
                await adding.add_job("r1", "render")
                committed_at = trio.current_time()
        assert woke_at and woke_at[0] - committed_at < 0.1
        job = await waiting.claim_next(job_type=None, machine_type="render", worker="w")
        assert job is not None and job.job_id == "r1"
        assert waiting.connection["notifications"] >= 1  # type: ignore[attr-defined]


async def test_registry_rows_name_their_host(pg_url: str) -> None:
    async with open_store(pg_url, host="host-a") as a, open_store(pg_url, host="host-b") as b:
        a.machine_started(
            "m1", current_state="s", config_type="c", pid=1, endpoint=None, timestamp=1.0
        )
        b.machine_started(
            "m2", current_state="s", config_type="c", pid=2, endpoint=None, timestamp=1.0
        )
        await a.flush()
        await b.flush()
        rows = await a.machines()
    assert {(row["machine_name"], row["host"]) for row in rows} == {
        ("m1", "host-a"),
        ("m2", "host-b"),
    }


def _listener_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("statemachine-notices")]


async def test_a_store_closed_by_a_cancellation_stops_its_listener(pg_url: str) -> None:
    """A store left because its scope was cancelled (a timeout, a signal) still ends the
    thread that listens for job notifications: left behind, it kept listening and logged
    reconnection warnings into whatever ran next once its database was gone."""
    before = _listener_threads()
    with trio.move_on_after(10) as scope:
        async with open_store(pg_url):
            assert len(_listener_threads()) == len(before) + 1
            scope.cancel()
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert _listener_threads() == before


async def test_a_store_cancelled_while_it_opens_leaves_no_listener(pg_url: str) -> None:
    before = _listener_threads()
    for delay in (0, 0.001, 0.01, 0.05):  # cancelled at different points of the opening
        with trio.move_on_after(delay):
            async with open_store(pg_url):
                await trio.sleep_forever()
        assert _listener_threads() == before
