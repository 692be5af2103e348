"""Putting jobs in the queue and taking them out: enqueue, claim (one, many, by id), start a
job claimed ahead, renew a lease, give a claim back. Plain functions over a ``sqlite3``
connection; see ``_jobs_sql`` for the queue's semantics."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from statemachine_engine.persistence._codec import dumps, errors
from statemachine_engine.persistence._dialect import id_in, notify_jobs_added, skip_locked
from statemachine_engine.persistence._job_rows import (
    DEFAULT_LEASE_SECONDS,
    MAX_WHOLE,
    MIN_WHOLE,
    QUEUE_ORDER,
    RUN_AT_RANGE,
    NewJob,
    decode_job,
    filters,
)
from statemachine_engine.persistence._jobs_read_sql import job_statuses

_INSERT = (
    "INSERT INTO jobs (job_id, job_type, machine_type, source_job_id, data, priority, status,"
    " created_at, updated_at, run_at, max_attempts, attempts, metadata)"
    " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, 0, ?)"
)


def _whole(name: str, value: Any, lowest: int) -> int:
    whole_float = isinstance(value, float) and value.is_integer()  # 3.0, as int() took it
    if isinstance(value, bool) or not (isinstance(value, int | str) or whole_float):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if not lowest <= number <= MAX_WHOLE:
        raise ValueError(f"{name} must be from {lowest} to {MAX_WHOLE}, got {number}")
    return number


def _run_at(value: Any, now: float) -> float:
    if value is None:
        return now
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"run_at must be a number of epoch seconds, got {value!r}")
    low, high = RUN_AT_RANGE
    # (a comparison, not float(): an integer too large for a float compares fine; NaN fails)
    if not low <= value <= high:
        raise ValueError(
            f"run_at must be epoch seconds from {low:.0f} (1970) to {high:.0f} (9999), "
            f"got {value!r}"
        )
    return float(value)


def _insert_params(job: NewJob, now: float) -> tuple[Any, ...]:
    if not job.job_id:
        raise ValueError("job_id must not be empty")
    if not job.job_type:
        raise ValueError("job_type must not be empty")
    return (
        str(job.job_id),
        str(job.job_type),
        # machine_type defaults to the job type, as the published package's add-job does
        job.machine_type if job.machine_type is not None else job.job_type,
        job.source_job_id,
        dumps(dict(job.data) if job.data is not None else None),
        _whole("priority", job.priority, MIN_WHOLE),
        now,
        now,
        _run_at(job.run_at, now),
        _whole("max_attempts", job.max_attempts, 1),
        dumps(dict(job.metadata) if job.metadata is not None else None),
    )


def add_job(conn: sqlite3.Connection, job: NewJob, *, now: float) -> dict[str, Any]:
    """Insert one pending job and return its row. Raises DuplicateJob, ValueError."""
    try:
        cursor = conn.execute(_INSERT + " RETURNING *", _insert_params(job, now))
        row: dict[str, Any] = cursor.fetchone()
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise errors().DuplicateJob(str(job.job_id)) from exc
        raise
    notify_jobs_added(conn, [row["machine_type"]])
    return decode_job(row)


def add_jobs(conn: sqlite3.Connection, jobs: Iterable[NewJob], *, now: float) -> int:
    """Insert many jobs with one prepared statement; returns how many.

    All or nothing: raises DuplicateJob naming the first id that exists (or repeats
    within ``jobs``), and then nothing is inserted.
    """
    params = [_insert_params(job, now) for job in jobs]
    # a savepoint makes the batch all-or-nothing inside or outside a caller's transaction
    conn.execute("SAVEPOINT add_jobs")
    try:
        # the row count is read here: in PostgreSQL's pipeline mode a statement's error
        # (a duplicate id) comes with its result, and it must come inside this block
        conn.executemany(_INSERT, params).rowcount  # noqa: B018
    except BaseException as exc:
        conn.execute("ROLLBACK TO add_jobs")
        conn.execute("RELEASE add_jobs")
        if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
            duplicate = _first_duplicate(conn, [p[0] for p in params])
            raise errors().DuplicateJob(duplicate) from exc
        raise
    conn.execute("RELEASE add_jobs")
    notify_jobs_added(conn, [p[2] for p in params])
    return len(params)


def _first_duplicate(conn: sqlite3.Connection, job_ids: Sequence[str]) -> str:
    seen: set[str] = set()
    for job_id in job_ids:
        if job_id in seen:
            return job_id
        seen.add(job_id)
    existing = set(job_statuses(conn, job_ids))
    return next((job_id for job_id in job_ids if job_id in existing), "?")


_CLAIM_SET = (
    "UPDATE jobs SET status = 'processing', attempts = attempts + 1, claimed_by = ?,"
    " started_at = ?, lease_until = ?, updated_at = ?"
)


def claim_next(
    conn: sqlite3.Connection,
    *,
    job_type: str | None,
    machine_type: str | None,
    worker: str,
    now: float,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> dict[str, Any] | None:
    """Atomically claim the next due pending job, or return None."""
    claimed = claim_many(
        conn,
        job_type=job_type,
        machine_type=machine_type,
        worker=worker,
        now=now,
        lease_seconds=lease_seconds,
        limit=1,
    )
    return claimed[0] if claimed else None


def claim_many(
    conn: sqlite3.Connection,
    *,
    job_type: str | None,
    machine_type: str | None,
    worker: str,
    now: float,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    limit: int,
) -> list[dict[str, Any]]:
    """Atomically claim up to ``limit`` due pending jobs, in queue order.

    The first is started (``attempts`` counted, ``started_at`` set). The others are
    claimed ahead for ``worker``: held by it, ``started_at`` NULL and no attempt counted
    until :func:`start_reserved` hands one over, so a reserve that goes back to the queue
    (released, or its lease lapsed) has cost its jobs nothing.
    """
    where, params = filters(job_type, machine_type)
    # two workers of two hosts never wait for each other's candidate: each skips rows
    # another transaction is claiming (PostgreSQL; SQLite has one writer at a time)
    lock = skip_locked(conn)
    if limit == 1:
        sql = (
            f"{_CLAIM_SET} WHERE id = (SELECT id FROM jobs WHERE status = 'pending'"
            f" AND run_at <= ?{where}{QUEUE_ORDER} LIMIT 1{lock}) AND status = 'pending'"
            " RETURNING *"
        )
        row = conn.execute(sql, (worker, now, now + lease_seconds, now, now, *params)).fetchone()
        return [decode_job(row)] if row else []
    sql = (
        "UPDATE jobs SET status = 'processing', claimed_by = ?, started_at = NULL,"
        " lease_until = ?, updated_at = ? WHERE "
        + id_in(
            conn,
            f"SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ?{where}{QUEUE_ORDER}"
            f" LIMIT ?{lock}",
        )
        + " AND status = 'pending' RETURNING *"
    )
    conn.execute("SAVEPOINT claim_many")
    try:
        rows = conn.execute(sql, (worker, now + lease_seconds, now, now, *params, limit)).fetchall()
        if rows:
            rows.sort(key=_queue_position)  # RETURNING gives rows in no promised order
            rows[0] = conn.execute(
                "UPDATE jobs SET attempts = attempts + 1, started_at = ? WHERE id = ? RETURNING *",
                (now, rows[0]["id"]),
            ).fetchone()
    except BaseException:
        conn.execute("ROLLBACK TO claim_many")
        conn.execute("RELEASE claim_many")
        raise
    conn.execute("RELEASE claim_many")
    return [decode_job(row) for row in rows]


def start_reserved(
    conn: sqlite3.Connection, job_id: str, *, worker: str, now: float, started_at: float
) -> bool:
    """Start a job claimed ahead for ``worker`` (handed over at ``started_at``): count the
    attempt. False when ``worker`` no longer holds it unstarted."""
    cursor = conn.execute(
        "UPDATE jobs SET attempts = attempts + 1, started_at = ?, updated_at = ?"
        " WHERE job_id = ? AND claimed_by = ? AND status = 'processing' AND started_at IS NULL",
        (started_at, now, job_id, worker),
    )
    return cursor.rowcount > 0


def _queue_position(row: dict[str, Any]) -> tuple[Any, ...]:
    # the ORDER BY of the claim; NULLs (rows adopted from an older schema) sort first
    return tuple(
        (value is not None, value or 0)
        for value in (row["priority"], row["run_at"], row["created_at"], row["id"])
    )


def claim_job(
    conn: sqlite3.Connection,
    job_id: str,
    *,
    worker: str,
    now: float,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> dict[str, Any] | None:
    """Claim one pending job by id (due or not); None when it is not pending or missing."""
    row = conn.execute(
        f"{_CLAIM_SET} WHERE job_id = ? AND status = 'pending' RETURNING *",
        (worker, now, now + lease_seconds, now, job_id),
    ).fetchone()
    return decode_job(row) if row else None


def heartbeat(
    conn: sqlite3.Connection,
    job_id: str,
    *,
    worker: str,
    now: float,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> bool:
    """Extend the lease of a job ``worker`` holds; False when it no longer holds it."""
    cursor = conn.execute(
        "UPDATE jobs SET lease_until = ?, updated_at = ?"
        " WHERE job_id = ? AND claimed_by = ? AND status = 'processing'",
        (now + lease_seconds, now, job_id, worker),
    )
    return cursor.rowcount > 0


def release_job(conn: sqlite3.Connection, job_id: str, *, worker: str, now: float) -> bool:
    """Undo a claim nobody received (its caller was cancelled, or it was claimed ahead and
    never started): pending again, attempt not counted."""
    cursor = conn.execute(
        "UPDATE jobs SET status = 'pending',"
        " attempts = CASE WHEN started_at IS NULL OR attempts < 1 THEN attempts"
        " ELSE attempts - 1 END,"
        " claimed_by = NULL, lease_until = NULL, started_at = NULL, updated_at = ?"
        " WHERE job_id = ? AND claimed_by = ? AND status = 'processing'",
        (now, job_id, worker),
    )
    return cursor.rowcount > 0
