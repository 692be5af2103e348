"""What one store knows about the jobs of this process: leases it renews, reserves it hands
over or gives back, wake-ups of waiting workers, and the maintenance task that keeps them.

The bookkeeping (``_leases``, ``_reserve``, ``_wakeups``) knows no SQL; the few writes made
here (give a job back, start a reserved job, renew leases, requeue lapsed ones) go through
the writer as ``_jobs_sql`` statements. The job queue (``_store_jobs``) tells this object
what it claimed and finished; nothing here calls back into the queue.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

import trio

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence import _jobs_sql as jobs
from statemachine_engine.persistence._coalesce import Coalesced
from statemachine_engine.persistence._connections import DatabaseFileGone
from statemachine_engine.persistence._jobs_bulk_sql import JobEnd, start_and_complete
from statemachine_engine.persistence._leases import LeaseBook
from statemachine_engine.persistence._protocol import Job
from statemachine_engine.persistence._reserve import Key, Reserves
from statemachine_engine.persistence._wakeups import Wakeups
from statemachine_engine.persistence._writer import Writer

logger = logging.getLogger(__name__)


class Holdings:
    """The jobs claimed through one store, and the wake-ups of its waiting workers."""

    def __init__(
        self,
        writer: Writer,
        *,
        clock: Callable[[], float],
        lease_seconds: float,
        sweep_interval: float,
        retry_backoff: float,
    ) -> None:
        self._writer = writer
        self._clock = clock
        self.lease_seconds = lease_seconds
        self.sweep_interval = sweep_interval
        self.retry_backoff = retry_backoff
        #: woken when a job becomes pending, by machine type
        self.job_added = Wakeups()
        #: woken when a job completes or fails
        self.job_changed = Wakeups()
        # job_id -> (worker, lease seconds) for claims made through this store
        self._leases = LeaseBook()
        self._reserves = Reserves()
        self._maintenance_due = trio.Event()  # wakes maintenance for an earlier deadline
        #: hand-overs of reserved jobs and completions nobody waits on, written together
        #: (see ``_coalesce``, ``_jobs_bulk_sql``)
        self.job_ends: Coalesced[JobEnd, Any] = Coalesced(writer, start_and_complete)

    @property
    def held(self) -> int:
        """Jobs held by machines of this process."""
        return len(self._leases)

    @property
    def reserved(self) -> int:
        """Jobs claimed ahead and not handed over yet."""
        return len(self._reserves)

    def holder(self, job_id: str) -> str | None:
        """The machine of this process that holds ``job_id``, if any."""
        return self._leases.holder(job_id)

    def holds(self, job_id: str, worker: str, lease_seconds: float) -> None:
        """``worker`` holds ``job_id`` (its lease checked just now): renew it while it runs."""
        self._leases.claimed(job_id, worker, lease_seconds)

    def forget(self, job_id: str) -> None:
        """Stop renewing ``job_id``'s lease."""
        self._leases.forget(job_id)

    # -- machines of this process --------------------------------------------------------

    def machine_started(self, machine_name: str) -> None:
        """Renew the leases of the jobs ``machine_name`` holds while it runs."""
        self._leases.machine_started(machine_name)

    def machine_stopped(self, machine_name: str, *, give_back_jobs: bool) -> None:
        """Stop renewing ``machine_name``'s leases and give back its reserve (with
        ``give_back_jobs``, the jobs it holds too)."""
        self._leases.machine_stopped(machine_name)
        self._release_all(self._reserves.drop_worker(machine_name))
        if give_back_jobs:
            self._give_back_held(machine_name, "was stopped while it held it")

    def machine_resumed(self, machine_name: str, *, keep: str | None) -> None:
        """Give back the jobs ``machine_name`` holds here other than ``keep``, the one its
        checkpoint names: they were handed to the run that died after that checkpoint."""
        self._give_back_held(
            machine_name, "resumed from a checkpoint taken before it was handed the job", keep=keep
        )

    def _give_back_held(self, machine_name: str, why: str, *, keep: str | None = None) -> None:
        for job_id in self._leases.held_by(machine_name):
            if job_id != keep:
                logger.info("job %s goes back to the queue: %s %s", job_id, machine_name, why)
                self._release(job_id, machine_name, None)

    # -- what the queue tells ------------------------------------------------------------

    def became_pending(self, row: Mapping[str, Any]) -> None:
        self.job_added.notify(row.get("machine_type"))

    def claimed(self, rows: list[dict[str, Any]], lease: float) -> None:
        for row in rows:
            self._leases.claimed(row["job_id"], row["claimed_by"], lease)

    def release_rows(self, rows: list[dict[str, Any]]) -> None:
        """Give back claimed jobs their claimer never received (it was cancelled)."""
        for row in rows:
            self._release(row["job_id"], row["claimed_by"], row["machine_type"])

    def finished(self, row: Mapping[str, Any]) -> None:
        """A job completed, failed or came back: forget it, wake who waits for it."""
        self._leases.forget(row["job_id"])
        if row["status"] == "pending":
            self.job_added.notify(row.get("machine_type"))
        self.job_changed.notify()

    # -- claiming ahead ------------------------------------------------------------------

    def ahead(self, key: Key, now: float, prefetch: int) -> int:
        """How many jobs to claim beyond the one asked for (see ``_reserve``)."""
        return self._reserves.ahead(key, now, prefetch)

    def keep(self, key: Key, claimed: list[Job], *, asked: int, now: float) -> None:
        """Keep the jobs claimed ahead for ``key`` (all but the first of ``claimed``)."""
        self._reserves.keep(key, claimed, asked=asked, now=now)
        if len(claimed) > 1:
            self._maintenance_due.set()

    def take_reserved(self, key: Key, now: float) -> Job | None:
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

        def lost(error: BaseException) -> None:
            logger.warning("starting job %s for %s was not written: %s", job_id, worker, error)

        self.job_ends.add((job_id, worker, float(started_at)), after=started, failed=lost)
        return job.started(started_at)

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
                self.job_added.notify(machine_type)

        self._writer.submit(
            lambda conn, now: jobs.release_job(conn, job_id, worker=worker, now=now), after=wake
        )

    # -- maintenance ---------------------------------------------------------------------

    async def requeue_expired(self) -> list[dict[str, Any]]:
        """Put jobs whose lease lapsed back to pending (or failed when attempts are used
        up). Returns what it changed."""

        def after(rows: list[dict[str, Any]]) -> None:
            for row in rows:
                self._leases.forget(row["job_id"])
                if row["error_message"] is None:  # claimed ahead, never started
                    logger.info("job %s: back in the queue (its reserve lapsed)", row["job_id"])
                else:
                    logger.warning(
                        "job %s: %s; now %s", row["job_id"], row["error_message"], row["status"]
                    )
                self.finished(row)

        return await self._writer.request(
            lambda conn, now: jobs.requeue_expired(conn, now=now, backoff=self.retry_backoff),
            after=after,
        )

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

    async def run_maintenance(self) -> None:
        """Renew held leases, requeue lapsed ones and give back lapsed reserves, until
        cancelled. Raises DatabaseFileGone when the database file was deleted or replaced
        (its writes, which check the file every few seconds, found it out): that ends the
        store and so the runtime, instead of writing on into a file nobody reads."""
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
            except DatabaseFileGone:
                raise
            except StoreError as exc:
                # a locked or failing database must not end maintenance: retry next round
                logger.warning("store maintenance failed (will retry): %s", exc)
                next_sweep = max(next_sweep, now + self.sweep_interval)
                next_renew = max(next_renew, now + self._renew_period())

    def closing(self) -> None:
        """Give back every reserve before the writer drains (the store is closing)."""
        self._release_all(self._reserves.drop_all())
