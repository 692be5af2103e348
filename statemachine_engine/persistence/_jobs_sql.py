"""The durable job queue as plain functions over a ``sqlite3`` connection.

Trio-free and synchronous: the ``statemachine-db`` command, worker scripts and the async
store's writer all call these. None of them commits; the caller owns the transaction (an
autocommit connection makes each single-statement call atomic on its own).

Semantics:

* ``attempts`` counts started claims: a claim starts an attempt, except for jobs claimed
  ahead for a worker (:func:`claim_many`), whose attempt starts when they are handed over
  (:func:`start_reserved`).
* A claim is ONE ``UPDATE ... WHERE id = (SELECT ... LIMIT n) AND status = 'pending'
  RETURNING *`` statement, so two workers (threads or processes) never get the same job
  (:func:`claim_many` then starts the first of its jobs, inside a savepoint).
  Order: ``priority`` (1 = highest), then ``run_at``, then age.
* A failed attempt with retries left goes back to ``pending`` with
  ``run_at = now + backoff * 2 ** (attempts - 1)``; otherwise it is ``failed`` for good.
* A ``processing`` job whose ``lease_until`` passed (its worker died) is handled like a
  failed attempt by :func:`requeue_expired`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from statemachine_engine.persistence._codec import dumps, errors, loads_any, loads_object

JOB_STATUSES = ("pending", "processing", "completed", "failed")

DEFAULT_PRIORITY = 5
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_RETRY_BACKOFF = 2.0

# 2 ** 30 seconds is decades; larger exponents only risk integer overflow in SQL
_MAX_BACKOFF_EXPONENT = 30


class NewJob(NamedTuple):
    """One job to enqueue with :func:`add_jobs`; only ``job_id`` and ``job_type`` are needed."""

    job_id: str
    job_type: str
    machine_type: str | None = None
    data: Mapping[str, Any] | None = None
    priority: int = DEFAULT_PRIORITY
    run_at: float | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    source_job_id: str | None = None
    metadata: Mapping[str, Any] | None = None


_TIME_COLUMNS = ("created_at", "started_at", "completed_at", "run_at", "lease_until", "updated_at")


def decode_job(row: dict[str, Any]) -> dict[str, Any]:
    """A ``jobs`` row with its JSON columns decoded (``data``/``metadata`` as dicts) and
    timestamps as floats."""
    for key in _TIME_COLUMNS:
        value = row.get(key)
        if isinstance(value, int):
            # RETURNING hands back a whole-second REAL as an int
            row[key] = float(value)
    row["data"] = loads_object(row.get("data"))
    row["metadata"] = loads_object(row.get("metadata"))
    row["result"] = loads_any(row.get("result"))
    return row


_INSERT = (
    "INSERT INTO jobs (job_id, job_type, machine_type, source_job_id, data, priority, status,"
    " created_at, updated_at, run_at, max_attempts, attempts, metadata)"
    " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, 0, ?)"
)


def _insert_params(job: NewJob, now: float) -> tuple[Any, ...]:
    if not job.job_id:
        raise ValueError("job_id must not be empty")
    if not job.job_type:
        raise ValueError("job_type must not be empty")
    if job.max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {job.max_attempts}")
    return (
        str(job.job_id),
        str(job.job_type),
        # machine_type defaults to the job type, as the published package's add-job does
        job.machine_type if job.machine_type is not None else job.job_type,
        job.source_job_id,
        dumps(dict(job.data) if job.data is not None else None),
        int(job.priority),
        now,
        now,
        job.run_at if job.run_at is not None else now,
        int(job.max_attempts),
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
        conn.executemany(_INSERT, params)
    except BaseException as exc:
        conn.execute("ROLLBACK TO add_jobs")
        conn.execute("RELEASE add_jobs")
        if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
            duplicate = _first_duplicate(conn, [p[0] for p in params])
            raise errors().DuplicateJob(duplicate) from exc
        raise
    conn.execute("RELEASE add_jobs")
    return len(params)


def _first_duplicate(conn: sqlite3.Connection, job_ids: Sequence[str]) -> str:
    seen: set[str] = set()
    for job_id in job_ids:
        if job_id in seen:
            return job_id
        seen.add(job_id)
    existing = set(job_statuses(conn, job_ids))
    return next((job_id for job_id in job_ids if job_id in existing), "?")


def _filters(job_type: str | None, machine_type: str | None) -> tuple[str, list[Any]]:
    # As upstream: an empty job_type means any; machine_type None means any machine.
    params: list[Any] = []
    sql = ""
    if job_type:
        sql += " AND job_type = ?"
        params.append(job_type)
    if machine_type is not None:
        sql += " AND machine_type = ?"
        params.append(machine_type)
    return sql, params


_CLAIM_SET = (
    "UPDATE jobs SET status = 'processing', attempts = attempts + 1, claimed_by = ?,"
    " started_at = ?, lease_until = ?, updated_at = ?"
)
_QUEUE_ORDER = " ORDER BY priority, run_at, created_at, id"


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
    where, params = _filters(job_type, machine_type)
    if limit == 1:
        sql = (
            f"{_CLAIM_SET} WHERE id = (SELECT id FROM jobs WHERE status = 'pending'"
            f" AND run_at <= ?{where}{_QUEUE_ORDER} LIMIT 1) AND status = 'pending' RETURNING *"
        )
        row = conn.execute(sql, (worker, now, now + lease_seconds, now, now, *params)).fetchone()
        return [decode_job(row)] if row else []
    sql = (
        "UPDATE jobs SET status = 'processing', claimed_by = ?, started_at = NULL,"
        " lease_until = ?, updated_at = ? WHERE id IN (SELECT id FROM jobs"
        f" WHERE status = 'pending' AND run_at <= ?{where}{_QUEUE_ORDER} LIMIT ?)"
        " AND status = 'pending' RETURNING *"
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
    retry_case = "(? AND status = 'processing' AND attempts < max_attempts)"
    sql = (
        "UPDATE jobs SET"
        f" run_at = CASE WHEN {retry_case} THEN ? + ? * (1 << min(max(attempts - 1, 0), ?))"
        " ELSE run_at END,"
        f" completed_at = CASE WHEN {retry_case} THEN NULL ELSE ? END,"
        f" claimed_by = CASE WHEN {retry_case} THEN NULL ELSE claimed_by END,"
        f" status = CASE WHEN {retry_case} THEN 'pending' ELSE 'failed' END,"
        " error_message = ?, lease_until = NULL, updated_at = ? WHERE job_id = ?"
    )
    flag = 1 if retry else 0
    params: list[Any] = [
        flag, now, backoff, _MAX_BACKOFF_EXPONENT,
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


def _raise_not_held(conn: sqlite3.Connection, job_id: str, worker: str | None) -> None:
    row = conn.execute("SELECT status, claimed_by FROM jobs WHERE job_id = ?", (job_id,))
    found = row.fetchone()
    if found is None:
        raise errors().JobNotFound(job_id)
    raise errors().StoreError(
        f"job {job_id!r} is not held by {worker!r} (status {found['status']}, "
        f"claimed by {found['claimed_by']!r})"
    )


def release_job(conn: sqlite3.Connection, job_id: str, *, worker: str, now: float) -> bool:
    """Undo a claim nobody received (its caller was cancelled, or it was claimed ahead and
    never started): pending again, attempt not counted."""
    cursor = conn.execute(
        "UPDATE jobs SET status = 'pending',"
        " attempts = CASE WHEN started_at IS NULL THEN attempts ELSE max(attempts - 1, 0) END,"
        " claimed_by = NULL, lease_until = NULL, started_at = NULL, updated_at = ?"
        " WHERE job_id = ? AND claimed_by = ? AND status = 'processing'",
        (now, job_id, worker),
    )
    return cursor.rowcount > 0


def requeue_expired(
    conn: sqlite3.Connection, *, now: float, backoff: float = DEFAULT_RETRY_BACKOFF
) -> list[dict[str, Any]]:
    """Handle jobs whose lease lapsed as failed attempts; returns ``job_id``,
    ``machine_type``, ``status`` (``pending`` or ``failed``) and ``error_message`` of each.
    Jobs claimed ahead and never started go back to pending as they were (no attempt,
    no backoff, ``error_message`` None)."""
    unstarted = conn.execute(
        "UPDATE jobs SET status = 'pending', claimed_by = NULL, lease_until = NULL,"
        " updated_at = ? WHERE status = 'processing' AND started_at IS NULL"
        " AND lease_until IS NOT NULL AND lease_until < ?"
        " RETURNING job_id, machine_type, status, NULL AS error_message",
        (now, now),
    ).fetchall()
    retry_case = "attempts < max_attempts"
    rows = conn.execute(
        "UPDATE jobs SET"
        " error_message = 'lease expired while held by ' || coalesce(claimed_by, '?'),"
        f" run_at = CASE WHEN {retry_case}"
        "  THEN ? + ? * (1 << min(max(attempts - 1, 0), ?)) ELSE run_at END,"
        f" completed_at = CASE WHEN {retry_case} THEN NULL ELSE ? END,"
        f" status = CASE WHEN {retry_case} THEN 'pending' ELSE 'failed' END,"
        " claimed_by = NULL, lease_until = NULL, updated_at = ?"
        " WHERE status = 'processing' AND lease_until IS NOT NULL AND lease_until < ?"
        " RETURNING job_id, machine_type, status, error_message",
        (now, backoff, _MAX_BACKOFF_EXPONENT, now, now, now),
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
    sql = "SELECT * FROM jobs WHERE 1"
    if status:
        sql += " AND status = ?"
        params.append(status)
    where, more = _filters(job_type, machine_type)
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
    where, params = _filters(job_type, machine_type)
    sql = f"SELECT * FROM jobs WHERE status = 'pending'{where}{_QUEUE_ORDER}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return [decode_job(row) for row in conn.execute(sql, params)]


def next_due(
    conn: sqlite3.Connection, *, job_type: str | None, machine_type: str | None
) -> float | None:
    """The earliest ``run_at`` of the matching pending jobs, or None when there are none."""
    where, params = _filters(job_type, machine_type)
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
    where, params = _filters(job_type, None)
    counts = dict.fromkeys(JOB_STATUSES, 0)
    for row in conn.execute(
        f"SELECT status, count(*) AS n FROM jobs WHERE 1{where} GROUP BY status", params
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
