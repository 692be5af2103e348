"""The commands' connection to a PostgreSQL database: ``statemachine-db`` on a URL.

The commands run the synchronous SQL layer (``jobs_sql``, ``records_sql``, ``durable_sql``)
on what :func:`~statemachine_engine.persistence.connect` returns for a file. For a URL,
:func:`connect_postgres` returns the store's ``sqlite3``-like face of a psycopg connection
(``_pg_adapter``), in autocommit mode as a file's connection is, with the schema created on
first use; the same SQL then runs on the server.
"""

from __future__ import annotations

from typing import Any

from statemachine_engine.persistence._codec import errors


class CommandConnection:
    """A PostgreSQL connection the commands use as they use a file's ``sqlite3`` one."""

    def __init__(self, adapted: Any) -> None:
        self._adapted = adapted

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapted, name)

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        # ``transaction()`` opens with SQLite's BEGIN IMMEDIATE (its write lock up front);
        # on PostgreSQL rows lock as they are written and a plain BEGIN is the same promise
        if sql == "BEGIN IMMEDIATE":
            sql = "BEGIN"
        return self._adapted.execute(sql, parameters)

    def close(self) -> None:
        self._adapted.raw.close()


def connect_postgres(url: str, *, migrate: bool = True) -> CommandConnection:
    """A connection to the PostgreSQL database at ``url`` for the SQL layer, its schema
    created or brought forward (unless ``migrate`` is False). Raises StoreError with one
    line saying what is wrong (the URL, the server, the rights), never the password."""
    from statemachine_engine.persistence._pg_adapter import PgConnection
    from statemachine_engine.persistence._pg_connect import connect

    raw = connect(url, autocommit=True)
    try:
        if migrate:
            _ensure_schema(raw, url)
    except BaseException:
        raw.close()
        raise
    return CommandConnection(PgConnection(raw))


def recreate_postgres_schema(conn: Any) -> None:
    """Drop every table this program created, then create the current schema (what
    ``recreate_schema`` does to a file's connection)."""
    from statemachine_engine.persistence._pg_schema import drop_all, ensure_schema

    drop_all(conn.raw)
    ensure_schema(conn.raw)


def _ensure_schema(raw: Any, url: str) -> None:
    from statemachine_engine.persistence._pg_connect import display_url, why_schema_failed
    from statemachine_engine.persistence._pg_schema import ensure_schema

    StoreError = errors().StoreError  # the error tree loads attrs: only now
    try:
        ensure_schema(raw)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(why_schema_failed(exc, display_url(url))) from None
