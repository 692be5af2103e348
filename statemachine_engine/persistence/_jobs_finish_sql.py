"""How a claimed job ends: completed, failed (retried after a backoff while attempts are
left), or back in the queue when its lease lapsed or an operator resets it; and deleting
jobs. Plain functions over a ``sqlite3`` connection; see ``_jobs_sql`` for the semantics."""

from __future__ import annotations

import sqlite3
from typing import Any

from statemachine_engine.persistence._codec import dumps, errors
from statemachine_engine.persistence._dialect import id_in, skip_locked
from statemachine_engine.persistence._job_rows import (
    DEFAULT_RETRY_BACKOFF,
    MAX_BACKOFF_EXPONENT,
    decode_job,
)

#: ``2 ** min(attempts - 1, ?)`` (at least 1): the exponential backoff's factor, written
#: with CASE so that it reads the same in SQLite and PostgreSQL (no scalar min/max there)
BACKOFF_FACTOR = (
    "(1 << CAST(CASE WHEN attempts <= 1 THEN 0 WHEN attempts - 1 > ? THEN ? ELSE attempts - 1 END"
    " AS INTEGER))"
)
#: a job whose lease lapsed
_LAPSED = "status = 'processing' AND lease_until IS NOT NULL AND lease_until < ?"


def complete_job(
    conn: sqlite3.Connection,
    job_id: str,
    *,
    now: float,
    result: Any = None,
    worker: str | None = None,
    result_json: str | None = None,
) -> dict[str, Any]:
    """Mark a job completed and return its row.

    With ``worker``, only a job that worker still holds is completed (a worker whose lease
    lapsed must not complete a job someone else now runs): raises StoreError otherwise.
    Without it, any job is completed, as ``statemachine-db complete-job`` does.
    ``result_json``: the result already encoded (instead of ``result``).
    Raises JobNotFound.
    """
    sql = (
        "UPDATE jobs SET status = 'completed', completed_at = ?, result = ?,"
        " lease_until = NULL, updated_at = ? WHERE job_id = ?"
    )
    encoded = result_json if result_json is not None else dumps(result)
    params: list[Any] = [now, encoded, now, job_id]
    if worker is not None:
        sql += " AND claimed_by = ? AND status = 'processing'"
        params.append(worker)
    row = conn.execute(sql + " RETURNING *", params).fetchone()
    if row is None:
        _raise_not_held(conn, job_id, worker)
    return decode_job(row)


def complete_held_job(
    conn: sqlite3.Connection, job_id: str, *, now: float, worker: str, result_json: str | None
) -> dict[str, Any]:
    """:func:`complete_job` of a job ``worker`` holds, the result already encoded (one of
    a gathering of completions: ``_jobs_bulk_sql``)."""
    row = conn.execute(
        "UPDATE jobs SET status = 'completed', completed_at = ?, result = ?,"
        " lease_until = NULL, updated_at = ? WHERE job_id = ?"
        " AND claimed_by = ? AND status = 'processing' RETURNING *",
        (now, result_json, now, job_id, worker),
    ).fetchone()
    if row is None:
        _raise_not_held(conn, job_id, worker)
    return decode_job(row)


def fail_job(
    conn: sqlite3.Connection,
    job_id: str,
    *,
    error: str,
    now: float,
    retry: bool = True,
    backoff: float = DEFAULT_RETRY_BACKOFF,
    worker: str | None = None,
) -> dict[str, Any]:
    """Record a failed attempt and return the row.

    With ``retry`` and attempts left, a ``processing`` job goes back to ``pending`` after
    an exponential backoff; otherwise it becomes ``failed`` with ``error``. ``worker`` as
    in :func:`complete_job`. Raises JobNotFound.
    """
    retry_case = "(? = 1 AND status = 'processing' AND attempts < max_attempts)"
    sql = (
        "UPDATE jobs SET"
        f" run_at = CASE WHEN {retry_case} THEN ? + ? * {BACKOFF_FACTOR} ELSE run_at END,"
        f" completed_at = CASE WHEN {retry_case} THEN NULL ELSE ? END,"
        f" claimed_by = CASE WHEN {retry_case} THEN NULL ELSE claimed_by END,"
        f" status = CASE WHEN {retry_case} THEN 'pending' ELSE 'failed' END,"
        " error_message = ?, lease_until = NULL, updated_at = ? WHERE job_id = ?"
    )
    flag = 1 if retry else 0
    params: list[Any] = [
        flag, now, backoff, MAX_BACKOFF_EXPONENT, MAX_BACKOFF_EXPONENT,
        flag, now,
        flag,
        flag,
        error, now, job_id,
    ]  # fmt: skip
    if worker is not None:
        sql += " AND claimed_by = ? AND status = 'processing'"
        params.append(worker)
    row = conn.execute(sql + " RETURNING *", params).fetchone()
    if row is None:
        _raise_not_held(conn, job_id, worker)
    return decode_job(row)


def not_held(conn: sqlite3.Connection, job_id: str, worker: str | None) -> Exception:
    """The error for a job ``worker`` does not hold (JobNotFound when it does not exist)."""
    try:
        _raise_not_held(conn, job_id, worker)
    except Exception as exc:
        return exc
    raise AssertionError("unreachable")


def _raise_not_held(conn: sqlite3.Connection, job_id: str, worker: str | None) -> None:
    row = conn.execute("SELECT status, claimed_by FROM jobs WHERE job_id = ?", (job_id,))
    found = row.fetchone()
    if found is None:
        raise errors().JobNotFound(job_id)
    raise errors().StoreError(
        f"job {job_id!r} is not held by {worker!r} (status {found['status']}, "
        f"claimed by {found['claimed_by']!r})"
    )


def requeue_expired(
    conn: sqlite3.Connection, *, now: float, backoff: float = DEFAULT_RETRY_BACKOFF
) -> list[dict[str, Any]]:
    """Handle jobs whose lease lapsed as failed attempts; returns ``job_id``,
    ``machine_type``, ``status`` (``pending`` or ``failed``) and ``error_message`` of each.
    Jobs claimed ahead and never started go back to pending as they were (no attempt,
    no backoff, ``error_message`` None)."""
    # rows another transaction holds (a worker completing it right now) are left for the
    # next sweep rather than waited for (PostgreSQL; SQLite has one writer at a time)
    lock = skip_locked(conn)
    unstarted = conn.execute(
        "UPDATE jobs SET status = 'pending', claimed_by = NULL, lease_until = NULL,"
        " updated_at = ? WHERE "
        + id_in(conn, f"SELECT id FROM jobs WHERE started_at IS NULL AND {_LAPSED}{lock}")
        + " RETURNING job_id, machine_type, status, NULL AS error_message",
        (now, now),
    ).fetchall()
    retry_case = "attempts < max_attempts"
    rows = conn.execute(
        "UPDATE jobs SET"
        " error_message = 'lease expired while held by ' || coalesce(claimed_by, '?'),"
        f" run_at = CASE WHEN {retry_case} THEN ? + ? * {BACKOFF_FACTOR} ELSE run_at END,"
        f" completed_at = CASE WHEN {retry_case} THEN NULL ELSE ? END,"
        f" status = CASE WHEN {retry_case} THEN 'pending' ELSE 'failed' END,"
        " claimed_by = NULL, lease_until = NULL, updated_at = ?"
        " WHERE "
        + id_in(conn, f"SELECT id FROM jobs WHERE {_LAPSED}{lock}")
        + " RETURNING job_id, machine_type, status, error_message",
        (now, backoff, MAX_BACKOFF_EXPONENT, MAX_BACKOFF_EXPONENT, now, now, now),
    ).fetchall()
    return [*unstarted, *rows]


def reset_processing(
    conn: sqlite3.Connection, *, now: float, older_than: float | None
) -> list[dict[str, Any]]:
    """``processing`` jobs started more than ``older_than`` seconds ago (all with None)
    back to ``pending``; returns their ``job_id`` and ``machine_type``. A job claimed ahead
    and not started yet counts as old only once its lease has lapsed (its worker holds it)."""
    sql = (
        "UPDATE jobs SET status = 'pending', started_at = NULL, claimed_by = NULL,"
        " lease_until = NULL, run_at = ?, updated_at = ? WHERE status = 'processing'"
    )
    params: list[Any] = [now, now]
    if older_than is not None:
        sql += (
            " AND ((started_at IS NULL AND (lease_until IS NULL OR lease_until < ?))"
            " OR started_at < ?)"
        )
        params += [now, now - older_than]
    return list(conn.execute(sql + " RETURNING job_id, machine_type", params).fetchall())


def delete_job(conn: sqlite3.Connection, job_id: str) -> dict[str, Any]:
    """Delete a job and return its last row. Raises JobNotFound."""
    row = conn.execute("DELETE FROM jobs WHERE job_id = ? RETURNING *", (job_id,)).fetchone()
    if row is None:
        raise errors().JobNotFound(job_id)
    return decode_job(row)


def delete_jobs(
    conn: sqlite3.Connection, *, status: str, older_than: float | None = None, now: float
) -> int:
    """Delete jobs of one status (optionally only those created before ``now - older_than``)."""
    sql = "DELETE FROM jobs WHERE status = ?"
    params: list[Any] = [status]
    if older_than is not None:
        sql += " AND created_at < ?"
        params.append(now - older_than)
    return conn.execute(sql, params).rowcount
