"""The synchronous job queue: claim order, atomic claims, retries, leases."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from statemachine_engine.errors import DuplicateJob, JobNotFound, StoreError
from statemachine_engine.persistence import NewJob, connect, jobs_sql

T0 = 1_000.0


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    db = connect(":memory:")
    try:
        yield db
    finally:
        db.close()


def add(conn: sqlite3.Connection, job_id: str, *, now: float = T0, **kwargs: object) -> None:
    jobs_sql.add_job(conn, NewJob(job_id, kwargs.pop("job_type", "t"), **kwargs), now=now)  # type: ignore[arg-type]


def claim(conn: sqlite3.Connection, *, now: float = T0, **kwargs: object) -> str | None:
    kwargs.setdefault("job_type", None)
    kwargs.setdefault("machine_type", None)
    kwargs.setdefault("worker", "w")
    row = jobs_sql.claim_next(conn, now=now, **kwargs)  # type: ignore[arg-type]
    return row["job_id"] if row else None


def test_add_returns_the_row_with_defaults(conn: sqlite3.Connection) -> None:
    row = jobs_sql.add_job(conn, NewJob("a", "render", data={"x": 1}), now=T0)
    assert row["job_id"] == "a"
    assert row["machine_type"] == "render"  # defaults to the job type
    assert row["status"] == "pending"
    assert row["priority"] == 5
    assert (row["attempts"], row["max_attempts"]) == (0, 3)
    assert row["created_at"] == row["run_at"] == row["updated_at"] == T0
    assert row["data"] == {"x": 1}


def test_duplicate_job_id(conn: sqlite3.Connection) -> None:
    add(conn, "a")
    with pytest.raises(DuplicateJob, match="'a' already exists"):
        add(conn, "a")


def test_bulk_add_is_all_or_nothing(conn: sqlite3.Connection) -> None:
    assert jobs_sql.add_jobs(conn, [NewJob(f"j{i}", "t") for i in range(100)], now=T0) == 100
    with pytest.raises(DuplicateJob, match="'j5'"):
        jobs_sql.add_jobs(conn, [NewJob("new_1", "t"), NewJob("j5", "t")], now=T0)
    assert jobs_sql.get_job(conn, "new_1") is None
    with pytest.raises(DuplicateJob, match="'twice'"):
        jobs_sql.add_jobs(conn, [NewJob("twice", "t"), NewJob("twice", "t")], now=T0)
    assert jobs_sql.count_jobs(conn)["total"] == 100


def test_invalid_jobs_are_refused(conn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError, match="job_id"):
        add(conn, "")
    with pytest.raises(ValueError, match="max_attempts"):
        add(conn, "a", max_attempts=0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        # what a store column cannot hold (SQLite raised OverflowError; PostgreSQL's INTEGER
        # is 32 bits): refused with the field's name, for every store alike
        ("priority", 2**31, "priority must be from -2147483648 to 2147483647"),
        ("priority", -(2**31) - 1, "priority must be from"),
        ("max_attempts", 10**30, "max_attempts must be from 1 to 2147483647"),
        ("priority", True, "priority must be a whole number"),
        ("priority", "high", "priority must be a whole number, got 'high'"),
        ("priority", 2.5, "priority must be a whole number, got 2.5"),
        ("max_attempts", float("inf"), "max_attempts must be a whole number, got inf"),
        ("run_at", 10**30, "run_at must be epoch seconds from 0 (1970)"),
        ("run_at", float("nan"), "run_at must be epoch seconds"),
        ("run_at", float("inf"), "run_at must be epoch seconds"),
        ("run_at", -1.0, "run_at must be epoch seconds"),
        ("run_at", "soon", "run_at must be a number of epoch seconds, got 'soon'"),
    ],
)
def test_numbers_no_store_holds_are_refused_by_name(
    conn: sqlite3.Connection, field: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        jobs_sql.add_jobs(conn, [NewJob("a", "t", **{field: value})], now=T0)  # type: ignore[arg-type]
    assert jobs_sql.count_jobs(conn)["total"] == 0
    # the bounds themselves are kept
    jobs_sql.add_jobs(
        conn,
        [
            NewJob("low", "t", priority=-(2**31), run_at=0.0),
            NewJob("high", "t", priority=2**31 - 1, max_attempts=4.0),  # type: ignore[arg-type]
        ],
        now=T0,
    )
    assert jobs_sql.get_job(conn, "low")["priority"] == -(2**31)  # type: ignore[index]
    assert jobs_sql.get_job(conn, "high")["max_attempts"] == 4  # type: ignore[index]


def test_claim_order_is_priority_then_run_at_then_age(conn: sqlite3.Connection) -> None:
    add(conn, "old_low", now=T0, priority=5)
    add(conn, "new_high", now=T0 + 2, priority=1)
    add(conn, "late_run", now=T0 - 10, priority=5, run_at=T0 + 1)
    add(conn, "newer_low", now=T0 + 1, priority=5)
    order = [claim(conn, now=T0 + 5) for _ in range(4)]
    assert order == ["new_high", "old_low", "late_run", "newer_low"]
    assert claim(conn, now=T0 + 5) is None


def test_jobs_added_together_keep_their_order(conn: sqlite3.Connection) -> None:
    jobs_sql.add_jobs(conn, [NewJob(f"j{i:02}", "t") for i in range(20)], now=T0)
    assert [claim(conn) for _ in range(20)] == [f"j{i:02}" for i in range(20)]


def test_a_job_is_not_claimed_before_run_at(conn: sqlite3.Connection) -> None:
    add(conn, "later", run_at=T0 + 60)
    assert claim(conn, now=T0 + 59.9) is None
    assert jobs_sql.next_due(conn, job_type=None, machine_type=None) == T0 + 60
    assert claim(conn, now=T0 + 60) == "later"


def test_filters_by_job_type_and_machine_type(conn: sqlite3.Connection) -> None:
    add(conn, "a", job_type="render")
    add(conn, "b", job_type="render", machine_type="gpu")
    add(conn, "c", job_type="upload")
    assert claim(conn, job_type="upload") == "c"
    assert claim(conn, machine_type="gpu") == "b"
    assert claim(conn, machine_type="gpu") is None
    assert claim(conn, job_type="render", machine_type="render") == "a"


def test_claim_sets_worker_lease_and_attempt(conn: sqlite3.Connection) -> None:
    add(conn, "a")
    row = jobs_sql.claim_next(
        conn, job_type=None, machine_type=None, worker="w1", now=T0 + 1, lease_seconds=30
    )
    assert row is not None
    assert row["status"] == "processing"
    assert row["claimed_by"] == "w1"
    assert row["attempts"] == 1
    assert row["started_at"] == T0 + 1
    assert row["lease_until"] == T0 + 31


def test_claim_by_id(conn: sqlite3.Connection) -> None:
    add(conn, "a", run_at=T0 + 100)
    row = jobs_sql.claim_job(conn, "a", worker="w", now=T0)
    assert row is not None and row["status"] == "processing"
    assert jobs_sql.claim_job(conn, "a", worker="other", now=T0) is None
    assert jobs_sql.claim_job(conn, "missing", worker="w", now=T0) is None


def test_heartbeat_extends_only_the_holders_lease(conn: sqlite3.Connection) -> None:
    add(conn, "a")
    claim(conn, worker="w1")
    assert jobs_sql.heartbeat(conn, "a", worker="w1", now=T0 + 50, lease_seconds=60)
    assert jobs_sql.get_job(conn, "a")["lease_until"] == T0 + 110  # type: ignore[index]
    assert not jobs_sql.heartbeat(conn, "a", worker="w2", now=T0 + 50)


def test_complete(conn: sqlite3.Connection) -> None:
    add(conn, "a")
    claim(conn)
    row = jobs_sql.complete_job(conn, "a", now=T0 + 2, result={"frames": 3})
    assert row["status"] == "completed"
    assert row["completed_at"] == T0 + 2
    assert row["result"] == {"frames": 3}
    assert row["lease_until"] is None
    with pytest.raises(JobNotFound):
        jobs_sql.complete_job(conn, "missing", now=T0)


def test_complete_with_worker_needs_the_job_held(conn: sqlite3.Connection) -> None:
    add(conn, "a")
    claim(conn, worker="w1")
    with pytest.raises(StoreError, match="not held by 'w2'"):
        jobs_sql.complete_job(conn, "a", now=T0, worker="w2")
    assert jobs_sql.complete_job(conn, "a", now=T0, worker="w1")["status"] == "completed"


def test_failures_retry_with_exponential_backoff(conn: sqlite3.Connection) -> None:
    add(conn, "a", max_attempts=3)
    claim(conn, now=T0)
    row = jobs_sql.fail_job(conn, "a", error="boom 1", now=T0 + 1, backoff=2.0)
    assert (row["status"], row["run_at"], row["claimed_by"]) == ("pending", T0 + 3, None)
    assert row["error_message"] == "boom 1"
    assert claim(conn, now=T0 + 2.9) is None
    assert claim(conn, now=T0 + 3) == "a"
    row = jobs_sql.fail_job(conn, "a", error="boom 2", now=T0 + 4, backoff=2.0)
    assert (row["status"], row["run_at"]) == ("pending", T0 + 8)  # 2 * 2**1
    assert claim(conn, now=T0 + 8) == "a"
    row = jobs_sql.fail_job(conn, "a", error="boom 3", now=T0 + 9, backoff=2.0)
    assert (row["status"], row["attempts"], row["completed_at"]) == ("failed", 3, T0 + 9)
    assert row["error_message"] == "boom 3"
    assert claim(conn, now=T0 + 1000) is None


def test_failing_without_retry_is_final(conn: sqlite3.Connection) -> None:
    add(conn, "a")
    claim(conn)
    assert jobs_sql.fail_job(conn, "a", error="no", now=T0, retry=False)["status"] == "failed"
    add(conn, "b")  # never claimed: failing it is final too
    assert jobs_sql.fail_job(conn, "b", error="no", now=T0)["status"] == "failed"
    with pytest.raises(JobNotFound):
        jobs_sql.fail_job(conn, "missing", error="x", now=T0)


def test_lapsed_leases_count_as_failed_attempts(conn: sqlite3.Connection) -> None:
    add(conn, "a", max_attempts=2)
    add(conn, "b", max_attempts=1)
    claim(conn, worker="dead", now=T0, lease_seconds=10)
    claim(conn, worker="dead", now=T0, lease_seconds=10)
    assert jobs_sql.requeue_expired(conn, now=T0 + 10) == []  # not lapsed yet
    changed = {row["job_id"]: row for row in jobs_sql.requeue_expired(conn, now=T0 + 11)}
    assert changed["a"]["status"] == "pending"
    assert changed["b"]["status"] == "failed"  # its one attempt is used up
    a = jobs_sql.get_job(conn, "a")
    assert a is not None
    assert (a["attempts"], a["claimed_by"], a["run_at"]) == (1, None, T0 + 11 + 2.0)
    assert "lease expired while held by dead" in a["error_message"]
    assert claim(conn, worker="alive", now=T0 + 13) == "a"
    assert jobs_sql.get_job(conn, "a")["attempts"] == 2  # type: ignore[index]


def test_release_undoes_a_claim(conn: sqlite3.Connection) -> None:
    add(conn, "a")
    claim(conn, worker="w")
    assert jobs_sql.release_job(conn, "a", worker="w", now=T0 + 1)
    row = jobs_sql.get_job(conn, "a")
    assert row is not None
    assert (row["status"], row["attempts"], row["claimed_by"]) == ("pending", 0, None)


def claim_ahead(conn: sqlite3.Connection, limit: int) -> list[dict[str, object]]:
    return jobs_sql.claim_many(
        conn, job_type=None, machine_type=None, worker="w", now=T0, lease_seconds=10, limit=limit
    )


def test_jobs_claimed_ahead_are_held_but_not_started(conn: sqlite3.Connection) -> None:
    for job_id in "abcd":
        add(conn, job_id)
    rows = claim_ahead(conn, 3)
    assert [(r["job_id"], r["attempts"], r["started_at"]) for r in rows] == [
        ("a", 1, T0),
        ("b", 0, None),
        ("c", 0, None),
    ]
    assert {r["status"] for r in rows} == {"processing"}
    assert {r["claimed_by"] for r in rows} == {"w"}
    assert claim(conn) == "d"  # held jobs are not claimable by others
    assert jobs_sql.start_reserved(conn, "b", worker="w", now=T0 + 2, started_at=T0 + 1)
    assert not jobs_sql.start_reserved(conn, "b", worker="w", now=T0 + 2, started_at=T0 + 2)
    assert not jobs_sql.start_reserved(conn, "c", worker="other", now=T0 + 2, started_at=T0 + 2)
    b = jobs_sql.get_job(conn, "b")
    assert b is not None and (b["attempts"], b["started_at"]) == (1, T0 + 1)


def test_a_lapsed_reserve_goes_back_without_an_attempt_or_a_backoff(
    conn: sqlite3.Connection,
) -> None:
    for job_id in "abc":
        add(conn, job_id)
    claim_ahead(conn, 3)  # a started; b and c claimed ahead (the process then died)
    changed = jobs_sql.requeue_expired(conn, now=T0 + 11, backoff=5.0)
    assert sorted((r["job_id"], r["status"], r["error_message"]) for r in changed) == [
        ("a", "pending", "lease expired while held by w"),
        ("b", "pending", None),
        ("c", "pending", None),
    ]
    rows = {job_id: jobs_sql.get_job(conn, job_id) for job_id in "abc"}
    assert rows["a"]["attempts"] == 1 and rows["a"]["run_at"] > T0 + 11  # type: ignore[index]
    for job_id in "bc":
        row = rows[job_id]
        assert row is not None
        assert (row["attempts"], row["run_at"], row["error_message"]) == (0, T0, None)
    assert claim(conn, now=T0 + 11) == "b"


def test_reset_processing_leaves_a_live_reserve_alone(conn: sqlite3.Connection) -> None:
    for job_id in "abc":
        add(conn, job_id)
    claim_ahead(conn, 3)  # a started at T0; b, c held with a lease until T0 + 10
    reset = jobs_sql.reset_processing(conn, now=T0 + 5, older_than=1)
    assert [r["job_id"] for r in reset] == ["a"]  # started 5 s ago
    reset = jobs_sql.reset_processing(conn, now=T0 + 11, older_than=1)
    assert sorted(r["job_id"] for r in reset) == ["b", "c"]  # their lease lapsed


def test_releasing_a_job_claimed_ahead_keeps_its_attempts(conn: sqlite3.Connection) -> None:
    add(conn, "a", max_attempts=5)
    claim(conn)
    jobs_sql.fail_job(conn, "a", error="boom", now=T0, backoff=0.0)  # one attempt used
    add(conn, "b", priority=1)
    assert [r["job_id"] for r in claim_ahead(conn, 2)] == ["b", "a"]
    assert jobs_sql.release_job(conn, "a", worker="w", now=T0)
    row = jobs_sql.get_job(conn, "a")
    assert row is not None and (row["status"], row["attempts"]) == ("pending", 1)


def test_reset_processing(conn: sqlite3.Connection) -> None:
    for name in ("old", "new"):
        add(conn, name)
    claim(conn, now=T0)
    claim(conn, now=T0 + 500)
    reset = jobs_sql.reset_processing(conn, now=T0 + 700, older_than=600)
    assert [row["job_id"] for row in reset] == ["old"]
    assert jobs_sql.get_job(conn, "new")["status"] == "processing"  # type: ignore[index]
    assert [r["job_id"] for r in jobs_sql.reset_processing(conn, now=T0, older_than=None)] == [
        "new"
    ]


def test_listing_counting_and_deleting(conn: sqlite3.Connection) -> None:
    for i in range(5):
        add(conn, f"j{i}", now=T0 + i, job_type="a" if i % 2 else "b")
    claim(conn)
    assert [r["job_id"] for r in jobs_sql.list_jobs(conn, limit=3)] == ["j4", "j3", "j2"]
    assert [r["job_id"] for r in jobs_sql.list_jobs(conn, job_type="a")] == ["j3", "j1"]
    assert [r["job_id"] for r in jobs_sql.list_jobs(conn, status="processing")] == ["j0"]
    assert jobs_sql.count_jobs(conn) == {
        "pending": 4,
        "processing": 1,
        "completed": 0,
        "failed": 0,
        "total": 5,
    }
    assert [r["job_id"] for r in jobs_sql.pending_jobs(conn, limit=2)] == ["j1", "j2"]
    assert jobs_sql.delete_jobs(conn, status="pending", older_than=2, now=T0 + 4) == 1  # j1
    assert jobs_sql.delete_job(conn, "j4")["job_id"] == "j4"
    with pytest.raises(JobNotFound):
        jobs_sql.delete_job(conn, "j4")


def test_job_statuses_handles_many_ids(conn: sqlite3.Connection) -> None:
    jobs_sql.add_jobs(conn, [NewJob(f"j{i}", "t") for i in range(1200)], now=T0)
    statuses = jobs_sql.job_statuses(conn, [f"j{i}" for i in range(1300)])
    assert len(statuses) == 1200
    assert set(statuses.values()) == {"pending"}


def test_concurrent_claims_from_threads_never_share_a_job(tmp_dir: Path) -> None:
    path = tmp_dir / "queue.db"
    setup = connect(path)
    jobs_sql.add_jobs(setup, [NewJob(f"j{i}", "t") for i in range(400)], now=T0)
    setup.close()
    claimed: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        conn = connect(path, check_same_thread=False)
        mine: list[str] = []
        try:
            while (job_id := claim(conn, worker=name, now=T0 + 1)) is not None:
                mine.append(job_id)
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            conn.close()
            claimed[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    every = [job for jobs in claimed.values() for job in jobs]
    assert sorted(every) == sorted(f"j{i}" for i in range(400))
