"""Where :class:`~statemachine_engine.persistence.Browse` runs, and what a runtime's store
records for it.

* :class:`RunLog`: the SQLite store's records of machine runs (started, ended: how) and of
  activity lines, queued for its writer like every history write (never waited for).
* :func:`store_browse`: a ``Browse`` on a store's own read connections and writer.
* :func:`browse_file`: a ``Browse`` on a database from another process (the monitor), each
  call in a worker thread. A SQLite file: a connection of its own per call; a file that
  does not exist yet reads as an empty database and is not created by a read (only a write
  creates it). A ``postgresql://`` URL: connections kept for the next call (opening one
  costs a round trip or more), the schema created or brought forward by the first.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from statemachine_engine.persistence import _browse_sql as browse
from statemachine_engine.persistence._paths import MEMORY, is_db_url
from statemachine_engine.persistence._schema import connect, transaction
from statemachine_engine.persistence._timeline_sql import insert_activity
from statemachine_engine.persistence._writer import Writer

if TYPE_CHECKING:
    # (imported where a Browse is made: a runtime's start needs none)
    from statemachine_engine.persistence._browse import Browse

T = TypeVar("T")


class RunLog:
    """Run and activity records of a SQLite store, written by its writer in batches."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    def started(
        self, machine: str, *, config_type: str | None, pid: int | None, timestamp: float
    ) -> None:
        self._writer.submit(
            lambda conn, now: browse.start_run(
                conn, machine, config_type=config_type, pid=pid, timestamp=timestamp
            )
        )

    def ended(self, machine: str, *, stopped: bool) -> None:
        """Queue before the registry row's removal: the job it held is read from it."""
        self._writer.submit(
            lambda conn, now: browse.end_run(conn, machine, stopped=stopped, now=now)
        )

    def activity(
        self,
        machine: str,
        *,
        message: str,
        level: str,
        fields: Mapping[str, Any],
        timestamp: float,
    ) -> None:
        extra = {k: v for k, v in fields.items() if k != "job_id"}
        job = fields.get("job_id")
        text = json.dumps(extra, separators=(",", ":"), default=str) if extra else None
        self._writer.submit(
            lambda conn, now: insert_activity(
                conn,
                machine,
                message=message,
                level=level,
                job_id=str(job) if job is not None else None,
                fields=text,
                timestamp=timestamp,
            )
        )


def store_browse(
    read_fresh: Callable[[Callable[[sqlite3.Connection], Any]], Any],
    writer: Writer,
    clock: Callable[[], float],
) -> Browse:
    """A Browse of a runtime's store: reads that see its queued writes, writes by its writer."""

    async def write(fn: Callable[[sqlite3.Connection, float], T]) -> T:
        return await writer.request(fn)

    from statemachine_engine.persistence._browse import Browse

    return Browse(read_fresh, write, clock)


def browse_file(path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time) -> Browse:
    """A Browse of the database at ``path`` (a SQLite file or a ``postgresql://`` URL) for
    a process that does not own it."""
    name = os.fspath(path)
    if is_db_url(name):
        return _browse_url(name, clock)

    def open_for_read() -> sqlite3.Connection:
        # a missing file reads as a new, empty database, without creating it
        return connect(name if os.path.exists(name) else MEMORY)

    async def read(fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            conn = open_for_read()
            try:
                return fn(conn)
            finally:
                conn.close()

        return await trio.to_thread.run_sync(run)

    async def write(fn: Callable[[sqlite3.Connection, float], T]) -> T:
        def run() -> T:
            conn = connect(name)
            try:
                with transaction(conn):
                    return fn(conn, clock())
            finally:
                conn.close()

        return await trio.to_thread.run_sync(run)

    from statemachine_engine.persistence._browse import Browse

    return Browse(read, write, clock)


def _browse_url(url: str, clock: Callable[[], float]) -> Browse:
    """A Browse of the PostgreSQL database at ``url``: each call on a connection taken from
    those kept idle (a new one when none is), in autocommit as a file's connection is;
    ``Browse.close`` closes the idle ones."""
    from statemachine_engine.persistence._pg_commands import connect_postgres

    idle: list[Any] = []
    lock = threading.Lock()
    migrated = False

    def run_on_connection(fn: Callable[[Any], T]) -> T:
        nonlocal migrated
        with lock:
            conn = idle.pop() if idle else None
        if conn is None:
            conn = connect_postgres(url, migrate=not migrated)
            migrated = True
        try:
            result = fn(conn)
        except BaseException:
            conn.close()  # perhaps lost, or mid-transaction: the next call opens another
            raise
        with lock:
            idle.append(conn)
        return result

    async def read(fn: Callable[[sqlite3.Connection], T]) -> T:
        return await trio.to_thread.run_sync(run_on_connection, fn)

    async def write(fn: Callable[[sqlite3.Connection, float], T]) -> T:
        def in_transaction(conn: Any) -> T:
            with transaction(conn):
                return fn(conn, clock())

        return await trio.to_thread.run_sync(run_on_connection, in_transaction)

    def close() -> None:
        with lock:
            kept = list(idle)
            idle.clear()
        for conn in kept:
            conn.close()

    from statemachine_engine.persistence._browse import Browse

    return Browse(read, write, clock, close)
