"""Where a file store's writes run: inline on the trio thread while SQLite's lock is free,
in the write connection's thread (waiting for the lock) while another process holds it,
and checkpoints in that thread. Real files, real clock, bounded waits."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence import NewJob, SqliteStore, _connections, _writer, open_store
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
        assert insert_transitions(conn, rows) == []
        written = conn.execute(
            "SELECT machine_name, from_state, to_state, event, timestamp"
            " FROM state_transitions ORDER BY id"
        ).fetchall()
        assert [tuple(row.values()) for row in written] == rows
    finally:
        conn.close()


def test_a_row_no_column_can_carry_is_refused_alone() -> None:
    conn = connect(":memory:")
    try:
        # 22 rows go as 16, 4, 2: the bad ones sit in the second and the third statement
        rows = [(f"m{i}", "a", "b", "go", float(i)) for i in range(22)]
        rows[17] = ("bad\ud800", "a", "b", "go", 17.0)
        rows[21] = ("m21", "a", "b\udfff", "go", 21.0)
        refused = insert_transitions(conn, rows)
        assert [row for row, _ in refused] == [rows[17], rows[21]]
        assert all(isinstance(exc, UnicodeEncodeError) for _, exc in refused)
        written = conn.execute("SELECT machine_name FROM state_transitions ORDER BY id")
        assert [row["machine_name"] for row in written] == [
            f"m{i}" for i in range(22) if i not in (17, 21)
        ]
    finally:
        conn.close()


def _history_on_file(db_path: Path) -> tuple[list[tuple[str, str]], int]:
    """The transitions committed to the file, in order, and its registry's row count."""
    conn = sqlite3.connect(db_path)
    try:
        transitions = conn.execute(
            "SELECT from_state, to_state FROM state_transitions ORDER BY id"
        ).fetchall()
        (machines,) = conn.execute("SELECT count(*) FROM machine_state").fetchone()
        return transitions, machines
    finally:
        conn.close()


async def _record_flips(store: SqliteStore, count: int) -> list[tuple[str, str]]:
    """Start machine ``m`` (committed), then queue ``count`` of its transitions, which
    nobody waits for: a batch of history only. Returns their (from, to) pairs in order."""
    store.machine_started(
        "m", current_state="s0", config_type="c", pid=1, endpoint=None, timestamp=1.0
    )
    await store.flush()
    pairs = [(f"s{i}", f"s{i + 1}") for i in range(count)]
    for i, (before, after) in enumerate(pairs):
        store.transition("m", from_state=before, to_state=after, event="go", timestamp=2.0 + i)
    return pairs


def _uncommitted_transitions(connections: FileConnections) -> int:
    """What the writer's open transaction has written so far (its own connection sees it)."""
    return int(
        connections._conn.execute("SELECT count(*) AS n FROM state_transitions").fetchone()["n"]
    )


@pytest.fixture
def first_part(monkeypatch: pytest.MonkeyPatch) -> trio.Event:
    """Set once the writer has written a part of a batch of transitions (inside its
    transaction); each later part waits up to 30 s for the loop's spare time."""
    monkeypatch.setattr(_writer, "IDLE_WAIT_SECONDS", 30.0)
    written = trio.Event()
    real = _writer.write_batch

    def write(conn: sqlite3.Connection, **part: Any) -> int:
        result = real(conn, **part)
        written.set()
        return result

    real_parts = _writer._parts

    def parts(*args: Any) -> list[Callable[[sqlite3.Connection], int]]:
        return [functools.partial(write, **part.keywords) for part in real_parts(*args)]

    monkeypatch.setattr(_writer, "_parts", parts)
    return written


async def test_history_nobody_waits_for_is_written_in_the_loops_spare_time(
    db_path: Path, first_part: trio.Event
) -> None:
    # an event arriving while the last 10 ms of history are written goes all the way
    # through the runtime's tasks before the next part of that history is written
    async with open_store(db_path) as store:
        connections = file_connections(store)
        with trio.fail_after(10):
            pairs = await _record_flips(store, 40)
            await first_part.wait()
            assert connections._conn.in_transaction
            assert _uncommitted_transitions(connections) == 8  # one part
            for _ in range(200):  # an event's path through several tasks, say
                await trio.lowlevel.checkpoint()
                assert _uncommitted_transitions(connections) == 8
            await until(lambda: store._writer.unwritten == 0)  # idle now: it goes on
        assert connections.lock_waits == 0  # written inline, not in the thread
    assert _history_on_file(db_path) == (pairs, 1)  # all of it, in order


async def test_history_written_in_spare_time_hurries_for_a_write_somebody_waits_on(
    db_path: Path, first_part: trio.Event
) -> None:
    async with open_store(db_path) as store:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:

                async def busy() -> None:  # from now on the loop is never idle
                    while True:
                        await trio.lowlevel.checkpoint()

                pairs = await _record_flips(store, 40)
                await first_part.wait()
                nursery.start_soon(busy)
                await store.add_job("waited-for", "t")  # not 30 s for each part left
                nursery.cancel_scope.cancel()
        assert (await store.get_job("waited-for")) is not None
    assert _history_on_file(db_path) == (pairs, 1)


async def test_a_crash_while_history_waits_between_its_parts_writes_none_of_it(
    db_path: Path, first_part: trio.Event
) -> None:
    async with open_store(db_path) as store:
        connections = file_connections(store)
        with trio.fail_after(10):
            await _record_flips(store, 40)
            await first_part.wait()
            store.crash()  # as kill -9 would, with part of the batch written
            while connections._conn.in_transaction:
                await trio.lowlevel.checkpoint()
        assert (store._writer.dropped, store._writer.unwritten) == (40, 0)  # all of them
    assert _history_on_file(db_path) == ([], 1)  # what was committed before stays
