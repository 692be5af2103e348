"""Where the SQL of the two backends differs, asked of the connection the SQL runs on.

The SQL modules are written once, in SQL that SQLite and PostgreSQL both read (the
PostgreSQL connection adapter, ``_pg_adapter``, turns ``?`` placeholders into psycopg's).
What cannot be written once is asked here: a PostgreSQL connection says so with a
``postgres`` attribute; a ``sqlite3`` connection has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: the LISTEN/NOTIFY channel on which a job added anywhere wakes workers everywhere; the
#: payload is the job's machine type
JOBS_CHANNEL = "statemachine_jobs"
#: the channel a runtime's writer notifies once per batch that wrote history
HISTORY_CHANNEL = "statemachine_history"


class TransactionLost(Exception):
    """The transaction ended under its caller (connection lost, deadlock, serialization
    failure): nothing of it is committed, unless it was lost during its COMMIT. Raised by
    the PostgreSQL adapter (``_pg_adapter``); defined here, where the writer that runs the
    transaction again catches it, so that a SQLite store never imports the adapter."""


def is_postgres(conn: Any) -> bool:
    """Whether ``conn`` is a PostgreSQL connection (adapter)."""
    return getattr(conn, "postgres", False) is True


def skip_locked(conn: Any) -> str:
    """The lock clause of a claim's subquery: on PostgreSQL, rows another transaction
    holds are skipped, so that concurrent writers (other hosts) never wait for each other
    nor claim the same row; SQLite has one writer at a time and needs none."""
    return " FOR UPDATE SKIP LOCKED" if is_postgres(conn) else ""


def id_in(conn: Any, subquery: str) -> str:
    """``id IN (subquery)`` for an UPDATE of the rows a locking subquery picks. On
    PostgreSQL the subquery is an array built once: as ``IN`` it may become a join that
    runs the subquery again, and a ``LIMIT`` with SKIP LOCKED then picks more rows."""
    if is_postgres(conn):
        return f"id = ANY(ARRAY({subquery}))"
    return f"id IN ({subquery})"


def notify_jobs_added(conn: Any, machine_types: Iterable[str | None]) -> None:
    """Tell the workers of every host that jobs were added (PostgreSQL: a NOTIFY sent with
    the adding transaction's commit, and only then); a no-op on SQLite, whose processes
    are woken through the control socket's doorbell or their poll."""
    if not is_postgres(conn):
        return
    for machine_type in sorted({mt or "" for mt in machine_types}):
        conn.execute("SELECT pg_notify(?, ?)", (JOBS_CHANNEL, machine_type))


def notify_history(conn: Any) -> None:
    """Tell the monitors of every host that history was written (once per batch, with its
    commit); a no-op on SQLite, whose monitors hear the event socket."""
    if is_postgres(conn):
        conn.execute("SELECT pg_notify(?, '')", (HISTORY_CHANNEL,)).fetchall()
