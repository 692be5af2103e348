"""Compatibility: the published package's ``statemachine_engine.database`` module, for scripts
that enqueue and inspect jobs.

A thin layer over the job queue's SQL functions (:mod:`statemachine_engine.persistence`'s
``jobs_sql``), so a script written for statemachine-engine 1.0.x keeps working::

    from statemachine_engine.database import get_job_model

    jobs = get_job_model()                      # --db's default: $STATEMACHINE_DB, else
    jobs.create_job("job_001", "task", data={"n": 1})   # ./data/pipeline.db
    print(jobs.get_job("job_001")["status"])    # pending

Each call opens its own connection and closes it, as the published package does; it is
synchronous and trio-free. What differs: a duplicate ``job_id`` raises
:class:`~statemachine_engine.errors.DuplicateJob` (not ``sqlite3.IntegrityError``);
:meth:`JobModel.get_next_job` claims atomically (two scripts never get the same job) with a
lease of :data:`SCRIPT_LEASE_SECONDS`; :meth:`JobModel.create_job` wakes the workers waiting
for that machine type in running runtimes, as ``statemachine-db add-job`` does. New code can
use ``statemachine_engine.persistence.jobs_sql`` directly.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from statemachine_engine.errors import JobNotFound
from statemachine_engine.persistence import (
    connect,
    jobs_sql,
    records_sql,
    resolve_db_path,
    transaction,
)

__all__ = [
    "SCRIPT_LEASE_SECONDS",
    "Database",
    "JobModel",
    "get_database",
    "get_job_model",
]

#: how long a job claimed by :meth:`JobModel.get_next_job` or :meth:`JobModel.claim_job` is
#: held before a runtime's maintenance hands it to another worker (the published package
#: held it until ``statemachine-db reset-processing``)
SCRIPT_LEASE_SECONDS = 3600.0


class Database:
    """The job database at ``db_path`` (``--db``'s default when None); holds no connection."""

    def __init__(self, db_path: str | os.PathLike[str] | None = None) -> None:
        self.db_path = resolve_db_path(db_path)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for one unit of work (one transaction), closed afterwards."""
        conn = connect(self.db_path)
        try:
            with transaction(conn):
                yield conn
        finally:
            conn.close()


class JobModel:
    """The published package's job model: enqueue, claim, finish and read jobs.

    Rows are dicts with ``data``, ``result`` and ``metadata`` decoded from JSON.
    """

    def __init__(self, db: Database | None = None) -> None:
        self.db = db if db is not None else Database()
        #: the ``claimed_by`` of this script's claims
        self.worker = f"script-{os.getpid()}"

    def create_job(
        self,
        job_id: str,
        job_type: str,
        machine_type: str | None = None,
        source_job_id: str | None = None,
        priority: int = jobs_sql.DEFAULT_PRIORITY,
        data: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        """Queue a pending job; returns its row id. ``machine_type`` defaults to ``job_type``.

        Raises DuplicateJob when ``job_id`` exists.
        """
        new = jobs_sql.NewJob(
            job_id=job_id,
            job_type=job_type,
            machine_type=machine_type,
            source_job_id=source_job_id,
            priority=priority,
            data=data,
            metadata=metadata,
        )
        with self.db.connection() as conn:
            job = jobs_sql.add_job(conn, new, now=time.time())
            endpoints = sorted(
                {m["endpoint"] for m in records_sql.list_machines(conn) if m.get("endpoint")}
            )
        # imported here, as statemachine-db does: the transport costs start-up time
        from statemachine_engine.transport import ring_doorbells

        ring_doorbells(endpoints, job["machine_type"] or job["job_type"])
        row_id: int = job["id"]
        return row_id

    def get_next_job(
        self, job_type: str | None = None, machine_type: str | None = None
    ) -> dict[str, Any] | None:
        """Claim the next due pending job (``processing`` now), or None when there is none.

        An empty ``job_type`` matches any type; ``machine_type`` None matches any machine.
        """
        with self.db.connection() as conn:
            return jobs_sql.claim_next(
                conn,
                job_type=job_type,
                machine_type=machine_type,
                worker=self.worker,
                now=time.time(),
                lease_seconds=SCRIPT_LEASE_SECONDS,
            )

    def get_pending_jobs(
        self,
        job_type: str | None = None,
        machine_type: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Pending jobs in claim order, without claiming them."""
        with self.db.connection() as conn:
            return jobs_sql.pending_jobs(
                conn, job_type=job_type, machine_type=machine_type, limit=limit
            )

    def claim_job(self, job_id: str) -> bool:
        """Claim one pending job by id; False when it is not pending (or does not exist)."""
        with self.db.connection() as conn:
            claimed = jobs_sql.claim_job(
                conn,
                job_id,
                worker=self.worker,
                now=time.time(),
                lease_seconds=SCRIPT_LEASE_SECONDS,
            )
        return claimed is not None

    def complete_job(self, job_id: str, result: Any = None) -> bool:
        """Mark a job completed (whoever holds it); False when there is no such job."""
        try:
            with self.db.connection() as conn:
                jobs_sql.complete_job(conn, job_id, now=time.time(), result=result)
        except JobNotFound:
            return False
        return True

    def fail_job(self, job_id: str, error_message: str) -> bool:
        """Mark a job failed for good, as the published package does (no retry); False when
        there is no such job."""
        try:
            with self.db.connection() as conn:
                jobs_sql.fail_job(conn, job_id, error=error_message, now=time.time(), retry=False)
        except JobNotFound:
            return False
        return True

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        with self.db.connection() as conn:
            return jobs_sql.get_job(conn, job_id)

    def list_jobs(
        self,
        status: str | None = None,
        job_type: str | None = None,
        machine_type: str | None = None,
        limit: int | None = 50,
    ) -> list[dict[str, Any]]:
        """Jobs, newest first."""
        with self.db.connection() as conn:
            return jobs_sql.list_jobs(
                conn, status=status, job_type=job_type, machine_type=machine_type, limit=limit
            )

    def count_jobs(self, status: str | None = None, job_type: str | None = None) -> int:
        """How many jobs (of ``status``, of ``job_type``) there are."""
        with self.db.connection() as conn:
            counts = jobs_sql.count_jobs(conn, job_type=job_type)
        return counts["total"] if status is None else counts.get(status, 0)

    def get_latest_job_by_type(self, job_type: str) -> dict[str, Any] | None:
        """The newest job of ``job_type``, or None."""
        found = self.list_jobs(job_type=job_type, limit=1)
        return found[0] if found else None


def get_database(db_path: str | os.PathLike[str] | None = None) -> Database:
    """The database at ``db_path`` (``--db``'s default when None)."""
    return Database(db_path)


def get_job_model(db_path: str | os.PathLike[str] | None = None) -> JobModel:
    """A job model on :func:`get_database`'s database."""
    return JobModel(Database(db_path))
