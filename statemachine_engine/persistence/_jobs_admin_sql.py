"""The job queue as an operator sees it: pages of jobs, the last hour per minute, and the
operator's actions (retry, cancel, requeue, bulk retry). Plain functions over a ``sqlite3``
connection; the caller owns the transaction.

A cancelled job is a failed job whose error says :data:`CANCELLED` (no status of its own, so
that every program reading the queue keeps its four statuses); a bulk retry leaves it be.
"""

from __future__ import annotations

import bisect
import sqlite3
from typing import Any

from statemachine_engine.errors import JobNotFound, StoreError
from statemachine_engine.persistence._browse_sql import plain_rows
from statemachine_engine.persistence._job_rows import JOB_STATUSES, decode_job
from statemachine_engine.persistence._timeline_sql import check_limit

#: the error message of a job an operator cancelled
CANCELLED = "cancelled by operator"


class JobStateError(StoreError):
    """An operator action on a job in the wrong status (retry a job that has not failed)."""


# -- reads -------------------------------------------------------------------------------


def job_page(
    conn: sqlite3.Connection,
    *,
    status: str | None = None,
    job_type: str | None = None,
    machine_type: str | None = None,
    q: str | None = None,
    limit: int = 50,
    before: str | None = None,
) -> dict[str, Any]:
    """``{"jobs", "counts", "next_before"}``: jobs newest first (by creation) matching the
    filters (``q``: part of the job id), paged by ``(created_at, id)``; counts per status
    over every job. Raises ValueError for a bad status, limit or cursor."""
    if status not in (None, "", "all", *JOB_STATUSES):
        raise ValueError(f"status={status!r} is not one of all, {', '.join(JOB_STATUSES)}")
    check_limit(limit)
    where, params = _where(status, job_type, machine_type, q)
    if before:
        at, ident = _decode(before)
        where += " AND (created_at < ? OR (created_at = ? AND id < ?))"
        params += [at, at, ident]
    rows = conn.execute(
        f"SELECT * FROM jobs WHERE TRUE{where} ORDER BY created_at DESC, id DESC LIMIT ?",
        [*params, limit + 1],
    ).fetchall()
    page = [decode_job(row) for row in rows[:limit]]
    last = page[-1] if len(rows) > limit else None
    return {
        "jobs": page,
        "counts": job_counts(conn),
        "next_before": f"{last['created_at'] or 0.0!r}:{last['id']}" if last else None,
    }


def _where(
    status: str | None, job_type: str | None, machine_type: str | None, q: str | None
) -> tuple[str, list[Any]]:
    sql, params = "", []
    for column, value in (
        ("status", status),
        ("job_type", job_type),
        ("machine_type", machine_type),
    ):
        if value and value != "all":
            sql += f" AND {column} = ?"
            params.append(value)
    if q:
        sql += " AND job_id LIKE ?"
        params.append(f"%{_escape_like(q)}%")
        sql += " ESCAPE '\\'"
    return sql, params


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _decode(text: str) -> tuple[float, int]:
    at, _, ident = text.partition(":")
    try:
        value, number = float(at), int(ident)
    except ValueError:
        raise ValueError(
            f"before={text!r} is not a cursor of this listing (pass the next_before it returned)"
        ) from None
    return value, number


def job_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Jobs per status (every status, zero included; ``cancelled`` counted apart from
    ``failed``) and ``all``."""
    counts = dict.fromkeys((*JOB_STATUSES, "cancelled"), 0)
    for row in conn.execute(
        "SELECT status, CASE WHEN status = 'failed' AND error_message = ? THEN 1 ELSE 0 END"
        " AS cancelled, count(*) AS n FROM jobs GROUP BY status, cancelled",
        (CANCELLED,),
    ):
        counts["cancelled" if row["cancelled"] else row["status"]] += row["n"]
    counts["all"] = sum(counts.values())
    return counts


def minute_stats(
    conn: sqlite3.Connection, *, now: float, minutes: int = 60
) -> list[dict[str, Any]]:
    """Per minute of the last ``minutes`` (oldest first): jobs completed and failed, and the
    queue depth at the minute's end (jobs created and not yet claimed or ended then)."""
    if not 1 <= minutes <= 1440:
        raise ValueError(f"minutes={minutes} is out of range: 1 to 1440")
    end = (int(now // 60) + 1) * 60.0
    start = end - minutes * 60.0
    buckets = [
        {"at": start + i * 60.0, "completed": 0, "failed": 0, "depth": 0} for i in range(minutes)
    ]
    for status, completed_at in plain_rows(
        conn,
        "SELECT status, completed_at FROM jobs WHERE completed_at >= ? AND completed_at < ?",
        (start, end),
    ):
        if status in ("completed", "failed"):
            buckets[int((completed_at - start) // 60)][status] += 1
    # a job waits from its creation to its claim (or end); count the waits that span each
    # minute's end
    waits: dict[int, tuple[float, float | None]] = {}
    columns = "SELECT id, created_at, COALESCE(started_at, completed_at) FROM jobs"
    for where, params in (
        ("created_at >= ?", (start,)),
        ("status = 'pending' AND created_at < ?", (start,)),
        ("completed_at >= ? AND created_at < ?", (start, start)),
    ):
        for ident, created, left in plain_rows(conn, f"{columns} WHERE {where}", params):
            waits[ident] = (created or start, left)
    # depth at an edge = waits begun at or before it - waits ended at or before it
    begun = sorted(created for created, _ in waits.values())
    ended = sorted(left for _, left in waits.values() if left is not None)
    for bucket in buckets:
        edge = min(bucket["at"] + 60.0, now)  # the current minute: its depth now
        bucket["depth"] = bisect.bisect_right(begun, edge) - bisect.bisect_right(ended, edge)
    return buckets


def search_jobs(conn: sqlite3.Connection, q: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """Jobs whose id contains ``q``, newest first."""
    found: list[dict[str, Any]] = job_page(conn, q=q, limit=limit)["jobs"]
    return found


# -- operator actions --------------------------------------------------------------------


def _job(conn: sqlite3.Connection, job_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    return decode_job(row)


def _refuse(job: dict[str, Any], wanted: str) -> JobStateError:
    status = job["status"]
    if status == "failed" and job.get("error_message") == CANCELLED:
        status = "cancelled"
    return JobStateError(f"job {job['job_id']} is {status}, not {wanted}")


_TO_PENDING = (
    "UPDATE jobs SET status = 'pending', run_at = ?, claimed_by = NULL, lease_until = NULL,"
    " updated_at = ?"
)


def retry_job(conn: sqlite3.Connection, job_id: str, *, now: float) -> dict[str, Any]:
    """A failed job back to pending, due now, its attempts reset. Raises JobNotFound,
    JobStateError."""
    job = _job(conn, job_id)
    if job["status"] != "failed":
        raise _refuse(job, "failed")
    conn.execute(
        f"{_TO_PENDING}, attempts = 0, error_message = NULL, started_at = NULL,"
        " completed_at = NULL WHERE job_id = ?",
        (now, now, job_id),
    )
    return _job(conn, job_id)


def cancel_job(conn: sqlite3.Connection, job_id: str, *, now: float) -> dict[str, Any]:
    """A pending job failed with :data:`CANCELLED`: no worker claims it. Raises
    JobNotFound, JobStateError."""
    job = _job(conn, job_id)
    if job["status"] != "pending":
        raise _refuse(job, "pending")
    conn.execute(
        "UPDATE jobs SET status = 'failed', error_message = ?, completed_at = ?, updated_at = ?"
        " WHERE job_id = ?",
        (CANCELLED, now, now, job_id),
    )
    return _job(conn, job_id)


def requeue_job(conn: sqlite3.Connection, job_id: str, *, now: float) -> dict[str, Any]:
    """A processing job back to pending, due now, the attempt not counted; the worker that
    held it can no longer complete it. Raises JobNotFound, JobStateError."""
    job = _job(conn, job_id)
    if job["status"] != "processing":
        raise _refuse(job, "processing")
    conn.execute(f"{_TO_PENDING}, started_at = NULL WHERE job_id = ?", (now, now, job_id))
    return _job(conn, job_id)


def retry_failed(
    conn: sqlite3.Connection,
    *,
    job_type: str | None = None,
    machine_type: str | None = None,
    q: str | None = None,
    now: float,
) -> list[str]:
    """Every failed job matching the filters (cancelled ones left be) back to pending;
    returns their ids."""
    where, params = _where("failed", job_type, machine_type, q)
    where += " AND (error_message IS NULL OR error_message <> ?)"
    params.append(CANCELLED)
    ids = [
        row["job_id"] for row in conn.execute(f"SELECT job_id FROM jobs WHERE TRUE{where}", params)
    ]
    for job_id in ids:
        retry_job(conn, job_id, now=now)
    return ids
