"""QueueFace: the job queue's and the reads' methods of a store, delegated to its parts.

The :class:`~statemachine_engine.persistence._sql_store.SqlStore` holds the job queue
(``_store_jobs.SqliteJobs``) and the reads (``_store_reads.StoreReads``); these methods are
the :class:`~statemachine_engine.persistence.Store` protocol's face of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from statemachine_engine.persistence._jobs_sql import DEFAULT_MAX_ATTEMPTS, DEFAULT_PRIORITY, NewJob
from statemachine_engine.persistence._protocol import Job
from statemachine_engine.persistence._store_jobs import SqliteJobs
from statemachine_engine.persistence._store_reads import StoreReads


class QueueFace:
    """The job queue and reads of a store (see the module docstring)."""

    _jobs: SqliteJobs
    _reads: StoreReads

    # -- the job queue (see SqliteJobs) --------------------------------------------------

    async def add_job(
        self,
        job_id: str,
        job_type: str,
        *,
        machine_type: str | None = None,
        data: Mapping[str, Any] | None = None,
        priority: int = DEFAULT_PRIORITY,
        run_at: float | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        source_job_id: str | None = None,
    ) -> Job:
        """Add a pending job (``machine_type`` defaults to ``job_type``) and wake workers
        waiting for its machine type. Raises DuplicateJob, ValueError."""
        return await self._jobs.add_job(
            job_id,
            job_type,
            machine_type=machine_type,
            data=data,
            priority=priority,
            run_at=run_at,
            max_attempts=max_attempts,
            source_job_id=source_job_id,
        )

    async def add_jobs(self, new_jobs: Iterable[NewJob]) -> int:
        """Add many jobs in one transaction (all or nothing); returns how many.
        Raises DuplicateJob naming the first id that exists."""
        return await self._jobs.add_jobs(new_jobs)

    async def claim_next(
        self,
        *,
        job_type: str | None,
        machine_type: str | None,
        worker: str,
        lease_seconds: float | None = None,
        prefetch: int = 0,
    ) -> Job | None:
        """Atomically claim the next due pending job (priority, then run_at, then age);
        ``prefetch``: see :meth:`SqliteJobs.claim_next`."""
        return await self._jobs.claim_next(
            job_type=job_type,
            machine_type=machine_type,
            worker=worker,
            lease_seconds=lease_seconds,
            prefetch=prefetch,
        )

    async def claim(
        self, job_id: str, *, worker: str, lease_seconds: float | None = None
    ) -> Job | None:
        """Claim one pending job by id; None when it is not pending (or does not exist)."""
        return await self._jobs.claim(job_id, worker=worker, lease_seconds=lease_seconds)

    async def heartbeat(
        self, job_id: str, *, worker: str, lease_seconds: float | None = None
    ) -> bool:
        """Extend the lease of a job ``worker`` holds; False when it lost it."""
        return await self._jobs.heartbeat(job_id, worker=worker, lease_seconds=lease_seconds)

    async def complete(self, job_id: str, *, result: Any = None, worker: str | None = None) -> Job:
        """Mark a job completed (only if ``worker`` still holds it, when given).
        Raises JobNotFound, StoreError."""
        return await self._jobs.complete(job_id, result=result, worker=worker)

    def complete_soon(self, job_id: str, *, worker: str, result: Any = None) -> bool:
        """Queue the completion of a job ``worker`` holds without waiting; False when it
        was not queued (see :meth:`SqliteJobs.complete_soon`)."""
        return self._jobs.complete_soon(job_id, worker=worker, result=result)

    async def fail(
        self, job_id: str, *, error: str, retry: bool = True, worker: str | None = None
    ) -> Job:
        """Record a failed attempt: back to pending after a backoff while attempts are left
        (and ``retry``), else failed. Raises JobNotFound, StoreError."""
        return await self._jobs.fail(job_id, error=error, retry=retry, worker=worker)

    async def requeue_expired(self) -> list[dict[str, Any]]:
        """Put jobs whose lease lapsed back to pending (or failed when attempts are used
        up); the sweeper calls this every ``sweep_interval``. Returns what it changed."""
        return await self._jobs.requeue_expired()

    async def wait_for_job(
        self, *, job_type: str | None, machine_type: str | None, within: float
    ) -> bool:
        """Wait until a matching job may be claimable; False when ``within`` seconds pass
        first (see :meth:`SqliteJobs.wait_for_job`)."""
        return await self._jobs.wait_for_job(
            job_type=job_type, machine_type=machine_type, within=within
        )

    async def wait_until_finished(
        self, job_ids: Sequence[str], *, within: float
    ) -> Mapping[str, str]:
        """Wait until none of ``job_ids`` is pending or processing, or ``within`` seconds
        pass; returns the statuses seen last."""
        return await self._jobs.wait_until_finished(job_ids, within=within)

    def notify_job_added(self, machine_type: str | None = None) -> None:
        """Wake workers waiting for ``machine_type`` (None: every waiter). The hook for
        jobs added by other processes (the control-socket doorbell)."""
        self._jobs.notify_job_added(machine_type)

    # -- reads (see StoreReads) ----------------------------------------------------------

    async def get_job(self, job_id: str) -> Job | None:
        return await self._reads.get_job(job_id)

    async def pending_jobs(
        self, *, job_type: str | None, machine_type: str | None, limit: int | None = None
    ) -> Sequence[Job]:
        return await self._reads.pending_jobs(
            job_type=job_type, machine_type=machine_type, limit=limit
        )

    async def list_jobs(
        self,
        *,
        status: str | None = None,
        job_type: str | None = None,
        machine_type: str | None = None,
        limit: int | None = 50,
    ) -> Sequence[Job]:
        """Jobs, newest first."""
        return await self._reads.list_jobs(
            status=status, job_type=job_type, machine_type=machine_type, limit=limit
        )

    async def count_jobs(self, *, job_type: str | None = None) -> Mapping[str, int]:
        return await self._reads.count_jobs(job_type=job_type)

    async def job_statuses(self, job_ids: Sequence[str]) -> Mapping[str, str]:
        return await self._reads.job_statuses(job_ids)

    async def machines(self) -> Sequence[Mapping[str, Any]]:
        return await self._reads.machines()

    async def machine(self, machine_name: str) -> Mapping[str, Any] | None:
        return await self._reads.machine(machine_name)

    async def transitions(
        self, *, machine: str | None = None, since: float | None = None, limit: int | None = 100
    ) -> Sequence[Mapping[str, Any]]:
        """Recorded transitions, newest first."""
        return await self._reads.transitions(machine=machine, since=since, limit=limit)

    async def errors(
        self, *, machine: str | None = None, since: float | None = None, limit: int | None = 100
    ) -> Sequence[Mapping[str, Any]]:
        """Recorded errors, newest first."""
        return await self._reads.errors(machine=machine, since=since, limit=limit)

    async def events(
        self, *, target: str | None = None, status: str | None = None, limit: int | None = 100
    ) -> Sequence[Mapping[str, Any]]:
        """Audited events, newest first."""
        return await self._reads.events(target=target, status=status, limit=limit)
