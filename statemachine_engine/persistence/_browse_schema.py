"""Schema version 3: what the monitor reads and writes beyond the runtime's own tables.

Tables:

* ``machine_runs`` -- one row per machine name ever started: its config, when it started and
  ended, how it ended (``status``: ``running``, ``finished``, ``failed``, ``stopped``) and
  the job it held last. The registry (``machine_state``) forgets a machine when it stops;
  this row stays, so that the monitor can show finished and failed instances.
* ``activity_log`` -- the activity lines machines publish (``log`` actions, a bash action's
  output, unhandled events): the monitor's activity log survives a restart.
* ``audit_log`` -- every operator action (monitor API, ``statemachine-db``): who, what, on
  which target, its detail (JSON) and its result (``ok`` or the error).

Indexes serve keyset pages (newest first) and the last hour's statistics; each is named in
:data:`INDEXES`. Standard SQL only: a PostgreSQL schema mirrors these tables column for
column (REAL -> double precision, INTEGER PRIMARY KEY AUTOINCREMENT -> bigserial).

Trio-free; the caller owns the transaction.
"""

from __future__ import annotations

import sqlite3

TABLES: dict[str, str] = {
    "machine_runs": """(
        machine_name TEXT PRIMARY KEY,
        config_type TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        started_at REAL,
        ended_at REAL,
        job_id TEXT,
        pid INTEGER
    )""",
    "activity_log": """(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        machine_name TEXT NOT NULL,
        level TEXT NOT NULL DEFAULT 'info',
        message TEXT NOT NULL,
        job_id TEXT,
        fields TEXT,
        timestamp REAL NOT NULL
    )""",
    "audit_log": """(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        detail TEXT,
        result TEXT NOT NULL
    )""",
}

#: Timelines are paged by (timestamp, id) per machine, ``id`` breaking ties of equal
#: timestamps. SQLite appends the rowid (``id``) to every index, so the existing
#: ``state_transitions(machine_name, timestamp)`` and ``errors(machine_name, timestamp)``
#: serve these pages as they are (a PostgreSQL schema names ``id`` in them); no index is
#: added to the tables a transition writes.
INDEXES: dict[str, str] = {
    "idx_machine_runs_status": "machine_runs(status)",
    "idx_activity_log_machine": "activity_log(machine_name, timestamp, id)",
    "idx_activity_log_timestamp": "activity_log(timestamp, id)",
    # partial: a job enters it once, when it ends; adding or claiming one does not touch it
    "idx_jobs_completed_at": "jobs(completed_at) WHERE completed_at IS NOT NULL",
}


def create_tables(conn: sqlite3.Connection) -> None:
    """Migration 2 -> 3: the tables and indexes above; machines already in the history are
    entered in ``machine_runs`` (running when the registry has them, else finished)."""
    for name, body in TABLES.items():
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} {body}")
    for name, target in INDEXES.items():
        conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
    conn.execute(
        "INSERT INTO machine_runs (machine_name, config_type, status, started_at, pid)"
        " SELECT machine_name, config_type, 'running', COALESCE(started_at, last_activity), pid"
        " FROM machine_state"
    )
    conn.execute(
        "INSERT INTO machine_runs (machine_name, status, started_at, ended_at)"
        " SELECT machine_name, 'finished', min(timestamp), max(timestamp)"
        " FROM state_transitions"
        " WHERE machine_name NOT IN (SELECT machine_name FROM machine_state)"
        " GROUP BY machine_name"
    )
