"""Many jobs completed, or started from a worker's reserve, in one statement on PostgreSQL
(see ``_coalesce``); one statement a job on SQLite, where a statement costs no round trip,
and one for both when a job is started and completed in the same gathering (a worker
draining its reserve: every job). Each returns one outcome per item, in order: the item's
result, or the error of an item whose job the worker no longer held (the others are
written all the same).

Starts and completions go through ONE gathering, written by :func:`start_and_complete`:
all its starts, then all its completions. A job is started (handed over) before it is
completed, so within one gathering that order is each job's own; two gatherings would let
a completion gathered earlier overtake the start of its job.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from statemachine_engine.persistence._dialect import is_postgres
from statemachine_engine.persistence._job_rows import decode_job
from statemachine_engine.persistence._jobs_claim_sql import start_reserved
from statemachine_engine.persistence._jobs_finish_sql import not_held

#: (job_id, worker, result as JSON text)
Completion = tuple[str, str, str | None]
#: (job_id, worker, started_at)
Start = tuple[str, str, float]
#: a start or a completion, as gathered
JobEnd = Start | Completion


def start_and_complete(conn: sqlite3.Connection, items: Sequence[JobEnd], now: float) -> list[Any]:
    """The starts among ``items`` (a float third field), then the completions; the
    outcomes in the order of ``items``."""
    if not is_postgres(conn):
        return _start_and_complete_sqlite(conn, items, now)
    starts = [i for i, item in enumerate(items) if isinstance(item[2], float)]
    ends = [i for i, item in enumerate(items) if not isinstance(item[2], float)]
    outcomes: list[Any] = [None] * len(items)
    if starts:
        started = start_reserved_jobs(conn, [items[i] for i in starts], now)  # type: ignore[misc]
        for i, outcome in zip(starts, started, strict=True):
            outcomes[i] = outcome
    if ends:
        done = complete_held_jobs(conn, [items[i] for i in ends], now)  # type: ignore[misc]
        for i, row in zip(ends, done, strict=True):
            outcomes[i] = row
    return outcomes


#: a job its worker took from its reserve and completed within one gathering -- a worker
#: draining a backlog, every job -- started and completed in one write
_START_AND_COMPLETE = (
    "UPDATE jobs SET attempts = attempts + 1, started_at = ?, status = 'completed',"
    " completed_at = ?, result = ?, lease_until = NULL, updated_at = ?"
    " WHERE job_id = ? AND claimed_by = ? AND status = 'processing' AND started_at IS NULL"
)
_COMPLETE = (
    "UPDATE jobs SET status = 'completed', completed_at = ?, result = ?,"
    " lease_until = NULL, updated_at = ? WHERE job_id = ?"
    " AND claimed_by = ? AND status = 'processing'"
)


def _start_and_complete_sqlite(
    conn: sqlite3.Connection, items: Sequence[JobEnd], now: float
) -> list[Any]:
    """:func:`start_and_complete` on SQLite, one statement a job. A completion's outcome is
    ``{"job_id", "status": "completed"}`` (what the store does with it), not the row."""
    outcomes: list[Any] = [None] * len(items)
    completion_of: dict[tuple[str, str], int] = {}  # (job, worker) -> its completion's index
    for i, (job_id, worker, third) in enumerate(items):
        if not isinstance(third, float):
            completion_of.setdefault((job_id, worker), i)
    cursor = conn.cursor()
    merged: set[int] = set()
    for i, (job_id, worker, third) in enumerate(items):
        if not isinstance(third, float):
            continue
        end = completion_of.get((job_id, worker))
        if end is not None and end > i and end not in merged:
            result = items[end][2]
            cursor.execute(_START_AND_COMPLETE, (third, now, result, now, job_id, worker))
            if cursor.rowcount:
                outcomes[i] = True
                outcomes[end] = {"job_id": job_id, "status": "completed"}
                merged.add(end)
                continue
        outcomes[i] = bool(start_reserved(conn, job_id, worker=worker, now=now, started_at=third))
    for i, (job_id, worker, result) in enumerate(items):
        if isinstance(result, float) or i in merged:
            continue
        cursor.execute(_COMPLETE, (now, result, now, job_id, worker))
        if cursor.rowcount:
            outcomes[i] = {"job_id": job_id, "status": "completed"}
        else:
            outcomes[i] = not_held(conn, job_id, worker)
    return outcomes


def complete_held_jobs(
    conn: sqlite3.Connection, items: Sequence[Completion], now: float
) -> list[dict[str, Any] | BaseException]:
    """Complete jobs their workers hold (PostgreSQL); each outcome is the job's row or the
    error."""
    rows = conn.execute(
        "UPDATE jobs SET status = 'completed', completed_at = ?, result = v.result,"
        " lease_until = NULL, updated_at = ?"
        " FROM unnest(?::text[], ?::text[], ?::text[]) AS v(job_id, worker, result)"
        " WHERE jobs.job_id = v.job_id AND jobs.claimed_by = v.worker"
        " AND jobs.status = 'processing' RETURNING jobs.*",
        (now, now, [i[0] for i in items], [i[1] for i in items], [i[2] for i in items]),
    ).fetchall()
    done = {row["job_id"]: row for row in rows}
    return [
        decode_job(done[job_id]) if job_id in done else not_held(conn, job_id, worker)
        for job_id, worker, _ in items
    ]


def start_reserved_jobs(
    conn: sqlite3.Connection, items: Sequence[Start], now: float
) -> list[bool | BaseException]:
    """Start jobs claimed ahead for their workers (PostgreSQL); each outcome is False when
    the worker no longer held its job unstarted."""
    rows = conn.execute(
        "UPDATE jobs SET attempts = attempts + 1, started_at = v.started_at, updated_at = ?"
        " FROM unnest(?::text[], ?::text[], ?::float8[]) AS v(job_id, worker, started_at)"
        " WHERE jobs.job_id = v.job_id AND jobs.claimed_by = v.worker"
        " AND jobs.status = 'processing' AND jobs.started_at IS NULL RETURNING jobs.job_id",
        (now, [i[0] for i in items], [i[1] for i in items], [i[2] for i in items]),
    ).fetchall()
    started = {row["job_id"] for row in rows}
    return [job_id in started for job_id, _, _ in items]
