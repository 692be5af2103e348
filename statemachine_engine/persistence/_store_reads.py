"""The reads of :class:`~statemachine_engine.persistence.SqliteStore`, which delegates to
them: jobs, the registry, history and the audited events. Each sees what this process has
written: queued records and submitted job writes are committed first, then the read runs on
a read connection (in a worker thread for a file)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from statemachine_engine.persistence import _jobs_sql as jobs
from statemachine_engine.persistence import _records_sql as records
from statemachine_engine.persistence._connections import Connections
from statemachine_engine.persistence._protocol import JOB_FIELDS, Job
from statemachine_engine.persistence._writer import Writer

T = TypeVar("T")


def to_job(row: Mapping[str, Any]) -> Job:
    """A decoded ``jobs`` row as a :class:`Job`."""
    return Job(**{name: row[name] for name in JOB_FIELDS if name in row})


class StoreReads:
    """Reads on ``connections`` that first commit what ``writer`` holds."""

    def __init__(self, connections: Connections, writer: Writer) -> None:
        self._connections = connections
        self._writer = writer

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        await self._writer.request(lambda conn, now: None)

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._read_fresh(lambda conn: jobs.get_job(conn, job_id))
        return to_job(row) if row is not None else None

    async def pending_jobs(
        self, *, job_type: str | None, machine_type: str | None, limit: int | None = None
    ) -> Sequence[Job]:
        rows = await self._read_fresh(
            lambda conn: jobs.pending_jobs(
                conn, job_type=job_type, machine_type=machine_type, limit=limit
            )
        )
        return [to_job(row) for row in rows]

    async def list_jobs(
        self,
        *,
        status: str | None = None,
        job_type: str | None = None,
        machine_type: str | None = None,
        limit: int | None = 50,
    ) -> Sequence[Job]:
        """Jobs, newest first."""
        rows = await self._read_fresh(
            lambda conn: jobs.list_jobs(
                conn, status=status, job_type=job_type, machine_type=machine_type, limit=limit
            )
        )
        return [to_job(row) for row in rows]

    async def count_jobs(self, *, job_type: str | None = None) -> Mapping[str, int]:
        return await self._read_fresh(lambda conn: jobs.count_jobs(conn, job_type=job_type))

    async def job_statuses(self, job_ids: Sequence[str]) -> Mapping[str, str]:
        ids = list(job_ids)
        return await self._read_fresh(lambda conn: jobs.job_statuses(conn, ids))

    # -- registry, history, events -------------------------------------------------------

    async def machines(self) -> Sequence[Mapping[str, Any]]:
        return await self._read_fresh(records.list_machines)

    async def machine(self, machine_name: str) -> Mapping[str, Any] | None:
        return await self._read_fresh(lambda conn: records.get_machine(conn, machine_name))

    async def transitions(
        self, *, machine: str | None = None, since: float | None = None, limit: int | None = 100
    ) -> Sequence[Mapping[str, Any]]:
        """Recorded transitions, newest first."""
        return await self._read_fresh(
            lambda conn: records.list_transitions(conn, machine=machine, since=since, limit=limit)
        )

    async def errors(
        self, *, machine: str | None = None, since: float | None = None, limit: int | None = 100
    ) -> Sequence[Mapping[str, Any]]:
        """Recorded errors, newest first."""
        return await self._read_fresh(
            lambda conn: records.list_errors(conn, machine=machine, since=since, limit=limit)
        )

    async def events(
        self, *, target: str | None = None, status: str | None = None, limit: int | None = 100
    ) -> Sequence[Mapping[str, Any]]:
        """Audited events, newest first."""
        return await self._read_fresh(
            lambda conn: records.list_events(conn, target=target, status=status, limit=limit)
        )

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` on a read connection, without waiting for queued writes."""
        return await self._connections.read(fn)

    async def read_fresh(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` on a read connection, after what this process queued is committed."""
        return await self._read_fresh(fn)

    async def _read_fresh(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A read that sees what this process wrote (queued records and submitted job
        writes are committed first)."""
        if self._writer.unwritten:
            await self.flush()
        return await self._connections.read(fn)
