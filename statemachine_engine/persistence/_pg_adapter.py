"""A psycopg connection seen through the surface of ``sqlite3`` the SQL modules use.

The SQL modules (``_jobs_*_sql``, ``_records_sql``, ``_durable_sql``) are written once, in
SQL both databases read, against the few methods of a ``sqlite3`` connection they call:
``execute``, ``executemany``, ``in_transaction``, cursors with ``fetchone``, ``fetchall``,
``rowcount`` and iteration, rows as dicts. :class:`PgConnection` offers exactly that on a
psycopg 3 connection:

* ``?`` placeholders become ``%s`` (and a literal ``%`` becomes ``%%``), outside quoted
  strings; each statement is translated once and cached;
* errors the SQL modules handle are raised as the ``sqlite3`` errors they catch: a unique
  violation is ``sqlite3.IntegrityError("UNIQUE constraint failed: ...")``, other
  statement errors ``sqlite3.DatabaseError``;
* errors that end the transaction under its caller -- the connection lost, a deadlock or a
  serialization failure -- are :class:`TransactionLost`, which no SQL module catches: the
  whole transaction is run again (see ``_pg_connections``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from statemachine_engine.persistence._dialect import TransactionLost

if TYPE_CHECKING:
    import psycopg


_TRANSLATED: dict[str, str] = {}


def translate(sql: str) -> str:
    """``sql`` with ``?`` placeholders as psycopg's ``%s`` and ``%`` escaped; quoted
    strings and identifiers are left as they are."""
    done = _TRANSLATED.get(sql)
    if done is not None:
        return done
    out: list[str] = []
    quote = ""
    for char in sql:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        if char == "%":
            out.append("%%")
            continue
        out.append(char)
    done = "".join(out)
    if len(_TRANSLATED) < 4096:  # statements are built from a few templates
        _TRANSLATED[sql] = done
    return done


class PgConnection:
    """The ``sqlite3``-like face of one psycopg connection (rows as dicts).

    With ``pipeline`` (psycopg's pipeline mode, which the write thread uses), statements
    are sent without waiting for their results: a cursor waits (syncs the pipeline) only
    when its rows or row count are read. A batch of records then costs one round trip to
    the server instead of one per statement.
    """

    #: asked by ``_dialect``: SQL that differs between the backends looks here
    postgres = True

    def __init__(
        self, conn: psycopg.Connection[dict[str, Any]], pipeline: psycopg.Pipeline | None = None
    ) -> None:
        self.raw = conn
        self._pipeline = pipeline
        self.sent = 0  # statements sent so far
        self.synced = 0  # statements whose results are in, so far

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        try:
            cursor = self.raw.execute(translate(sql), tuple(parameters))
        except Exception as exc:
            raise _translated(exc) from exc
        self.sent += 1
        return Cursor(cursor, self)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]]) -> Cursor:
        cursor = self.raw.cursor()
        try:
            cursor.executemany(translate(sql), [tuple(p) for p in seq_of_parameters])
        except Exception as exc:
            raise _translated(exc) from exc
        self.sent += 1
        return Cursor(cursor, self)

    def sync(self, upto: int) -> None:
        """Wait for the results of the statements sent up to number ``upto``: one round
        trip for all those sent since the last wait (none when they are in already)."""
        if self._pipeline is None or upto <= self.synced:
            return
        sent = self.sent
        try:
            self._pipeline.sync()
        except Exception as exc:
            raise _translated(exc) from exc
        self.synced = sent

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE


class Cursor:
    """A psycopg cursor whose results are waited for when they are read; errors raised
    as ``PgConnection`` raises them."""

    __slots__ = ("_conn", "_cursor", "_number")

    def __init__(self, cursor: psycopg.Cursor[Any], conn: PgConnection) -> None:
        self._cursor = cursor
        self._conn = conn
        self._number = conn.sent

    def _results(self) -> psycopg.Cursor[Any]:
        self._conn.sync(self._number)
        return self._cursor

    @property
    def rowcount(self) -> int:
        return self._results().rowcount

    def fetchone(self) -> Any:
        try:
            return self._results().fetchone()
        except Exception as exc:
            raise _translated(exc) from exc

    def fetchall(self) -> list[Any]:
        try:
            return self._results().fetchall()
        except Exception as exc:
            raise _translated(exc) from exc

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


def _translated(exc: Exception) -> Exception:
    import psycopg
    from psycopg import errors as pg

    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        # lost connection, AdminShutdown, deadlock, serialization failure, query cancelled
        return TransactionLost(one_line(exc))
    if isinstance(exc, pg.UniqueViolation):
        constraint = exc.diag.constraint_name or "?"
        return sqlite3.IntegrityError(f"UNIQUE constraint failed: {constraint}")
    if isinstance(exc, psycopg.IntegrityError):
        return sqlite3.IntegrityError(one_line(exc))
    if isinstance(exc, psycopg.Error):
        return sqlite3.DatabaseError(one_line(exc))
    return exc


def one_line(exc: BaseException) -> str:
    """The first line of a psycopg error's message (the server's own words)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
