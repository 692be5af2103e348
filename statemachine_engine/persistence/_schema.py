"""Opening a database: pragmas, the schema, its version and forward migrations.

Timestamps are REAL seconds since the Unix epoch (UTC) in every table, written by the
caller's clock. (The published package mixed ``CURRENT_TIMESTAMP`` text with epoch floats;
an adopted database of that package has its text timestamps converted by migration 1.)

Trio-free: the ``statemachine-db`` command and the async store both open databases here.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

from statemachine_engine.persistence import _browse_schema as browse
from statemachine_engine.persistence import _durable_sql as durable
from statemachine_engine.persistence._codec import errors, row_dict
from statemachine_engine.persistence._files import prepare_file, why_not_writable
from statemachine_engine.persistence._paths import MEMORY

#: the version this program writes; migrations bring older databases up to it
SCHEMA_VERSION = 4

DEFAULT_BUSY_TIMEOUT = 10.0

# Epoch seconds as a column default, for rows inserted by hand (SQLite 3.40 lacks
# unixepoch('subsec')). The program always writes timestamps itself.
_NOW = "((julianday('now') - 2440587.5) * 86400.0)"

# table -> [(column, declaration in CREATE TABLE, declaration for ALTER TABLE ADD COLUMN)].
# Columns the published package has come first, with its names; ``None`` for the ALTER
# declaration means the column exists in every database of that package.
_COLUMNS: dict[str, list[tuple[str, str, str | None]]] = {
    "jobs": [
        ("id", "INTEGER PRIMARY KEY AUTOINCREMENT", None),
        ("job_id", "TEXT UNIQUE NOT NULL", None),
        ("job_type", "TEXT NOT NULL", None),
        ("machine_type", "TEXT", None),
        ("source_job_id", "TEXT", None),
        ("data", "TEXT", None),
        ("result", "TEXT", None),
        ("priority", "INTEGER NOT NULL DEFAULT 5", None),
        ("status", "TEXT NOT NULL DEFAULT 'pending'", None),
        ("created_at", f"REAL DEFAULT {_NOW}", None),
        ("started_at", "REAL", None),
        ("completed_at", "REAL", None),
        ("error_message", "TEXT", None),
        ("metadata", "TEXT", None),
        ("attempts", "INTEGER NOT NULL DEFAULT 0", "INTEGER NOT NULL DEFAULT 0"),
        ("max_attempts", "INTEGER NOT NULL DEFAULT 3", "INTEGER NOT NULL DEFAULT 3"),
        ("run_at", "REAL", "REAL"),
        ("claimed_by", "TEXT", "TEXT"),
        ("lease_until", "REAL", "REAL"),
        ("updated_at", "REAL", "REAL"),
    ],
    "machine_events": [
        ("id", "INTEGER PRIMARY KEY AUTOINCREMENT", None),
        ("source_machine", "TEXT", None),
        ("target_machine", "TEXT NOT NULL", None),
        ("event_type", "TEXT NOT NULL", None),
        ("job_id", "TEXT", None),
        ("payload", "TEXT", None),
        ("status", "TEXT NOT NULL DEFAULT 'pending'", None),
        ("created_at", f"REAL DEFAULT {_NOW}", None),
        ("processed_at", "REAL", None),
    ],
    "machine_state": [
        ("machine_name", "TEXT PRIMARY KEY", None),
        ("current_state", "TEXT", None),
        ("last_activity", f"REAL DEFAULT {_NOW}", None),
        ("pid", "INTEGER", None),
        ("metadata", "TEXT", None),
        ("config_type", "TEXT", None),
        ("endpoint", "TEXT", "TEXT"),
        ("context", "TEXT", "TEXT"),
        ("started_at", "REAL", "REAL"),
        # the host whose runtime registered the row (hosts share a PostgreSQL registry)
        ("host", "TEXT", "TEXT"),
    ],
    "state_transitions": [
        ("id", "INTEGER PRIMARY KEY AUTOINCREMENT", None),
        ("machine_name", "TEXT NOT NULL", None),
        ("from_state", "TEXT", None),
        ("to_state", "TEXT NOT NULL", None),
        ("event", "TEXT", None),
        ("timestamp", "REAL NOT NULL", None),
    ],
    "errors": [
        ("id", "INTEGER PRIMARY KEY AUTOINCREMENT", None),
        ("machine_name", "TEXT NOT NULL", None),
        ("state", "TEXT", None),
        ("action", "TEXT", None),
        ("message", "TEXT NOT NULL", None),
        ("traceback", "TEXT", None),
        ("job_id", "TEXT", None),
        ("timestamp", "REAL NOT NULL", None),
    ],
}

# Partial indexes keep a claim cheap: a job enters and leaves each of them once, instead of
# every status change rewriting entries of status-keyed indexes.
_INDEXES = {
    "idx_jobs_created_at": "jobs(created_at)",
    # the claim order: priority, then run_at, then age
    "idx_jobs_pending": "jobs(priority, run_at, created_at) WHERE status = 'pending'",
    "idx_jobs_pending_machine": (
        "jobs(machine_type, priority, run_at, created_at) WHERE status = 'pending'"
    ),
    "idx_jobs_processing": "jobs(lease_until) WHERE status = 'processing'",
    "idx_machine_events_target_status": "machine_events(target_machine, status)",
    "idx_machine_events_created_at": "machine_events(created_at)",
    "idx_machine_state_last_activity": "machine_state(last_activity)",
    "idx_machine_state_config_type": "machine_state(config_type)",
    "idx_state_transitions_machine": "state_transitions(machine_name, timestamp)",
    "idx_state_transitions_timestamp": "state_transitions(timestamp)",
    "idx_errors_machine": "errors(machine_name, timestamp)",
    "idx_errors_timestamp": "errors(timestamp)",
}

#: the tables, their indexes and the "now" default, as the PostgreSQL schema reads them
TABLE_COLUMNS = _COLUMNS
TABLE_INDEXES = _INDEXES
SQLITE_NOW = _NOW

# Text timestamps a database of the published package may hold (UTC 'YYYY-MM-DD HH:MM:SS').
_TEXT_TIMESTAMPS = {
    "jobs": ("created_at", "started_at", "completed_at"),
    "machine_events": ("created_at", "processed_at"),
    "machine_state": ("last_activity",),
}


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    """Create the tables, or adopt those of the published package (add the new columns,
    convert text timestamps to epoch seconds, give pending jobs a ``run_at``, replace its
    indexes)."""
    for table, columns in _COLUMNS.items():
        existing = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
        if not existing:
            body = ", ".join(f"{name} {decl}" for name, decl, _ in columns)
            conn.execute(f"CREATE TABLE {table} ({body})")
            continue
        # a table of this name that lacks the published package's columns belongs to some
        # other program: refuse the file rather than change it (the migration rolls back)
        missing = [name for name, _, add in columns if add is None and name not in existing]
        if missing:
            raise errors().StoreError(
                f"{_path_of(conn)} is not a statemachine-engine database: its table {table!r}"
                f" has no column {', '.join(missing[:3])}; nothing was changed (point --db at"
                " another file)"
            )
        for name, decl, add_decl in columns:
            if name not in existing:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {add_decl or decl}")
    for table, names in _TEXT_TIMESTAMPS.items():
        for name in names:
            conn.execute(
                f"UPDATE {table} SET {name} = round((julianday({name}) - 2440587.5) * 86400.0, 3)"
                f" WHERE typeof({name}) = 'text'"
            )
    conn.execute(f"UPDATE jobs SET run_at = COALESCE(created_at, {_NOW}) WHERE run_at IS NULL")
    # An adopted database keeps the published package's indexes on its tables; they would
    # slow every claim, and ours cover the same queries.
    ours = set(_INDEXES)
    tables = ",".join(f"'{table}'" for table in _COLUMNS)
    for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        f" AND tbl_name IN ({tables})"
    ).fetchall():
        if row["name"] not in ours:
            conn.execute(f'DROP INDEX "{row["name"]}"')
    for name, target in _INDEXES.items():
        conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def _path_of(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row["file"] or "the database") if row else "the database"


def _add_new_columns(conn: sqlite3.Connection) -> None:
    """Add the columns of ``_COLUMNS`` a table lacks (version 4: ``machine_state.host``)."""
    for table, columns in _COLUMNS.items():
        existing = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, decl, add_decl in columns:
            if name not in existing:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {add_decl or decl}")


#: MIGRATIONS[n] brings a database from version n to n + 1
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _migrate_to_1,
    durable.create_tables,
    browse.create_tables,
    _add_new_columns,
)


def connect(
    path: str | os.PathLike[str],
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    check_same_thread: bool = True,
    migrate: bool = True,
) -> sqlite3.Connection:
    """Open ``path`` (or ``":memory:"``) ready for use, creating the file, its folder and
    the schema on first use and migrating an older schema forward. The file and the
    folders created are owner-only (0600, 0700), and so are SQLite's ``-wal`` and ``-shm``.

    The connection is in autocommit mode (use :func:`transaction` for several statements),
    returns rows as dicts, waits up to ``busy_timeout`` seconds for another writer's lock,
    and uses WAL with ``synchronous=NORMAL``: a crash of the process loses nothing
    committed; a power loss may lose the last transactions, never corrupt the file.

    Raises StoreError when the folder cannot be created, the file cannot be written
    (permission denied), the path is not a SQLite database, or its schema is newer than
    this program.
    """
    name = os.fspath(path)
    if name != MEMORY:
        prepare_file(name)
    try:
        conn = sqlite3.connect(
            name,
            timeout=busy_timeout,
            isolation_level=None,
            check_same_thread=check_same_thread,
            cached_statements=256,
        )
    except sqlite3.Error as exc:
        raise_store_error(exc, name)
    conn.row_factory = row_dict
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        if name != MEMORY:
            _enable_wal(conn, busy_timeout)
            conn.execute("PRAGMA synchronous = NORMAL")
        if migrate:
            ensure_schema(conn)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error):
            raise_store_error(exc, name)
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch to WAL. Two processes opening a new file at once may find it locked for a
    moment; SQLite's busy handler does not cover this pragma, so retry within the timeout."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the database; 0 for a new (or upstream) database."""
    try:
        row = conn.execute("SELECT version FROM schema_version").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise
    return int(row["version"]) if row else 0


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`; safe when several processes race."""
    version = schema_version(conn)
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise errors().StoreError(
            f"the database schema is version {version}, newer than this program supports "
            f"({SCHEMA_VERSION}); upgrade statemachine-engine"
        )
    with transaction(conn):
        version = schema_version(conn)  # another process may have migrated meanwhile
        if version > SCHEMA_VERSION:
            return
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        for step in MIGRATIONS[version:SCHEMA_VERSION]:
            step(conn)
        conn.execute("DELETE FROM schema_version")
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))


def drop_all(conn: sqlite3.Connection) -> None:
    """Drop every table this program created (``recreate-database``)."""
    with transaction(conn):
        ours = (*_COLUMNS, *durable.TABLES, *browse.TABLES)
        for table in (*ours, "schema_version", "realtime_events"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def recreate_schema(conn: sqlite3.Connection) -> None:
    """Drop every table this program created, then create the current schema: an empty
    database (``statemachine-db recreate-database``)."""
    drop_all(conn)
    ensure_schema(conn)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception.

    IMMEDIATE takes the write lock up front, so a busy database is waited for (busy
    timeout) at the start instead of failing half-way.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def raise_store_error(exc: sqlite3.Error, path: str) -> NoReturn:
    """Translate a SQLite error into StoreError with a message that names the file."""
    text = str(exc)
    if "file is not a database" in text or "not a database" in text:
        message = f"{path} is not a SQLite database (is --db pointing at the right file?)"
    elif "database is locked" in text or "database is busy" in text:
        message = f"{path} is locked by another writer and stayed locked past the busy timeout"
    elif "unable to open database file" in text or "readonly" in text:
        message = why_not_writable(path, read_only="readonly" in text)
    else:
        message = f"database {path}: {text}"
    raise errors().StoreError(message) from exc
