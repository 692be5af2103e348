"""Browse: what the monitor reads from a store, and the operator actions it audits.

One class over two primitives, so that the same reads and writes run on a runtime's store
(its read connections and its writer: ``SqliteStore.browse``) and on a database file seen
from another process (worker threads: :func:`browse_file`). Every operator write appends
an ``audit_log`` row in the same transaction, also when it is refused (the row then holds
the error), and the refusal is raised to the caller afterwards.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, TypeVar

from statemachine_engine.persistence import _audit_sql as audit
from statemachine_engine.persistence import _browse_sql as browse
from statemachine_engine.persistence import _jobs_admin_sql as admin
from statemachine_engine.persistence._job_rows import decode_job
from statemachine_engine.persistence._timeline_sql import KINDS, timeline

T = TypeVar("T")

#: ``read(fn)``: ``fn(conn)`` on a read connection that sees what was committed
Read = Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]
#: ``write(fn)``: ``fn(conn, now)`` in one write transaction
Write = Callable[[Callable[[sqlite3.Connection, float], Any]], Awaitable[Any]]


class Browse:
    """Reads for the monitor and audited operator actions; see the module docstring."""

    def __init__(
        self,
        read: Read,
        write: Write,
        clock: Callable[[], float],
        close: Callable[[], None] | None = None,
    ) -> None:
        self._read = read
        self._write = write
        self._clock = clock
        self._close = close

    def close(self) -> None:
        """Close the connections kept between calls (a PostgreSQL database's); a later
        call opens another."""
        if self._close is not None:
            self._close()

    # -- reads ---------------------------------------------------------------------------

    async def machines(
        self,
        *,
        status: str | None = None,
        q: str | None = None,
        limit: int = 500,
        before: str | None = None,
    ) -> dict[str, Any]:
        """Every machine known (see ``_browse_sql`` for how status is derived), most
        recently active first: ``{"machines", "counts", "next_before"}``."""
        result: dict[str, Any] = await self._read(
            lambda conn: browse.machine_page(conn, status=status, q=q, limit=limit, before=before)
        )
        return result

    async def machine(self, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self._read(lambda conn: browse.one_machine(conn, name))
        return found

    async def history(
        self,
        machine: str | None,
        *,
        kinds: Collection[str] = KINDS,
        limit: int = 50,
        before: str | None = None,
    ) -> dict[str, Any]:
        """Transitions, errors and activity lines of ``machine`` (None: of every machine),
        newest first: ``{"items", "next_before"}``."""
        result: dict[str, Any] = await self._read(
            lambda conn: timeline(conn, machine=machine, kinds=kinds, limit=limit, before=before)
        )
        return result

    async def jobs(
        self,
        *,
        status: str | None = None,
        job_type: str | None = None,
        machine_type: str | None = None,
        q: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> dict[str, Any]:
        """``{"jobs", "counts", "next_before"}``, newest first."""
        result: dict[str, Any] = await self._read(
            lambda conn: admin.job_page(
                conn,
                status=status,
                job_type=job_type,
                machine_type=machine_type,
                q=q,
                limit=limit,
                before=before,
            )
        )
        return result

    async def job(self, job_id: str) -> dict[str, Any] | None:
        def one(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            return decode_job(row) if row else None

        found: dict[str, Any] | None = await self._read(one)
        return found

    async def stats(self, *, minutes: int = 60) -> dict[str, Any]:
        """Jobs completed and failed and the queue depth per minute; transitions per second
        per config over the last minute."""
        now = self._clock()

        def both(conn: sqlite3.Connection) -> dict[str, Any]:
            return {
                "minutes": admin.minute_stats(conn, now=now, minutes=minutes),
                "transitions_per_second": browse.transition_rates(conn, now=now),
            }

        result: dict[str, Any] = await self._read(both)
        return result

    async def search(self, q: str, *, limit: int = 20) -> dict[str, Any]:
        """Machines (name, config, state, job) and jobs (id) matching ``q``."""

        def both(conn: sqlite3.Connection) -> dict[str, Any]:
            machines = browse.machine_page(conn, q=q, limit=limit)["machines"]
            return {"machines": machines, "jobs": admin.search_jobs(conn, q, limit=limit)}

        result: dict[str, Any] = await self._read(both)
        return result

    async def audit_entries(self, *, limit: int = 50, before: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self._read(
            lambda conn: audit.entries(conn, limit=limit, before=before)
        )
        return result

    # -- audited operator actions ----------------------------------------------------------

    async def retry_job(self, job_id: str, *, actor: str) -> dict[str, Any]:
        """A failed job back to pending. Raises JobNotFound, JobStateError (audited)."""
        return await self._audited(
            actor, "retry", job_id, None, lambda c, now: admin.retry_job(c, job_id, now=now)
        )

    async def cancel_job(self, job_id: str, *, actor: str) -> dict[str, Any]:
        """A pending job cancelled. Raises JobNotFound, JobStateError (audited)."""
        return await self._audited(
            actor, "cancel", job_id, None, lambda c, now: admin.cancel_job(c, job_id, now=now)
        )

    async def requeue_job(self, job_id: str, *, actor: str) -> dict[str, Any]:
        """A processing job back to pending. Raises JobNotFound, JobStateError (audited)."""
        return await self._audited(
            actor, "requeue", job_id, None, lambda c, now: admin.requeue_job(c, job_id, now=now)
        )

    async def retry_jobs(
        self,
        *,
        actor: str,
        job_type: str | None = None,
        machine_type: str | None = None,
        q: str | None = None,
    ) -> list[str]:
        """Every failed job matching the filters back to pending; their ids."""
        detail = {"type": job_type, "machine": machine_type, "q": q}
        ids: list[str] = await self._audited(
            actor,
            "bulk-retry",
            None,
            {k: v for k, v in detail.items() if v},
            lambda c, now: admin.retry_failed(
                c, job_type=job_type, machine_type=machine_type, q=q, now=now
            ),
        )
        return ids

    async def audit(
        self,
        *,
        actor: str,
        action: str,
        target: str | None,
        detail: Mapping[str, Any] | None = None,
        result: str = audit.OK,
    ) -> int:
        """Append an entry for an action done elsewhere (an event sent, a machine stopped)."""
        entry: int = await self._write(
            lambda conn, now: audit.record(
                conn,
                actor=actor,
                action=action,
                target=target,
                detail=detail,
                result=result,
                at=now,
            )
        )
        return entry

    async def write(self, fn: Callable[[sqlite3.Connection, float], T]) -> T:
        """``fn(conn, now)`` in one write transaction (not audited: the caller audits)."""
        value: T = await self._write(fn)
        return value

    async def _audited(
        self,
        actor: str,
        action: str,
        target: str | None,
        detail: Mapping[str, Any] | None,
        fn: Callable[[sqlite3.Connection, float], T],
    ) -> T:
        value, error = await self._write(
            lambda conn, now: audit.audited(
                conn, fn, actor=actor, action=action, target=target, detail=detail, now=now
            )
        )
        if error is not None:
            raise error
        return value  # type: ignore[no-any-return]
