"""Where a file store's writes run: inline on the trio thread while SQLite's lock is free,
in the write connection's thread (waiting for the lock) while another process holds it,
and checkpoints in that thread. Real files, real clock, bounded waits."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trio

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence import NewJob, SqliteStore, _connections, open_store
from statemachine_engine.persistence._connections import FileConnections
from statemachine_engine.persistence._records_sql import insert_transitions
from statemachine_engine.persistence._schema import connect


def file_connections(store: SqliteStore) -> FileConnections:
    connections = store._connections
    assert isinstance(connections, FileConnections)
    return connections


@pytest.fixture
def other_writer(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A second connection to the database, as another process would hold it."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    try:
        yield conn
    finally:
        conn.close()


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await trio.sleep(0.005)


async def test_a_write_waits_for_another_writers_lock_without_blocking_the_loop(
    db_path: Path, other_writer: sqlite3.Connection
) -> None:
    async with open_store(db_path) as store:
        connections = file_connections(store)
        other_writer.execute("BEGIN IMMEDIATE")  # the other process is writing
        ticks = 0
        added = trio.Event()

        async def add() -> None:
            await store.add_job("a", "t")
            added.set()

        async def tick() -> None:
            nonlocal ticks
            while True:
                await trio.sleep(0.001)
                ticks += 1

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(tick)
                nursery.start_soon(add)
                await until(lambda: connections.lock_waits == 1)
                before = ticks
                await until(lambda: ticks >= before + 5)  # the loop runs while it waits
                assert not added.is_set()
                other_writer.execute("ROLLBACK")
                await added.wait()
                nursery.cancel_scope.cancel()
        job = await store.get_job("a")
        assert job is not None and job.status == "pending"
        # the lock is free again: the next write runs inline
        await store.add_job("b", "t")
        assert connections.lock_waits == 1


async def test_a_lock_held_past_the_busy_timeout_fails_the_write_and_writes_nothing(
    db_path: Path, other_writer: sqlite3.Connection
) -> None:
    async with open_store(db_path, busy_timeout=0.2) as store:
        other_writer.execute("BEGIN IMMEDIATE")
        with trio.fail_after(10), pytest.raises(StoreError, match="locked by another writer"):
            await store.add_job("a", "t")
        other_writer.execute("ROLLBACK")
        assert await store.get_job("a") is None
        await store.add_job("a", "t")  # and the store goes on
        assert await store.get_job("a") is not None


@pytest.mark.parametrize("inline", [True, False])
async def test_checkpoints_run_in_the_thread_and_keep_the_log_small(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, inline: bool
) -> None:
    monkeypatch.setattr(_connections, "CHECKPOINT_BYTES", 64 * 1024)
    monkeypatch.setattr(_connections, "CHECKPOINT_CHECK_EVERY", 1)
    wal = Path(f"{db_path}-wal")
    async with open_store(db_path, inline_writes=inline) as store:
        connections = file_connections(store)
        setting = connections._conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        assert setting == {"wal_autocheckpoint": 0}
        with trio.fail_after(20):
            for i in range(60):
                await store.add_job(f"job-{i}", "t", data={"text": "x" * 2000})
            assert connections.checkpoints >= 1
            await store.add_job("after-checkpoint", "t")
            # the transaction after a checkpoint starts the log over and cuts the file back
            # (else its size would call for a checkpoint at every look)
            assert wal.stat().st_size < 64 * 1024
            largest = wal.stat().st_size
            for i in range(60, 400):
                await store.add_job(f"job-{i}", "t", data={"text": "x" * 2000})
            # with the log copied back, each write after a checkpoint starts it over
            assert wal.stat().st_size < 2 * largest + 64 * 1024
            assert connections.checkpoints >= 5
        assert (await store.count_jobs())["pending"] == 401


async def test_a_heavy_batch_is_written_in_the_thread(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_store(db_path) as store:
        connections = file_connections(store)
        threaded: list[bool] = []
        real = connections._writer.run

        async def run(fn: Callable[[sqlite3.Connection], object]) -> object:
            threaded.append(True)
            return await real(fn)

        monkeypatch.setattr(connections._writer, "run", run)
        await store.add_jobs(NewJob(f"j{i}", "t") for i in range(10))
        assert threaded == []  # small: inline
        await store.add_jobs(NewJob(f"k{i}", "t") for i in range(1000))
        assert threaded == [True]  # a bulk add does not hold the trio thread
        assert (await store.count_jobs())["pending"] == 1010


async def test_a_claim_cancelled_while_it_is_written_gives_back_every_job(
    db_path: Path, other_writer: sqlite3.Connection
) -> None:
    async with open_store(db_path, sweep_interval=100.0) as store:
        await store.add_jobs(NewJob(f"j{i}", "t") for i in range(6))
        await store.claim_next(job_type=None, machine_type=None, worker="w", prefetch=4)
        other_writer.execute("BEGIN IMMEDIATE")  # the next claim waits in the thread

        async def claimer() -> None:
            await store.claim_next(job_type=None, machine_type=None, worker="w", prefetch=4)

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(claimer)
                await until(lambda: file_connections(store).lock_waits == 1)
                nursery.cancel_scope.cancel()  # the claimer gives up while it is written
                other_writer.execute("ROLLBACK")
            await store.flush()
            await store.flush()  # the give-back rides on the batch after the claim
        counts = await store.count_jobs()
        assert (counts["pending"], counts["processing"]) == (5, 1)
        assert (await store.get_job("j1")).attempts == 0  # type: ignore[union-attr]


async def test_every_write_goes_to_the_thread_without_inline_writes(db_path: Path) -> None:
    async with open_store(db_path, inline_writes=False) as store:
        await store.add_job("a", "t")
        job = await store.claim_next(job_type=None, machine_type=None, worker="w")
        assert job is not None and job.job_id == "a"
        assert file_connections(store)._inline is False


async def test_opening_waits_for_another_writer_while_it_creates_the_schema(
    db_path: Path,
) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process is creating the database
        release = threading.Timer(0.3, lambda: other.execute("ROLLBACK"))
        release.start()
        try:
            with trio.fail_after(10):
                async with open_store(db_path) as store:  # waits, then creates the schema
                    await store.add_job("a", "t")
                    assert await store.get_job("a") is not None
        finally:
            release.join()
    finally:
        other.close()


@pytest.mark.parametrize("count", [0, 1, 22, 64, 65, 200])
def test_transitions_are_inserted_in_their_order_whatever_their_number(count: int) -> None:
    conn = connect(":memory:")
    try:
        rows = [
            (f"m{i % 3}", f"s{i}", f"s{i + 1}", "go" if i % 2 else None, float(i))
            for i in range(count)
        ]
        insert_transitions(conn, rows)
        written = conn.execute(
            "SELECT machine_name, from_state, to_state, event, timestamp"
            " FROM state_transitions ORDER BY id"
        ).fetchall()
        assert [tuple(row.values()) for row in written] == rows
    finally:
        conn.close()
