"""PostgresStore: the runtime's store on a PostgreSQL database shared by several hosts.

It is the SQL store's machinery (``SqlStore``, which SQLite's store shares) -- the writer
with its group commit, the job queue with its leases, reserves, wake-ups and maintenance,
the reads, the durable log -- running on PostgreSQL connections (``_pg_connections``)
instead of SQLite's: those parts never touch a connection themselves, they hand it
functions over the shared SQL. What PostgreSQL adds:

* claims skip the rows other hosts are claiming (``FOR UPDATE SKIP LOCKED``), so two
  workers anywhere never get the same job;
* a job added anywhere wakes the workers waiting for it everywhere: NOTIFY with the adding
  commit, heard by a listener thread (``_pg_notices``); the poll stays as the fallback;
* a connection lost while running is retried (writes wait, bounded by the write queue):
  :attr:`PostgresStore.connection` says how it fares, for ``/health``.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence._dialect import JOBS_CHANNEL
from statemachine_engine.persistence._jobs_sql import DEFAULT_LEASE_SECONDS, DEFAULT_RETRY_BACKOFF
from statemachine_engine.persistence._paths import host_name
from statemachine_engine.persistence._pg_connect import connect, display_url, why_schema_failed
from statemachine_engine.persistence._pg_connections import PgConnections
from statemachine_engine.persistence._pg_notices import Notices
from statemachine_engine.persistence._pg_schema import ensure_schema
from statemachine_engine.persistence._sql_store import SqlStore


class PostgresStore(SqlStore):
    """The :class:`~statemachine_engine.persistence.Store` on PostgreSQL. Use
    :func:`~statemachine_engine.persistence.open_store` with a ``postgresql://`` URL."""

    _pg: PgConnections
    _listener: Notices | None = None

    @property
    def connection(self) -> dict[str, Any]:
        """How the database connection fares: ``connected``, ``waiting_since`` (epoch
        seconds; None unless writes wait for a lost server), ``retries``, ``last_error``,
        ``queued`` (writes waiting to be committed), ``notifications`` (heard)."""
        status = self._pg.status
        return {
            "connected": status.connected,
            "waiting_since": status.waiting_since,
            "retries": status.retries,
            "last_error": status.last_error,
            "queued": self._writer.unwritten,
            "notifications": self._listener.received if self._listener else 0,
        }

    def jobs_heard(self, machine_types: set[str | None]) -> None:
        """Jobs were added on some host (the listener's burst of ``statemachine_jobs``
        payloads): wake the workers waiting for those machine types -- every worker for
        ``None`` (notifications may have been missed) or an empty type (a job without)."""
        if None in machine_types or "" in machine_types:
            self.notify_job_added(None)
            return
        for machine_type in machine_types:
            self.notify_job_added(machine_type)

    def statistics(self) -> dict[str, int]:
        """The writer's counters, plus transactions run again after a lost connection."""
        return super().statistics() | {"retries": self._pg.status.retries}


@asynccontextmanager
async def open_postgres_store(
    url: str,
    *,
    clock: Callable[[], float] = time.time,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    poll_interval: float = 5.0,
    sweep_interval: float = 5.0,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF,
    queue_size: int = 100_000,
    close_timeout: float = 10.0,
    synchronous: str = "normal",
    host: str | None = None,
    listen: bool = True,
) -> AsyncIterator[PostgresStore]:
    """Open the store in the PostgreSQL database at ``url``: connected, checked (server
    version, rights) and its schema created or migrated; StoreError with one line saying
    what is wrong otherwise. ``synchronous="full"`` makes every commit wait for the
    server's disk (``synchronous_commit = on``) whatever the server's default.
    ``listen=False``: no listener thread (workers of this process still wake each other)."""
    if lease_seconds <= 0 or not math.isfinite(lease_seconds):
        raise ValueError(f"lease_seconds must be a positive number, got {lease_seconds}")
    shown = display_url(url)
    writer = await trio.to_thread.run_sync(_open_writer, url, shown, synchronous)
    connections = PgConnections(url, shown, writer)
    store = PostgresStore(
        connections,  # the same interface, on psycopg
        clock=clock,
        lease_seconds=lease_seconds,
        poll_interval=poll_interval,
        sweep_interval=sweep_interval,
        retry_backoff=retry_backoff,
        queue_size=queue_size,
        host=host or host_name(),
    )
    store._pg = connections
    try:
        async with store.running(close_timeout=close_timeout):
            try:
                if listen:
                    store._listener = Notices(url, [JOBS_CHANNEL], store.jobs_heard)
                    await store._listener.start()
                yield store
            finally:
                if store._listener is not None:
                    await store._listener.stop()
    finally:
        connections.close()


def _open_writer(url: str, shown: str, synchronous: str) -> Any:
    conn = connect(url)
    try:
        try:
            ensure_schema(conn)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(why_schema_failed(exc, shown)) from None
        if synchronous == "full":
            conn.execute("SET synchronous_commit = on")
            conn.commit()
    except BaseException:
        conn.close()
        raise
    return conn
