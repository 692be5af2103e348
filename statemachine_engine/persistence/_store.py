"""SqliteStore: the runtime's store on SQLite (a file, or ``:memory:``), under trio.

Writes go through one writer task (group commit, see ``_writer``), on the trio thread while
SQLite's lock is free and in the write connection's thread when they must wait for it (see
``_connections``); reads run on their own connections in worker threads (inline for
``:memory:``). No lock wait, checkpoint or read blocks the trio loop.

Leases: a claim holds a job for ``lease_seconds``. The store renews, every third of a
lease, the jobs it handed to machines still registered as running through
:meth:`SqliteStore.machine_started` (and not yet stopped), so an action does not have to
stay alive to heartbeat. A machine that stops or crashes, or a process that dies, stops the
renewals; its job's lease lapses and the sweeper puts the job back (counting the attempt).
Callers that never register a machine (scripts) call :meth:`SqliteStore.heartbeat`.

Claiming ahead: a worker that drains a backlog may have jobs claimed for it ahead of its
asking (``prefetch``), handed over from memory; see ``_reserve``.

Wake-ups: workers waiting in this process are woken when a job is added (or comes back);
jobs added by other processes are found by a slow poll (``poll_interval``), or at once when
the runtime rings :meth:`SqliteStore.notify_job_added` (the control-socket doorbell).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import attrs
import trio

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence import _jobs_sql as jobs
from statemachine_engine.persistence import _records_sql as records
from statemachine_engine.persistence._codec import dumps, dumps_payload
from statemachine_engine.persistence._connections import Connections
from statemachine_engine.persistence._jobs_sql import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PRIORITY,
    NewJob,
)
from statemachine_engine.persistence._leases import LeaseBook
from statemachine_engine.persistence._protocol import Job
from statemachine_engine.persistence._reserve import Key, Reserves
from statemachine_engine.persistence._store_reads import StoreReads, to_job
from statemachine_engine.persistence._wakeups import Wakeups
from statemachine_engine.persistence._writer import Writer

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SqliteStore(StoreReads):
    """The :class:`~statemachine_engine.persistence.Store` on SQLite. Use :func:`open_store`."""

    def __init__(
        self,
        connections: Connections,
        *,
        clock: Callable[[], float],
        lease_seconds: float,
        poll_interval: float,
        sweep_interval: float,
        retry_backoff: float,
        queue_size: int,
    ) -> None:
        self._connections = connections
        self._clock = clock
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.sweep_interval = sweep_interval
        self.retry_backoff = retry_backoff
        self._writer = Writer(connections, clock=clock, capacity=queue_size)
        self._job_added = Wakeups()
        self._job_changed = Wakeups()
        # job_id -> (worker, lease seconds) for claims made through this store
        self._leases = LeaseBook()
        self._reserves = Reserves()
        self._maintenance_due = trio.Event()  # wakes maintenance for an earlier deadline

    @property
    def path(self) -> str:
        return self._connections.path

    @property
    def backlogged(self) -> bool:
        """Whether recorders should pause: the write queue is more than half full."""
        return self._writer.backlogged

    async def wait_for_room(self) -> None:
        """Wait until the write queue has drained to a quarter (see :attr:`backlogged`)."""
        await self._writer.wait_for_room()

    @property
    def dropped(self) -> int:
        """History records dropped because the write queue was full (or the store closed)."""
        return self._writer.dropped

    def statistics(self) -> dict[str, int]:
        """Writer counters: batches committed, operations written, records dropped/failed,
        jobs held by machines of this process."""
        w = self._writer
        return {
            "batches": w.batches,
            "written": w.written,
            "dropped": w.dropped,
            "failed": w.failed,
            "held_jobs": len(self._leases),
            "reserved_jobs": len(self._reserves),
        }

    # -- Recorder: queue and return at once ----------------------------------------------

    def machine_started(
        self,
        machine_name: str,
        *,
        current_state: str,
        config_type: str,
        pid: int | None,
        endpoint: str | None,
        timestamp: float,
    ) -> None:
        self._leases.machine_started(machine_name)
        self._writer.record(
            ("start", machine_name, current_state, config_type, pid, endpoint, timestamp)
        )

    def transition(
        self,
        machine_name: str,
        *,
        from_state: str,
        to_state: str,
        event: str,
        timestamp: float,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        # The live context is kept, not copied: the writer serialises the last one of each
        # machine when it commits (on the trio thread), which is the freshest snapshot.
        self._writer.record(
            ("trans", machine_name, from_state, to_state, event, timestamp, context)
        )

    def machine_stopped(self, machine_name: str, *, give_back_jobs: bool = False) -> None:
        self._leases.machine_stopped(machine_name)
        self._release_all(self._reserves.drop_worker(machine_name))
        if give_back_jobs:
            for job_id in self._leases.held_by(machine_name):
                logger.info(
                    "job %s goes back to the queue: %s was stopped while it held it",
                    job_id,
                    machine_name,
                )
                self._release(job_id, machine_name, None)
        self._writer.record(("stop", machine_name))

    def error(
        self,
        machine_name: str,
        *,
        state: str | None,
        action: str | None,
        message: str,
        traceback: str | None,
        timestamp: float,
        job_id: str | None = None,
    ) -> None:
        self._writer.record(
            ("error", machine_name, state, action, message, traceback, job_id, timestamp)
        )

    def event_sent(
        self,
        *,
        source_machine: str | None,
        target_machine: str,
        event_type: str,
        payload: Any,
        job_id: str | None,
        status: str,
    ) -> None:
        self._writer.record(
            (
                "event",
                source_machine,
                target_machine,
                event_type,
                job_id,
                dumps_payload(payload),
                status,
                self._clock(),
            )
        )

    # -- job queue -----------------------------------------------------------------------

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
            lambda conn, now: jobs.add_job(conn, new, now=now), after=self._became_pending
        )
        return to_job(row)

    async def add_jobs(self, new_jobs: Iterable[NewJob]) -> int:
        """Add many jobs in one transaction (all or nothing); returns how many.
        Raises DuplicateJob naming the first id that exists."""
        batch = list(new_jobs)
        machine_types = {j.job_type if j.machine_type is None else j.machine_type for j in batch}

        def wake(_count: int) -> None:
            for machine_type in machine_types:
                self._job_added.notify(machine_type)

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
        """
        lease = self.lease_seconds if lease_seconds is None else lease_seconds
        key: Key = (worker, job_type, machine_type, lease)
        now = trio.current_time()
        await trio.lowlevel.checkpoint_if_cancelled()
        reserved = self._take_reserved(key, now)
        if reserved is not None:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return reserved
        asked = 1 + self._reserves.ahead(key, now, prefetch)
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
            after=lambda rows: self._claimed(rows, lease),
            on_abandon=self._release_rows,
        )
        claimed = [to_job(row) for row in rows]
        self._reserves.keep(key, claimed, asked=asked, now=trio.current_time())
        if len(claimed) > 1:
            self._maintenance_due.set()
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
            after=lambda rows: self._claimed(rows, lease),
            on_abandon=self._release_rows,
        )
        return to_job(rows[0]) if rows else None

    async def heartbeat(
        self, job_id: str, *, worker: str, lease_seconds: float | None = None
    ) -> bool:
        """Extend the lease of a job ``worker`` holds; False when it lost it."""
        lease = self.lease_seconds if lease_seconds is None else lease_seconds
        return await self._writer.request(
            lambda conn, now: jobs.heartbeat(
                conn, job_id, worker=worker, now=now, lease_seconds=lease
            )
        )

    async def complete(self, job_id: str, *, result: Any = None, worker: str | None = None) -> Job:
        """Mark a job completed (only if ``worker`` still holds it, when given).
        Raises JobNotFound, StoreError."""
        row = await self._writer.request(
            lambda conn, now: jobs.complete_job(
                conn, job_id, now=now, result=result, worker=worker
            ),
            after=self._finished,
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
        if self._leases.holder(job_id) != worker:
            return False
        encoded = dumps(result)

        def failed(error: BaseException) -> None:
            self._leases.forget(job_id)
            logger.warning(
                "completing job %s for %s failed (%s); unless another worker has finished "
                "it, it runs again once its lease lapses",
                job_id,
                worker,
                error,
            )

        return self._writer.submit(
            lambda conn, now: jobs.complete_job(
                conn, job_id, now=now, worker=worker, result_json=encoded
            ),
            after=self._finished,
            failed=failed,
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
            after=self._finished,
        )
        return to_job(row)

    async def requeue_expired(self) -> list[dict[str, Any]]:
        """Put jobs whose lease lapsed back to pending (or failed when attempts are used
        up); the sweeper calls this every ``sweep_interval``. Returns what it changed."""

        def after(rows: list[dict[str, Any]]) -> None:
            for row in rows:
                self._leases.forget(row["job_id"])
                if row["error_message"] is None:  # claimed ahead, never started
                    logger.info("job %s: back in the queue (its reserve lapsed)", row["job_id"])
                else:
                    logger.warning(
                        "job %s: %s; now %s", row["job_id"], row["error_message"], row["status"]
                    )
                self._finished(row)

        return await self._writer.request(
            lambda conn, now: jobs.requeue_expired(conn, now=now, backoff=self.retry_backoff),
            after=after,
        )

    async def wait_for_job(
        self, *, job_type: str | None, machine_type: str | None, within: float
    ) -> bool:
        """Wait until a matching job may be claimable: woken by an add in this process, by
        the earliest pending job falling due, or by the slow poll. False when ``within``
        seconds pass first."""
        if within <= 0:
            await trio.lowlevel.checkpoint()
            return False
        event = self._job_added.event(machine_type)  # before looking: no lost wake-up
        due = await self._read(
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
            changed = self._job_changed.event()  # before reading: no lost wake-up
            statuses = await self.job_statuses(ids)
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
        self._job_added.notify(machine_type)

    async def mark_events_processed(
        self, *, target_machine: str, event_types: Sequence[str] | None = None
    ) -> int:
        """Mark ``target_machine``'s pending audited events (of ``event_types``, or all)
        processed; returns how many."""
        types = list(event_types) if event_types else None
        return await self._writer.request(
            lambda conn, now: records.mark_events_processed(
                conn, target=target_machine, event_types=types, now=now
            )
        )

    # -- internals -----------------------------------------------------------------------

    def _became_pending(self, row: Mapping[str, Any]) -> None:
        self._job_added.notify(row.get("machine_type"))

    def _claimed(self, rows: list[dict[str, Any]], lease: float) -> None:
        for row in rows:
            self._leases.claimed(row["job_id"], row["claimed_by"], lease)

    def _release_rows(self, rows: list[dict[str, Any]]) -> None:
        # the claimer was cancelled before it saw the jobs
        for row in rows:
            self._release(row["job_id"], row["claimed_by"], row["machine_type"])

    def _take_reserved(self, key: Key, now: float) -> Job | None:
        """The next job of ``key``'s reserve that its worker still holds, started (the
        attempt and ``started_at`` are written with the next batch); None when none is
        left. Jobs it lost meanwhile (lease renewal refused, requeued) are skipped."""
        worker = key[0]
        while (job := self._reserves.take(key, now)) is not None:
            if self._leases.holder(job.job_id) == worker:
                break
        else:
            return None
        job_id, started_at = job.job_id, self._clock()

        def started(ok: bool) -> None:
            if not ok:
                logger.warning(
                    "job %s was claimed ahead for %s but is no longer its", job_id, worker
                )

        self._writer.submit(
            lambda conn, now: jobs.start_reserved(
                conn, job_id, worker=worker, now=now, started_at=started_at
            ),
            after=started,
        )
        return attrs.evolve(job, attempts=job.attempts + 1, started_at=started_at)

    def _release_all(self, reserved: list[Job]) -> None:
        """Give reserved jobs back to the queue (nobody started them)."""
        for job in reserved:
            if job.claimed_by is not None:  # always: it was claimed for its worker
                self._release(job.job_id, job.claimed_by, job.machine_type)

    def _release(self, job_id: str, worker: str, machine_type: str | None) -> None:
        """Give back a job nobody started, or whose run its machine's stop interrupted:
        pending again, attempt not counted (``machine_type`` None wakes every waiter)."""
        self._leases.forget(job_id)

        def wake(released: bool) -> None:
            if released:
                self._job_added.notify(machine_type)

        self._writer.submit(
            lambda conn, now: jobs.release_job(conn, job_id, worker=worker, now=now), after=wake
        )

    def _finished(self, row: Mapping[str, Any]) -> None:
        self._leases.forget(row["job_id"])
        if row["status"] == "pending":
            self._job_added.notify(row.get("machine_type"))
        self._job_changed.notify()

    async def _renew_leases(self) -> None:
        held = self._leases.due()
        if not held:
            return

        def renew(conn: sqlite3.Connection, now: float) -> list[str]:
            return [
                job_id
                for job_id, worker, lease in held
                if not jobs.heartbeat(conn, job_id, worker=worker, now=now, lease_seconds=lease)
            ]

        def forget(lost: list[str]) -> None:
            for job_id in lost:
                self._leases.forget(job_id)

        await self._writer.request(renew, after=forget)

    def _renew_period(self) -> float:
        return self._leases.period(self.lease_seconds)

    async def _run_maintenance(self) -> None:
        """Renew held leases, requeue lapsed ones and give back lapsed reserves, until
        cancelled."""
        next_sweep = trio.current_time() + self.sweep_interval
        next_renew = trio.current_time() + self._renew_period()
        while True:
            wake = min(next_sweep, next_renew, self._reserves.next_expiry())
            with trio.move_on_at(wake):
                await self._maintenance_due.wait()
            self._maintenance_due = trio.Event()
            now = trio.current_time()
            self._release_all(self._reserves.expired(now))
            try:
                if now >= next_renew:
                    await self._renew_leases()
                    next_renew = now + self._renew_period()
                if now >= next_sweep:
                    await self.requeue_expired()
                    next_sweep = now + self.sweep_interval
            except StoreError as exc:
                # a locked or failing database must not end maintenance: retry next round
                logger.warning("store maintenance failed (will retry): %s", exc)
                next_sweep = max(next_sweep, now + self.sweep_interval)
                next_renew = max(next_renew, now + self._renew_period())

    def _closing(self) -> None:
        """Give back every reserve before the writer drains (the store is closing)."""
        self._release_all(self._reserves.drop_all())


def _listed(row: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A claim of one job as a claim of many (no row: none)."""
    return [row] if row is not None else []
