"""Reading the job queue: one job, listings, counts, what is due or stuck. Plain functions
over a ``sqlite3`` connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from statemachine_engine.persistence._job_rows import JOB_STATUSES, QUEUE_ORDER, decode_job, filters


def get_job(conn: sqlite3.Connection, job_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    return decode_job(row) if row else None


def list_jobs(
    conn: sqlite3.Connection,
    *,
    status: str | None = None,
    job_type: str | None = None,
    machine_type: str | None = None,
    limit: int | None = 50,
) -> list[dict[str, Any]]:
    """Jobs, newest first."""
    params: list[Any] = []
    sql = "SELECT * FROM jobs WHERE TRUE"
    if status:
        sql += " AND status = ?"
        params.append(status)
    where, more = filters(job_type, machine_type)
    sql += where + " ORDER BY created_at DESC, id DESC"
    params.extend(more)
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return [decode_job(row) for row in conn.execute(sql, params)]


def pending_jobs(
    conn: sqlite3.Connection,
    *,
    job_type: str | None = None,
    machine_type: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Pending jobs in claim order (due or not), without claiming them."""
    where, params = filters(job_type, machine_type)
    sql = f"SELECT * FROM jobs WHERE status = 'pending'{where}{QUEUE_ORDER}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return [decode_job(row) for row in conn.execute(sql, params)]


def next_due(
    conn: sqlite3.Connection, *, job_type: str | None, machine_type: str | None
) -> float | None:
    """The earliest ``run_at`` of the matching pending jobs, or None when there are none."""
    where, params = filters(job_type, machine_type)
    row = conn.execute(
        f"SELECT min(run_at) AS due FROM jobs WHERE status = 'pending'{where}", params
    ).fetchone()
    due = row["due"] if row else None
    return float(due) if due is not None else None


def job_statuses(conn: sqlite3.Connection, job_ids: Sequence[str]) -> dict[str, str]:
    """``{job_id: status}`` for the ids that exist."""
    found: dict[str, str] = {}
    ids = [str(job_id) for job_id in job_ids]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT job_id, status FROM jobs WHERE job_id IN ({marks})", chunk
        ):
            found[row["job_id"]] = row["status"]
    return found


def count_jobs(conn: sqlite3.Connection, *, job_type: str | None = None) -> dict[str, int]:
    """Jobs per status (every status present, zero included) plus ``total``."""
    where, params = filters(job_type, None)
    counts = dict.fromkeys(JOB_STATUSES, 0)
    for row in conn.execute(
        f"SELECT status, count(*) AS n FROM jobs WHERE TRUE{where} GROUP BY status", params
    ):
        counts[row["status"]] = row["n"]
    counts["total"] = sum(counts.values())
    return counts


def stuck_jobs(conn: sqlite3.Connection, *, now: float) -> list[dict[str, Any]]:
    """``processing`` jobs whose lease lapsed (or that have none: claimed by an older
    program), oldest first."""
    rows = conn.execute(
        "SELECT * FROM jobs WHERE status = 'processing'"
        " AND (lease_until IS NULL OR lease_until < ?) ORDER BY started_at",
        (now,),
    )
    return [decode_job(row) for row in rows]


def count_retrying(conn: sqlite3.Connection) -> int:
    """Pending jobs that have run before: failed attempts waiting for their retry."""
    row = conn.execute(
        "SELECT count(*) AS n FROM jobs WHERE status = 'pending' AND attempts > 0"
    ).fetchone()
    return int(row["n"])
