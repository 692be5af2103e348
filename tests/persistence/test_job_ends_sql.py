"""Starts and completions gathered into one write (``start_and_complete``) on SQLite: a job a
worker takes from its reserve and completes within one gathering is written once, with
the same row and the same outcomes as a start followed by a completion; every other case
keeps its own statement and its own outcome."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence import NewJob, connect, jobs_sql
from statemachine_engine.persistence._jobs_bulk_sql import JobEnd, start_and_complete

T0 = 1_000.0


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(tmp_path / "jobs.db")
    jobs_sql.add_jobs(conn, [NewJob(f"j{i}", "t") for i in range(3)], now=T0)
    # j0 started for w, j1 and j2 claimed ahead for it (held, not started)
    claimed = jobs_sql.claim_many(
        conn, job_type="t", machine_type=None, worker="w", now=T0 + 1, limit=3
    )
    assert [job["job_id"] for job in claimed] == ["j0", "j1", "j2"]
    conn.commit()
    yield conn
    conn.close()


def row(conn: sqlite3.Connection, job_id: str) -> dict[str, object]:
    job = jobs_sql.get_job(conn, job_id)
    assert job is not None
    return {k: job[k] for k in ("status", "attempts", "started_at", "completed_at", "result")}


def test_a_job_started_and_completed_in_one_gathering_is_written_as_both(
    conn: sqlite3.Connection,
) -> None:
    outcomes = start_and_complete(conn, [("j1", "w", T0 + 2), ("j1", "w", '{"n": 1}')], T0 + 3)
    assert outcomes == [True, {"job_id": "j1", "status": "completed"}]
    assert row(conn, "j1") == {
        "status": "completed",
        "attempts": 1,
        "started_at": T0 + 2,
        "completed_at": T0 + 3,
        "result": {"n": 1},
    }


def test_starts_and_completions_of_other_jobs_keep_their_own_outcomes(
    conn: sqlite3.Connection,
) -> None:
    items: list[JobEnd] = [
        ("j0", "w", None),  # started by the claim: completed alone
        ("j1", "w", T0 + 2),  # started alone: completed in a later gathering
        ("j2", "x", T0 + 2),  # not held by x: nothing written
        ("j2", "x", None),
        ("j0", "w", None),  # completed twice: the second is not held any more
    ]
    outcomes = start_and_complete(conn, items, T0 + 3)
    assert outcomes[:3] == [{"job_id": "j0", "status": "completed"}, True, False]
    assert isinstance(outcomes[3], StoreError) and "not held by 'x'" in str(outcomes[3])
    assert isinstance(outcomes[4], StoreError) and "status completed" in str(outcomes[4])
    assert row(conn, "j0")["status"] == "completed"
    assert row(conn, "j1") == {
        "status": "processing",
        "attempts": 1,
        "started_at": T0 + 2,
        "completed_at": None,
        "result": None,
    }
    assert row(conn, "j2")["attempts"] == 0 and row(conn, "j2")["started_at"] is None


def test_a_reserved_job_lost_before_its_start_is_neither_started_nor_completed(
    conn: sqlite3.Connection,
) -> None:
    jobs_sql.release_job(conn, "j1", worker="w", now=T0 + 2)  # back to the queue meanwhile
    outcomes = start_and_complete(conn, [("j1", "w", T0 + 2), ("j1", "w", None)], T0 + 3)
    assert outcomes[0] is False
    assert isinstance(outcomes[1], StoreError)
    assert row(conn, "j1")["status"] == "pending"
