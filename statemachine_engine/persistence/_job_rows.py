"""The ``jobs`` table's vocabulary, shared by the SQL modules of the job queue: statuses,
defaults, the job to enqueue, and how a row is decoded and filtered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from statemachine_engine.persistence._codec import loads_any, loads_object

JOB_STATUSES = ("pending", "processing", "completed", "failed")

DEFAULT_PRIORITY = 5
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_RETRY_BACKOFF = 2.0

#: 2 ** 30 seconds is decades; larger exponents only risk integer overflow in SQL
MAX_BACKOFF_EXPONENT = 30

#: the whole numbers a job's ``priority`` and ``max_attempts`` may be: PostgreSQL's
#: ``INTEGER`` (SQLite's holds more; one rule for both stores)
MIN_WHOLE, MAX_WHOLE = -(2**31), 2**31 - 1
#: the times a job's ``run_at`` may be (epoch seconds): from 1970 to the last day of 9999,
#: which every store and every date display can hold
RUN_AT_RANGE = (0.0, 253_402_214_400.0)


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


def filters(job_type: str | None, machine_type: str | None) -> tuple[str, list[Any]]:
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


#: the order in which jobs are claimed: priority (1 = highest), then run_at, then age
QUEUE_ORDER = " ORDER BY priority, run_at, created_at, id"
