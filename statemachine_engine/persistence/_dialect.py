"""Where the SQL of the two backends differs, asked of the connection the SQL runs on.

The SQL modules are written once, in SQL that SQLite and PostgreSQL both read (the
PostgreSQL connection adapter, ``_pg_adapter``, turns ``?`` placeholders into psycopg's).
What cannot be written once is asked here: a PostgreSQL connection says so with a
``postgres`` attribute; a ``sqlite3`` connection has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: the LISTEN/NOTIFY channel on which a job added anywhere wakes workers everywhere; the
#: payload is the job's machine type
JOBS_CHANNEL = "statemachine_jobs"


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
        conn.execute("SELECT pg_notify(?, ?)", (JOBS_CHANNEL, machine_type)).fetchall()


class Later(Generic[T]):
    """The result of a write, read when the batch it is part of has run all its statements.

    On PostgreSQL the write thread sends a batch's statements without waiting for each
    one's result (pipeline mode); a write nobody waits for (a job completed or started
    from memory, thousands a second when workers drain a queue) returns a ``Later`` so
    that reading its result does not cost a round trip to the server of its own: the
    writer resolves them all at the end of the batch, with one. On SQLite the result is
    read at once. :meth:`resolve` may raise the write's own error (the job was not held).
    """

    __slots__ = ("_read",)

    def __init__(self, read: Callable[[], T]) -> None:
        self._read = read

    def resolve(self) -> T:
        return self._read()


def later(conn: Any, read: Callable[[], T]) -> T | Later[T]:
    """``read()`` now on SQLite; on PostgreSQL a :class:`Later` the writer resolves."""
    if is_postgres(conn):
        return Later(read)
    return read()
