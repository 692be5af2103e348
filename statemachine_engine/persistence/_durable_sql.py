"""Durable machines as plain functions over a ``sqlite3`` connection: checkpoints, inbox, outbox.

Tables (schema version 2):

* ``durable_machines`` -- one row per durable machine that has not ended: where it is (state,
  the transition that entered it, the action it is at and how many times that action has been
  started), its context, when it entered its state and when its timer is due (wall clock),
  the step it has reached, and who started it (a ``start_fsm`` parent, its run).
* ``inbox`` -- every message delivered to a durable machine, keyed by (target, message id):
  ``pending`` until the step it fires is committed (``handled``), or it fires nothing
  (``unhandled``), or ``--fresh`` discards it. A message id seen again is a duplicate: counted,
  never delivered twice.
* ``outbox`` -- every message a durable machine sent, recorded with the step that sent it,
  ``pending`` until its target acknowledged it (``delivered``).

Trio-free; the caller owns the transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

#: statuses of inbox rows, and of outbox rows. ``sent``/``delivered``: a message to a
#: machine of another host, not yet taken by its runtime / taken (a durable target's row
#: becomes ``pending`` instead, then ``handled``)
INBOX_STATUSES = ("sent", "delivered", "pending", "handled", "unhandled", "discarded")
OUTBOX_STATUSES = ("pending", "delivered", "discarded")

_TABLES = {
    "durable_machines": """(
        machine_name TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        config_type TEXT,
        config_path TEXT,
        state TEXT NOT NULL,
        from_state TEXT,
        event TEXT,
        phase TEXT NOT NULL DEFAULT 'entry',
        action_index INTEGER NOT NULL DEFAULT 0,
        attempt INTEGER NOT NULL DEFAULT 0,
        context TEXT,
        entered_at REAL,
        deadline REAL,
        step INTEGER NOT NULL DEFAULT 0,
        parent TEXT,
        parent_run TEXT,
        on_done TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        pid INTEGER,
        updated_at REAL
    )""",
    "inbox": """(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        target_machine TEXT NOT NULL,
        message_id TEXT NOT NULL,
        source_machine TEXT,
        event_type TEXT NOT NULL,
        message TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        duplicates INTEGER NOT NULL DEFAULT 0,
        received_at REAL,
        handled_at REAL,
        step INTEGER,
        UNIQUE (target_machine, message_id)
    )""",
    "outbox": """(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL UNIQUE,
        source_machine TEXT NOT NULL,
        target_machine TEXT NOT NULL,
        event_type TEXT NOT NULL,
        message TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL,
        delivered_at REAL
    )""",
}

_INDEXES = {
    "idx_inbox_pending": "inbox(target_machine, id) WHERE status = 'pending'",
    "idx_outbox_pending": "outbox(source_machine, id) WHERE status = 'pending'",
    "idx_durable_parent": "durable_machines(parent)",
}

TABLES = tuple(_TABLES)
#: the tables' bodies and indexes, as the PostgreSQL schema reads them
TABLE_BODIES = _TABLES
TABLE_INDEXES = _INDEXES


def create_tables(conn: sqlite3.Connection) -> None:
    """Migration 1 -> 2: the durable machines' tables."""
    for table, body in _TABLES.items():
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} {body}")
    for name, target in _INDEXES.items():
        conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


# -- checkpoints ------------------------------------------------------------------------

_CHECKPOINT_COLUMNS = (
    "machine_name, run_id, config_type, config_path, state, from_state, event, phase,"
    " action_index, attempt, context, entered_at, deadline, step, parent, parent_run, on_done,"
    " status, pid, updated_at"
)
#: an upsert that replaces every column of an existing row (INSERT OR REPLACE, portably)
_REPLACE = ", ".join(
    f"{name} = excluded.{name}"
    for name in (column.strip() for column in _CHECKPOINT_COLUMNS.split(","))
    if name != "machine_name"
)


def start_checkpoint(conn: sqlite3.Connection, row: Sequence[Any]) -> None:
    """Write a machine's whole row (a start or a resume): the columns of
    ``_CHECKPOINT_COLUMNS`` in order."""
    conn.execute(
        f"INSERT INTO durable_machines ({_CHECKPOINT_COLUMNS})"
        f" VALUES ({', '.join('?' * 20)}) ON CONFLICT (machine_name) DO UPDATE SET {_REPLACE}",
        tuple(row),
    )


def write_checkpoints(conn: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> None:
    """A step of each machine: (state, from_state, event, phase, action_index, attempt,
    context, entered_at, deadline, step, updated_at, machine_name)."""
    conn.executemany(
        "UPDATE durable_machines SET state = ?, from_state = ?, event = ?, phase = ?,"
        " action_index = ?, attempt = ?, context = ?, entered_at = ?, deadline = ?, step = ?,"
        " updated_at = ? WHERE machine_name = ?",
        rows,
    )


def end_checkpoint(conn: sqlite3.Connection, machine: str, status: str, now: float) -> None:
    """A machine stopped: ``final`` removes its row (it starts fresh next time) -- unless
    messages it sent are still in its outbox: the row then stays, ``final``, so that the
    next start delivers them; ``stopped`` and ``crashed`` keep it for a resume."""
    if status == "final":
        removed = conn.execute(
            "DELETE FROM durable_machines WHERE machine_name = ? AND NOT EXISTS"
            " (SELECT 1 FROM outbox WHERE source_machine = ? AND status = 'pending')",
            (machine, machine),
        ).rowcount
        if removed:
            return
    conn.execute(
        "UPDATE durable_machines SET status = ?, updated_at = ? WHERE machine_name = ?",
        (status, now, machine),
    )


def load_checkpoint(conn: sqlite3.Connection, machine: str) -> dict[str, Any] | None:
    row: dict[str, Any] | None = conn.execute(
        "SELECT * FROM durable_machines WHERE machine_name = ?", (machine,)
    ).fetchone()
    return row


def children(conn: sqlite3.Connection, parent: str, parent_run: str) -> list[dict[str, Any]]:
    """The checkpoints of the ``start_fsm`` children a parent's run started."""
    return list(
        conn.execute(
            "SELECT * FROM durable_machines WHERE parent = ? AND parent_run = ?"
            " ORDER BY machine_name",
            (parent, parent_run),
        )
    )


def checkpoints(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return list(conn.execute("SELECT * FROM durable_machines ORDER BY machine_name"))


def discard(
    conn: sqlite3.Connection, machine: str, now: float, *, outbox: bool = True
) -> tuple[int, int, int]:
    """``--fresh``: remove the checkpoint; the pending inbox and outbox rows of the machine
    are kept, marked ``discarded`` (the outbox's only with ``outbox``). Returns the
    (checkpoints, inbox, outbox) rows affected."""
    removed = conn.execute(
        "DELETE FROM durable_machines WHERE machine_name = ?", (machine,)
    ).rowcount
    inbox = conn.execute(
        "UPDATE inbox SET status = 'discarded', handled_at = ?"
        " WHERE target_machine = ? AND status = 'pending'",
        (now, machine),
    ).rowcount
    if not outbox:
        return removed, inbox, 0
    dropped = conn.execute(
        "UPDATE outbox SET status = 'discarded', delivered_at = ?"
        " WHERE source_machine = ? AND status = 'pending'",
        (now, machine),
    ).rowcount
    return removed, inbox, dropped


# -- inbox -------------------------------------------------------------------------------


def receive(
    conn: sqlite3.Connection,
    *,
    target: str,
    message_id: str,
    source: str | None,
    event_type: str,
    message: str,
    now: float,
) -> bool:
    """Record a message for ``target``; False (and the duplicate counted) when a message of
    that id was recorded before."""
    inserted = conn.execute(
        "INSERT INTO inbox (target_machine, message_id, source_machine, event_type,"
        " message, status, received_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)"
        " ON CONFLICT DO NOTHING",
        (target, message_id, source, event_type, message, now),
    ).rowcount
    if inserted:
        return True
    conn.execute(
        "UPDATE inbox SET duplicates = duplicates + 1 WHERE target_machine = ? AND message_id = ?",
        (target, message_id),
    )
    return False


def mark_inbox(
    conn: sqlite3.Connection, rows: Sequence[tuple[str, float, int | None, str, str]]
) -> None:
    """(status, handled_at, step, target, message_id) for each message a step consumed."""
    conn.executemany(
        "UPDATE inbox SET status = ?, handled_at = ?, step = ?"
        " WHERE target_machine = ? AND message_id = ? AND status = 'pending'",
        rows,
    )


def pending_inbox(conn: sqlite3.Connection, target: str) -> list[dict[str, Any]]:
    return list(
        conn.execute(
            "SELECT message_id, message FROM inbox WHERE target_machine = ? AND status = 'pending'"
            " ORDER BY id",
            (target,),
        )
    )


# -- outbox ------------------------------------------------------------------------------


def post(
    conn: sqlite3.Connection,
    *,
    message_id: str,
    source: str,
    target: str,
    event_type: str,
    message: str,
    now: float,
) -> None:
    """Record a message to send (the same id again -- a re-run action -- changes nothing)."""
    conn.execute(
        "INSERT INTO outbox (message_id, source_machine, target_machine, event_type,"
        " message, status, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)"
        " ON CONFLICT DO NOTHING",
        (message_id, source, target, event_type, message, now),
    )


def mark_delivered(conn: sqlite3.Connection, rows: Sequence[tuple[float, int, str]]) -> None:
    """(delivered_at, attempts, message_id) of each message its target acknowledged."""
    conn.executemany(
        "UPDATE outbox SET status = 'delivered', delivered_at = ?, attempts = ?"
        " WHERE message_id = ? AND status = 'pending'",
        rows,
    )


def pending_outbox(conn: sqlite3.Connection, source: str) -> list[dict[str, Any]]:
    return list(
        conn.execute(
            "SELECT message_id, target_machine, message FROM outbox"
            " WHERE source_machine = ? AND status = 'pending' ORDER BY id",
            (source,),
        )
    )


# -- listings (statemachine-db) ----------------------------------------------------------


def list_inbox(
    conn: sqlite3.Connection,
    *,
    machine: str | None,
    status: str | None,
    limit: int | None,
) -> list[dict[str, Any]]:
    """Inbox rows, newest first; ``status='duplicates'``: rows that were received again."""
    where, params = _filters(
        ("target_machine", machine), ("status", None if status == "duplicates" else status)
    )
    if status == "duplicates":
        where.append("duplicates > 0")
    return _listing(conn, "inbox", where, params, limit)


def list_outbox(
    conn: sqlite3.Connection,
    *,
    machine: str | None,
    status: str | None,
    limit: int | None,
) -> list[dict[str, Any]]:
    where, params = _filters(("source_machine", machine), ("status", status))
    return _listing(conn, "outbox", where, params, limit)


def _filters(*pairs: tuple[str, str | None]) -> tuple[list[str], list[Any]]:
    where = [f"{column} = ?" for column, value in pairs if value is not None]
    return where, [value for _, value in pairs if value is not None]


def _listing(
    conn: sqlite3.Connection, table: str, where: list[str], params: list[Any], limit: int | None
) -> list[dict[str, Any]]:
    sql = f"SELECT * FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params = [*params, limit]
    return list(conn.execute(sql, params))
