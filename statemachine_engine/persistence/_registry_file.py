"""The machine registry of a database file, read without writing it (the monitor's ``--db``).

The file is opened read-only, so that a reader never migrates, locks or otherwise changes a
database the runtimes own; a PostgreSQL database (a URL) is read without creating its
schema. Blocking: call it in a worker thread from trio.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, cast

from statemachine_engine.persistence._codec import row_dict
from statemachine_engine.persistence._paths import is_db_url, redact_db
from statemachine_engine.persistence._pg_commands import connect_postgres
from statemachine_engine.persistence._records_sql import list_machines
from statemachine_engine.persistence._schema import raise_store_error


def read_registry(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The ``machine_state`` rows of the database at ``path``, by machine name.

    Raises :class:`~statemachine_engine.errors.StoreError` naming the file when it cannot
    be read (missing, not a database, no such table).
    """
    name = os.fspath(path)
    if is_db_url(name):
        return _read_postgres(name)
    uri = Path(name).resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise_store_error(exc, name)
    try:
        conn.row_factory = row_dict
        return list_machines(conn)
    except sqlite3.Error as exc:
        raise_store_error(exc, name)
    finally:
        conn.close()


def _read_postgres(url: str) -> list[dict[str, Any]]:
    # the same SQL, on a connection with sqlite3's surface
    conn = cast(sqlite3.Connection, connect_postgres(url, migrate=False))
    try:
        return list_machines(conn)
    except sqlite3.Error as exc:  # what the connection raises for a statement that failed
        raise_store_error(exc, redact_db(url))
    finally:
        conn.close()
