"""Registry, history and event audit as plain functions over a ``sqlite3`` connection.

Tables: ``machine_state`` (the registry of running machines), ``state_transitions`` and
``errors`` (history), ``machine_events`` (every event sent, with its delivery status).
Trio-free; the caller owns the transaction.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from typing import Any

from statemachine_engine.persistence._codec import loads_any, loads_object

#: delivery statuses of ``machine_events`` rows: ``failed`` when the target certainly did
#: not take the event, ``unknown`` when it may have (sent, but no acknowledgement came),
#: ``unhandled`` for an event the target took and dropped (it fired nothing), ``undelivered``
#: for one ``send-event`` recorded but could not hand over (its target was not running)
EVENT_STATUSES = (
    "pending",
    "undelivered",
    "delivered",
    "failed",
    "processed",
    "unknown",
    "unhandled",
)
#: statuses of events a machine has not got: ``process-events`` (and its readers) take them
_WAITING = "('pending', 'undelivered')"


# -- registry -------------------------------------------------------------------------


def upsert_machine(
    conn: sqlite3.Connection,
    machine_name: str,
    *,
    current_state: str,
    config_type: str | None,
    pid: int | None,
    endpoint: str | None,
    timestamp: float,
    context: str | None = None,
    host: str | None = None,
) -> None:
    """Register a machine, replacing the row of an earlier run of that name. ``host``: the
    host its runtime runs on (several hosts share one PostgreSQL registry)."""
    conn.execute(
        "INSERT INTO machine_state (machine_name, current_state, last_activity, pid,"
        " metadata, config_type, endpoint, context, started_at, host)"
        " VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?) ON CONFLICT (machine_name) DO UPDATE SET"
        " current_state = excluded.current_state, last_activity = excluded.last_activity,"
        " pid = excluded.pid, metadata = NULL, config_type = excluded.config_type,"
        " endpoint = excluded.endpoint, context = excluded.context,"
        " started_at = excluded.started_at, host = excluded.host",
        (
            machine_name,
            current_state,
            timestamp,
            pid,
            config_type,
            endpoint,
            context,
            timestamp,
            host,
        ),
    )


def update_machine(
    conn: sqlite3.Connection,
    machine_name: str,
    *,
    current_state: str,
    timestamp: float,
    context: str | None,
) -> None:
    """The registry row after a transition (no row: the machine was never registered)."""
    if context is None:
        conn.execute(
            "UPDATE machine_state SET current_state = ?, last_activity = ? WHERE machine_name = ?",
            (current_state, timestamp, machine_name),
        )
    else:
        conn.execute(
            "UPDATE machine_state SET current_state = ?, last_activity = ?, context = ?"
            " WHERE machine_name = ?",
            (current_state, timestamp, context, machine_name),
        )


def delete_machine(conn: sqlite3.Connection, machine_name: str) -> bool:
    cursor = conn.execute("DELETE FROM machine_state WHERE machine_name = ?", (machine_name,))
    return cursor.rowcount > 0


def forget_machine(conn: sqlite3.Connection, machine_name: str, *, now: float) -> dict[str, Any]:
    """An operator removes the registry row of a machine whose runtime is gone for good
    (its host died, on a database several hosts share): its run is recorded ``stopped``,
    and the name is free to start elsewhere. Returns the row removed; StoreError when no
    machine of that name is registered."""
    from statemachine_engine.errors import StoreError  # the error tree pulls in attrs
    from statemachine_engine.persistence._browse_sql import end_run

    row = conn.execute(
        "SELECT machine_name, current_state, pid, host FROM machine_state WHERE machine_name = ?",
        (machine_name,),
    ).fetchone()
    if row is None:
        raise StoreError(f"no machine named {machine_name!r} is registered")
    end_run(conn, machine_name, stopped=True, now=now)
    delete_machine(conn, machine_name)
    return dict(row)


def _decode_machine(row: dict[str, Any]) -> dict[str, Any]:
    row["context"] = loads_object(row.get("context"))
    row["metadata"] = loads_object(row.get("metadata"))
    return row


def list_machines(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM machine_state ORDER BY machine_name")
    return [_decode_machine(row) for row in rows]


def get_machine(conn: sqlite3.Connection, machine_name: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT * FROM machine_state WHERE machine_name = ?", (machine_name,)
    ).fetchone()
    return _decode_machine(row) if row else None


# -- history --------------------------------------------------------------------------

#: most transitions one INSERT writes (a multi-row ``VALUES``: about half the time of an
#: ``executemany`` of one-row statements on SQLite)
ROWS_PER_INSERT = 64

_INSERT_ERROR = (
    "INSERT INTO errors (machine_name, state, action, message, traceback, job_id, timestamp)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


TransitionRow = tuple[str, str | None, str, str | None, float]


def insert_transitions(
    conn: sqlite3.Connection, rows: Sequence[TransitionRow]
) -> list[tuple[TransitionRow, Exception]]:
    """``(machine_name, from_state, to_state, event, timestamp)`` rows, in their order;
    returns the rows no column could carry, with why (a str that is not text).

    Written ``ROWS_PER_INSERT`` at a time, the rest in powers of two (22 rows: 16, 4, 2),
    so that the connection's statement cache holds a handful of texts, not one per count.
    A value the driver cannot bind fails its statement before it runs: that statement's
    rows are then written one by one, without the bad ones.
    """
    refused: list[tuple[TransitionRow, Exception]] = []
    start = 0
    while start < len(rows):
        size = min(ROWS_PER_INSERT, 1 << ((len(rows) - start).bit_length() - 1))
        chunk = rows[start : start + size]
        try:
            conn.execute(_insert_transitions_sql(size), [value for row in chunk for value in row])
        except (ValueError, OverflowError):
            for row in chunk:
                try:
                    conn.execute(_insert_transitions_sql(1), row)
                except (ValueError, OverflowError) as exc:
                    refused.append((row, exc))
        start += size
    return refused


@functools.cache
def _insert_transitions_sql(rows: int) -> str:
    return (
        "INSERT INTO state_transitions (machine_name, from_state, to_state, event, timestamp)"
        " VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * rows)
    )


def insert_error(
    conn: sqlite3.Connection,
    machine_name: str,
    *,
    state: str | None,
    action: str | None,
    message: str,
    traceback: str | None,
    job_id: str | None,
    timestamp: float,
) -> None:
    conn.execute(
        _INSERT_ERROR, (machine_name, state, action, message, traceback, job_id, timestamp)
    )


def _history(
    conn: sqlite3.Connection,
    table: str,
    *,
    machine: str | None,
    since: float | None,
    limit: int | None,
) -> list[dict[str, Any]]:
    params: list[Any] = []
    sql = f"SELECT * FROM {table} WHERE TRUE"
    if machine:
        sql += " AND machine_name = ?"
        params.append(machine)
    if since is not None:
        sql += " AND timestamp >= ?"
        params.append(since)
    sql += " ORDER BY timestamp DESC, id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return list(conn.execute(sql, params))


def list_transitions(
    conn: sqlite3.Connection,
    *,
    machine: str | None = None,
    since: float | None = None,
    limit: int | None = 20,
) -> list[dict[str, Any]]:
    """Transitions, newest first."""
    return _history(conn, "state_transitions", machine=machine, since=since, limit=limit)


def list_errors(
    conn: sqlite3.Connection,
    *,
    machine: str | None = None,
    since: float | None = None,
    limit: int | None = 20,
) -> list[dict[str, Any]]:
    """Recorded errors, newest first."""
    return _history(conn, "errors", machine=machine, since=since, limit=limit)


# -- events ---------------------------------------------------------------------------


def insert_event(
    conn: sqlite3.Connection,
    *,
    source_machine: str | None,
    target_machine: str,
    event_type: str,
    job_id: str | None,
    payload: str | None,
    status: str,
    now: float,
) -> int:
    """Audit one event; returns its id. ``payload`` is already encoded text."""
    processed_at = now if status in ("delivered", "processed") else None
    cursor = conn.execute(
        "INSERT INTO machine_events (source_machine, target_machine, event_type, job_id,"
        " payload, status, created_at, processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " RETURNING id",
        (source_machine, target_machine, event_type, job_id, payload, status, now, processed_at),
    )
    return int(cursor.fetchone()["id"])


def mark_event_delivered(
    conn: sqlite3.Connection, event_id: int, *, now: float, delivered: bool = True
) -> bool:
    """Mark one audited event ``delivered`` (a recipient acknowledged it), or, with
    ``delivered=False``, ``undelivered`` (nobody took it: it waits for ``process-events``)."""
    cursor = conn.execute(
        "UPDATE machine_events SET status = ?, processed_at = ? WHERE id = ?",
        ("delivered" if delivered else "undelivered", now if delivered else None, event_id),
    )
    return cursor.rowcount > 0


def _decode_event(row: dict[str, Any]) -> dict[str, Any]:
    row["payload"] = loads_any(row.get("payload"))
    return row


def list_events(
    conn: sqlite3.Connection,
    *,
    target: str | None = None,
    status: str | None = None,
    limit: int | None = 20,
) -> list[dict[str, Any]]:
    """Audited events, newest first."""
    params: list[Any] = []
    sql = "SELECT * FROM machine_events WHERE TRUE"
    if target:
        sql += " AND target_machine = ?"
        params.append(target)
    if status:
        sql += " AND status = ?"
        params.append(status)
    sql += " ORDER BY created_at DESC, id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return [_decode_event(row) for row in conn.execute(sql, params)]


def pending_events(conn: sqlite3.Connection, target: str) -> list[dict[str, Any]]:
    """Events for ``target`` still ``pending`` or ``undelivered``, oldest first."""
    rows = conn.execute(
        f"SELECT * FROM machine_events WHERE target_machine = ? AND status IN {_WAITING}"
        " ORDER BY created_at, id",
        (target,),
    )
    return [_decode_event(row) for row in rows]


def mark_events_processed(
    conn: sqlite3.Connection,
    *,
    target: str,
    event_types: Sequence[str] | None,
    now: float,
) -> int:
    """Mark ``target``'s pending or undelivered events (of ``event_types``, or all)
    processed; how many."""
    sql = (
        "UPDATE machine_events SET status = 'processed', processed_at = ?"
        f" WHERE target_machine = ? AND status IN {_WAITING}"
    )
    params: list[Any] = [now, target]
    if event_types:
        sql += f" AND event_type IN ({','.join('?' * len(event_types))})"
        params.extend(event_types)
    return conn.execute(sql, params).rowcount


def delete_events(conn: sqlite3.Connection, *, status: str | None) -> int:
    if status:
        return conn.execute("DELETE FROM machine_events WHERE status = ?", (status,)).rowcount
    return conn.execute("DELETE FROM machine_events").rowcount


def count_events(conn: sqlite3.Connection) -> dict[str, int]:
    counts = dict.fromkeys(EVENT_STATUSES, 0)
    for row in conn.execute("SELECT status, count(*) AS n FROM machine_events GROUP BY status"):
        counts[row["status"]] = row["n"]
    counts["total"] = sum(counts.values())
    return counts
