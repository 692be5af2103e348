"""What the runtime and the actions need from a store (SQLite today, PostgreSQL later).

Two halves:

* recording (``machine_started``, ``transition``, ``error``, ...): called from machines on the
  hot path; each call only queues the write and returns at once. A writer task commits the
  queue in batches (group commit).
* the job queue and reads: ``async`` methods; none of them blocks the trio loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    from statemachine_engine.persistence._jobs_sql import NewJob
    from statemachine_engine.persistence._store_durable import DurableLog


@attrs.frozen(hash=False)
class Job:
    """One row of the ``jobs`` table."""

    id: int
    job_id: str
    job_type: str
    machine_type: str | None = None
    priority: int = 5
    data: Mapping[str, Any] = attrs.field(factory=dict)
    status: str = "pending"
    attempts: int = 0
    max_attempts: int = 3
    run_at: float | None = None
    claimed_by: str | None = None
    lease_until: float | None = None
    result: Any = None
    error_message: str | None = None
    source_job_id: str | None = None
    created_at: float | None = None
    started_at: float | None = None
    completed_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The row as actions see it in the context (``current_job``)."""
        row = {name: getattr(self, name) for name in JOB_FIELDS}
        row["data"] = dict(self.data)
        return row

    def started(self, at: float) -> Job:
        """This job handed over to its worker at ``at``: one more attempt."""
        # every field spelled out: twice as fast as a dict of them (a job a transition)
        return Job(
            id=self.id,
            job_id=self.job_id,
            job_type=self.job_type,
            machine_type=self.machine_type,
            priority=self.priority,
            data=self.data,
            status=self.status,
            attempts=self.attempts + 1,
            max_attempts=self.max_attempts,
            run_at=self.run_at,
            claimed_by=self.claimed_by,
            lease_until=self.lease_until,
            result=self.result,
            error_message=self.error_message,
            source_job_id=self.source_job_id,
            created_at=self.created_at,
            started_at=at,
            completed_at=self.completed_at,
        )


#: a job's fields, in order (each is also its ``__init__`` argument)
JOB_FIELDS = tuple(field.name for field in attrs.fields(Job))


@runtime_checkable
class Recorder(Protocol):
    """History and registry writes made by a runtime. Every method returns at once."""

    def machine_started(
        self,
        machine_name: str,
        *,
        current_state: str,
        config_type: str,
        pid: int | None,
        endpoint: str | None,
        timestamp: float,
    ) -> None: ...

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
        """Append to ``state_transitions`` and update the machine's registry row (state, last
        activity, context snapshot; registry updates of one batch are coalesced)."""
        ...

    @property
    def backlogged(self) -> bool:
        """True while the write queue is filling faster than it commits: a machine that
        records should then ``await wait_for_room()`` (backpressure instead of loss)."""
        ...

    async def wait_for_room(self) -> None: ...

    def machine_stopped(self, machine_name: str, *, give_back_jobs: bool = False) -> None:
        """Remove the machine's registry row. With ``give_back_jobs`` (the machine was
        stopped, not finished or crashed), the jobs it holds go back to the queue at once,
        attempt not counted; otherwise their leases lapse and the attempt counts."""
        ...

    def machine_resumed(self, machine_name: str, *, job_id: str | None) -> None:
        """A durable machine resumed from its checkpoint, which says it works on ``job_id``
        (None: no job). Any other job this store handed to ``machine_name`` was handed after
        that checkpoint to the run that died: it goes back to the queue at once, instead of
        being renewed for a machine that does not know it holds it."""
        ...

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
    ) -> None: ...

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
        """Audit one sent event in ``machine_events`` (status: delivered, failed, pending...)."""
        ...

    def activity(
        self,
        machine_name: str,
        *,
        message: str,
        level: str,
        fields: Mapping[str, Any],
        timestamp: float,
    ) -> None:
        """Keep an activity line (a ``log`` action's, a command's output) in
        ``activity_log``: the monitor's history of the machine shows it."""
        ...


@runtime_checkable
class JobQueue(Protocol):
    async def add_job(
        self,
        job_id: str,
        job_type: str,
        *,
        machine_type: str | None = None,
        data: Mapping[str, Any] | None = None,
        priority: int = 5,
        run_at: float | None = None,
        max_attempts: int = 3,
        source_job_id: str | None = None,
    ) -> Job:
        """Raises DuplicateJob. Wakes workers waiting for this machine type."""
        ...

    async def add_jobs(self, new_jobs: Iterable[NewJob]) -> int:
        """Add many jobs in one transaction (all or nothing); returns how many. Raises
        DuplicateJob naming the first id that exists."""
        ...

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
        ``prefetch`` > 0 lets a worker that drains a backlog have up to that many more
        claimed ahead for it, handed over without a schedule point (a caller that loops on
        claims yields on its own). ``lease_seconds`` None: the store's default lease."""
        ...

    async def claim(
        self, job_id: str, *, worker: str, lease_seconds: float | None = None
    ) -> Job | None:
        """Claim one pending job by id; None when it is not pending (or does not exist).
        ``lease_seconds`` None: the store's default lease."""
        ...

    async def wait_for_job(
        self, *, job_type: str | None, machine_type: str | None, within: float
    ) -> bool:
        """Wait until a job for this type may be available (woken on add, no polling in
        process); False when ``within`` seconds pass first."""
        ...

    async def heartbeat(
        self, job_id: str, *, worker: str, lease_seconds: float | None = None
    ) -> bool: ...

    async def complete(
        self, job_id: str, *, result: Any = None, worker: str | None = None
    ) -> Job: ...

    def complete_soon(self, job_id: str, *, worker: str, result: Any = None) -> bool:
        """Queue the completion of a job ``worker`` holds without waiting (it commits with
        the next write); False when ``worker`` does not hold it here."""
        ...

    async def fail(
        self, job_id: str, *, error: str, retry: bool = True, worker: str | None = None
    ) -> Job: ...

    async def get_job(self, job_id: str) -> Job | None: ...

    async def pending_jobs(
        self, *, job_type: str | None, machine_type: str | None, limit: int | None = None
    ) -> Sequence[Job]: ...

    async def job_statuses(self, job_ids: Sequence[str]) -> Mapping[str, str]: ...

    async def wait_until_finished(
        self, job_ids: Sequence[str], *, within: float
    ) -> Mapping[str, str]:
        """Wait until none of ``job_ids`` is pending/processing (woken by completions, no
        polling in process), or ``within`` seconds pass; returns the statuses seen last."""
        ...

    def notify_job_added(self, machine_type: str | None = None) -> None:
        """Wake workers of this process waiting for ``machine_type`` jobs (None: all of
        them): a job was added by another process (the control-socket doorbell)."""
        ...


@runtime_checkable
class Store(Recorder, JobQueue, Protocol):
    """Everything a runtime uses. Implementations also provide registry reads."""

    #: checkpoints, inbox and outbox of durable machines (see ``_store_durable``)
    durable: DurableLog

    async def machines(self) -> Sequence[Mapping[str, Any]]:
        """Registry rows: machine_name, current_state, config_type, pid, endpoint,
        last_activity, context."""
        ...

    async def machine(self, machine_name: str) -> Mapping[str, Any] | None: ...

    async def mark_events_processed(
        self, *, target_machine: str, event_types: Sequence[str] | None = None
    ) -> int:
        """Mark the machine's pending audited events (of these types, or all) processed."""
        ...

    async def flush(self) -> None:
        """Wait until everything recorded so far is committed."""
        ...
