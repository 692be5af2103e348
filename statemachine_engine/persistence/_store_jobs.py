"""The job-queue half of the SQLite store: enqueue, claim, complete and fail through the
writer, and wait for jobs.

Claims and completions are reported to the store's :class:`Holdings` (leases renewed,
reserves handed over from memory, waiting workers woken); see ``_store_holdings``. Jobs
added by other processes are found by a slow poll (``poll_interval``), or at once when the
runtime rings :meth:`SqliteJobs.notify_job_added` (the control-socket doorbell).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import trio

from statemachine_engine.persistence import _jobs_sql as jobs
from statemachine_engine.persistence._codec import dumps
from statemachine_engine.persistence._jobs_sql import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PRIORITY,
    NewJob,
)
from statemachine_engine.persistence._protocol import Job
from statemachine_engine.persistence._reserve import Key
from statemachine_engine.persistence._store_holdings import Holdings
from statemachine_engine.persistence._store_reads import StoreReads, to_job
from statemachine_engine.persistence._writer import Writer

logger = logging.getLogger(__name__)


class SqliteJobs:
    """The job queue of :class:`~statemachine_engine.persistence.SqliteStore`, which
    delegates to it."""

    def __init__(
        self,
        writer: Writer,
        reads: StoreReads,
        holdings: Holdings,
        *,
        clock: Callable[[], float],
        lease_seconds: float,
        poll_interval: float,
        retry_backoff: float,
    ) -> None:
        self._writer = writer
        self._reads = reads
        self._holdings = holdings
        self._clock = clock
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.retry_backoff = retry_backoff

    # -- the queue -----------------------------------------------------------------------

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
        new = NewJob(
            job_id=job_id,
            job_type=job_type,
            machine_type=machine_type,
            data=data,
            priority=priority,
            run_at=run_at,
            max_attempts=max_attempts,
            source_job_id=source_job_id,
        )
        row = await self._writer.request(
            lambda conn, now: jobs.add_job(conn, new, now=now), after=self._holdings.became_pending
        )
        return to_job(row)

    async def add_jobs(self, new_jobs: Iterable[NewJob]) -> int:
        """Add many jobs in one transaction (all or nothing); returns how many.
        Raises DuplicateJob naming the first id that exists."""
        batch = list(new_jobs)
        machine_types = {j.job_type if j.machine_type is None else j.machine_type for j in batch}

        def wake(_count: int) -> None:
            for machine_type in machine_types:
                self._holdings.job_added.notify(machine_type)

        return await self._writer.request(
            lambda conn, now: jobs.add_jobs(conn, batch, now=now), after=wake, weight=len(batch)
        )

    async def claim_next(
        self,
        *,
        job_type: str | None,
        machine_type: str | None,
        worker: str,
        lease_seconds: float | None = None,
        prefetch: int = 0,
    ) -> Job | None:
        """Atomically claim the next due pending job (priority, then run_at, then age).

        ``prefetch``: when ``worker`` keeps coming back for jobs, claim up to that many
        more in the same statement and hand them over from memory on its next calls
        (see ``_reserve``); 0 claims exactly one job per call.

        A job handed over from the reserve returns without a schedule point (cancellation
        is still checked first): a worker takes its next job as part of one step, and the
        machine loop yields to other tasks every ``YIELD_EVERY`` transitions.
        """
        lease = self.lease_seconds if lease_seconds is None else lease_seconds
        key: Key = (worker, job_type, machine_type, lease)
        now = trio.current_time()
        await trio.lowlevel.checkpoint_if_cancelled()
        reserved = self._holdings.take_reserved(key, now)
        if reserved is not None:
            return reserved
        asked = 1 + self._holdings.ahead(key, now, prefetch)
        rows = await self._writer.request(
            lambda conn, now: jobs.claim_many(
                conn,
                job_type=job_type,
                machine_type=machine_type,
                worker=worker,
                now=now,
                lease_seconds=lease,
                limit=asked,
            ),
            after=lambda rows: self._holdings.claimed(rows, lease),
            on_abandon=self._holdings.release_rows,
        )
        claimed = [to_job(row) for row in rows]
        self._holdings.keep(key, claimed, asked=asked, now=trio.current_time())
        return claimed[0] if claimed else None

    async def claim(
        self, job_id: str, *, worker: str, lease_seconds: float | None = None
    ) -> Job | None:
        """Claim one pending job by id; None when it is not pending (or does not exist)."""
        lease = self.lease_seconds if lease_seconds is None else lease_seconds
        rows = await self._writer.request(
            lambda conn, now: _listed(
                jobs.claim_job(conn, job_id, worker=worker, now=now, lease_seconds=lease)
            ),
            after=lambda rows: self._holdings.claimed(rows, lease),
            on_abandon=self._holdings.release_rows,
        )
        return to_job(rows[0]) if rows else None

    async def heartbeat(
        self, job_id: str, *, worker: str, lease_seconds: float | None = None
    ) -> bool:
        """Extend the lease of a job ``worker`` holds; False when it lost it. From then on
        the store renews it while ``worker`` runs here (a durable machine resumed with its
        job takes the job's lease back this way)."""
        lease = self.lease_seconds if lease_seconds is None else lease_seconds
        held = await self._writer.request(
            lambda conn, now: jobs.heartbeat(
                conn, job_id, worker=worker, now=now, lease_seconds=lease
            )
        )
        if held:
            self._holdings.holds(job_id, worker, lease)
        return held

    async def complete(self, job_id: str, *, result: Any = None, worker: str | None = None) -> Job:
        """Mark a job completed (only if ``worker`` still holds it, when given).
        Raises JobNotFound, StoreError."""
        row = await self._writer.request(
            lambda conn, now: jobs.complete_job(
                conn, job_id, now=now, result=result, worker=worker
            ),
            after=self._holdings.finished,
        )
        return to_job(row)

    def complete_soon(self, job_id: str, *, worker: str, result: Any = None) -> bool:
        """Queue the completion of a job ``worker`` holds through this store, without
        waiting: it commits with the store's next batch (within the record delay, or with
        the next write somebody waits for). ``result`` is encoded now. Returns False,
        queueing nothing, when this store did not hand ``job_id`` to ``worker`` or the
        write queue cannot take it: call :meth:`complete` then.

        If the write fails (the worker lost the job meanwhile, or the database), the job
        is no longer renewed for ``worker``: its lease lapses and it runs again (the queue
        is at-least-once)."""
        if self._holdings.holder(job_id) != worker:
            return False
        encoded = dumps(result)

        def failed(error: BaseException) -> None:
            self._holdings.forget(job_id)
            logger.warning(
                "completing job %s for %s failed (%s); unless another worker has finished "
                "it, it runs again once its lease lapses",
                job_id,
                worker,
                error,
            )

        return self._holdings.job_ends.add(
            (job_id, worker, encoded), after=self._holdings.finished, failed=failed
        )

    async def fail(
        self, job_id: str, *, error: str, retry: bool = True, worker: str | None = None
    ) -> Job:
        """Record a failed attempt: back to pending after a backoff while attempts are left
        (and ``retry``), else failed. Raises JobNotFound, StoreError."""
        row = await self._writer.request(
            lambda conn, now: jobs.fail_job(
                conn,
                job_id,
                error=error,
                now=now,
                retry=retry,
                backoff=self.retry_backoff,
                worker=worker,
            ),
            after=self._holdings.finished,
        )
        return to_job(row)

    async def requeue_expired(self) -> list[dict[str, Any]]:
        """Put jobs whose lease lapsed back to pending (or failed when attempts are used
        up); the sweeper calls this every ``sweep_interval``. Returns what it changed."""
        return await self._holdings.requeue_expired()

    async def wait_for_job(
        self, *, job_type: str | None, machine_type: str | None, within: float
    ) -> bool:
        """Wait until a matching job may be claimable: woken by an add in this process, by
        the earliest pending job falling due, or by the slow poll. False when ``within``
        seconds pass first."""
        if within <= 0:
            await trio.lowlevel.checkpoint()
            return False
        event = self._holdings.job_added.event(machine_type)  # before looking: no lost wake-up
        due = await self._reads.read(
            lambda conn: jobs.next_due(conn, job_type=job_type, machine_type=machine_type)
        )
        wake_in = min(within, self.poll_interval)
        if due is not None:
            delay = due - self._clock()
            if delay <= 0:
                return True
            wake_in = min(wake_in, delay)
        with trio.move_on_after(wake_in):
            await event.wait()
            return True
        return wake_in < within

    async def wait_until_finished(
        self, job_ids: Sequence[str], *, within: float
    ) -> Mapping[str, str]:
        """Wait until none of ``job_ids`` is pending or processing (a job that does not
        exist counts as pending: it may be added later), or ``within`` seconds pass.

        Woken by completions and failures in this process; jobs finished by other
        processes are noticed by the slow poll. Returns the statuses seen last.
        """
        ids = [str(job_id) for job_id in job_ids]
        deadline = trio.current_time() + max(within, 0.0)
        while True:
            changed = self._holdings.job_changed.event()  # before reading: no lost wake-up
            statuses = await self._reads.job_statuses(ids)
            if all(statuses.get(job_id) in ("completed", "failed") for job_id in ids):
                return statuses
            remaining = deadline - trio.current_time()
            if remaining <= 0:
                return statuses
            with trio.move_on_after(min(remaining, self.poll_interval)):
                await changed.wait()

    def notify_job_added(self, machine_type: str | None = None) -> None:
        """Wake workers waiting for ``machine_type`` (None: every waiter). The hook for
        jobs added by other processes (the control-socket doorbell)."""
        self._holdings.job_added.notify(machine_type)


def _listed(row: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A claim of one job as a claim of many (no row: none)."""
    return [row] if row is not None else []
