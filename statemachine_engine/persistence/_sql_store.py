"""SqlStore: the runtime's store over connections to a SQL database, under trio.

What SQLite's store (``SqliteStore``) and PostgreSQL's (``PostgresStore``) share: their
parts never touch a connection themselves, they hand the connections (``_connections`` or
``_pg_connections``) functions over the shared SQL. The store is made of three parts it
holds and delegates to, and it runs their tasks:

* recording (this module): ``machine_started``, ``transition``, ... only queue a typed
  record (``_records``) for the writer (``_writer``), which commits in batches;
* the job queue (``_store_jobs``), with the bookkeeping of the jobs this process holds:
  leases renewed, reserves claimed ahead, wake-ups, maintenance (``_store_holdings``);
* the reads (``_store_reads``), on their own connections in worker threads.

The job queue's and the reads' methods are :class:`~._store_queue.QueueFace`'s. No lock
wait, checkpoint or read blocks the trio loop. :meth:`SqlStore.running` runs the writer and
the maintenance task; :func:`~statemachine_engine.persistence.open_store` opens the
connections and enters it.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import trio

from statemachine_engine.persistence import _records_sql as records
from statemachine_engine.persistence._codec import dumps_payload
from statemachine_engine.persistence._connections import Connections
from statemachine_engine.persistence._protocol import Store
from statemachine_engine.persistence._records import (
    ErrorRecord,
    EventRecord,
    StartRecord,
    StopRecord,
    transition_record,
)
from statemachine_engine.persistence._store_browse import RunLog, store_browse
from statemachine_engine.persistence._store_durable import DurableLog
from statemachine_engine.persistence._store_holdings import Holdings
from statemachine_engine.persistence._store_jobs import SqliteJobs
from statemachine_engine.persistence._store_queue import QueueFace
from statemachine_engine.persistence._store_reads import StoreReads
from statemachine_engine.persistence._writer import Writer

if TYPE_CHECKING:
    from statemachine_engine.persistence._browse import Browse


class SqlStore(QueueFace):
    """The :class:`~statemachine_engine.persistence.Store` over SQL connections: the base
    of :class:`SqliteStore` and :class:`PostgresStore`. Use :func:`open_store`."""

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
        host: str | None = None,
    ) -> None:
        self._connections = connections
        self._clock = clock
        #: the host written in the registry rows of this runtime's machines
        self.host = host
        self._writer = Writer(connections, clock=clock, capacity=queue_size)
        self._reads = StoreReads(connections, self._writer)
        #: checkpoints, inbox and outbox of durable machines
        self.durable = DurableLog(self._writer, clock=clock)
        self._runs = RunLog(self._writer)
        self._holdings = Holdings(
            self._writer,
            clock=clock,
            lease_seconds=lease_seconds,
            sweep_interval=sweep_interval,
            retry_backoff=retry_backoff,
        )
        self._jobs = SqliteJobs(
            self._writer,
            self._reads,
            self._holdings,
            clock=clock,
            lease_seconds=lease_seconds,
            poll_interval=poll_interval,
            retry_backoff=retry_backoff,
        )

    @functools.cached_property
    def browse(self) -> Browse:
        """The monitor's reads and the audited operator actions (see ``_browse``), made
        on first use (a runtime that serves no monitor never imports them)."""
        return store_browse(self._reads.read_fresh, self._writer, self._clock)

    @asynccontextmanager
    async def running(self, *, close_timeout: float) -> AsyncIterator[SqlStore]:
        """Run the writer and the maintenance task while the block runs.

        On exit, maintenance is cancelled first, reserves go back to the queue, then what
        is queued is written: for at most ``close_timeout`` seconds, even when the block
        was cancelled (the writer is shielded until that deadline).
        """
        async with trio.open_nursery() as nursery:
            maintenance = trio.CancelScope()
            try:
                # inside the try: cancelled while it starts, the shielded writer is still
                # told to close (else the nursery waits for it for ever)
                await nursery.start(self._writer.run)
                nursery.start_soon(_cancellable, self._holdings.run_maintenance, maintenance)
                yield self
            finally:
                maintenance.cancel()
                self._holdings.closing()
                self._writer.close(timeout=close_timeout)

    def crash(self) -> None:
        """Stop writing as kill -9 of the process would: writes queued and not yet committed
        are lost. For tests of what a restart resumes from; the store is unusable after."""
        self._writer.abandon()

    @property
    def path(self) -> str:
        return self._connections.path

    @property
    def lease_seconds(self) -> float:
        """The lease of a claim that names none."""
        return self._jobs.lease_seconds

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
            "held_jobs": self._holdings.held,
            "reserved_jobs": self._holdings.reserved,
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
        self._holdings.machine_started(machine_name)
        self._runs.started(machine_name, config_type=config_type, pid=pid, timestamp=timestamp)
        self._writer.record(
            StartRecord(
                machine_name, current_state, config_type, pid, endpoint, timestamp, self.host
            )
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
            transition_record((machine_name, from_state, to_state, event, timestamp, context))
        )

    def machine_stopped(self, machine_name: str, *, give_back_jobs: bool = False) -> None:
        self._holdings.machine_stopped(machine_name, give_back_jobs=give_back_jobs)
        self._runs.ended(machine_name, stopped=give_back_jobs)  # before the row goes
        self._writer.record(StopRecord(machine_name))

    def machine_resumed(self, machine_name: str, *, job_id: str | None) -> None:
        self._holdings.machine_resumed(machine_name, keep=job_id)

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
            ErrorRecord(machine_name, state, action, message, traceback, job_id, timestamp)
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
            EventRecord(
                source_machine,
                target_machine,
                event_type,
                job_id,
                dumps_payload(payload),
                status,
                self._clock(),
            )
        )

    def activity(
        self, machine_name: str, *, message: str, level: str, fields: Mapping[str, Any],
        timestamp: float,
    ) -> None:  # fmt: skip
        """Keep an activity line (``activity_log``) for the monitor's backfill."""
        self._runs.activity(
            machine_name, message=message, level=level, fields=fields, timestamp=timestamp
        )

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

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        await self._reads.flush()


async def _cancellable(fn: Callable[[], Any], scope: trio.CancelScope) -> None:
    # The maintenance loop runs inside ``scope`` so closing the store cancels only it,
    # never the writer that must drain.
    with scope:
        await fn()


if TYPE_CHECKING:

    def _is_a_store(store: SqlStore) -> Store:
        return store  # mypy proves here that the signatures match the protocol
