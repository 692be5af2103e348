"""Several hosts on one PostgreSQL database: events through the inbox, and the history feed.

A machine on another host has no control socket here. A message for it is a row of its
``inbox`` with status ``sent``, inserted by the sender in its own transaction with a NOTIFY
on the target host's channel (:func:`inbox_channel`). The target's runtime listens on its
host's channel, takes the ``sent`` rows of the machines it runs (:func:`take`) and hands
them to their mailboxes in order. Taking a row changes its status in the same transaction:
``pending`` for a durable machine (the row is then its durable inbox, used by a step or
given back on resume, as a message received by socket), ``delivered`` for the others.
The inbox is unique on (target, message id): a sender that retries a message whose commit
it did not see (an outbox relay) inserts nothing the second time.

The monitor of another host learns what happened from the history tables: the writer
sends one NOTIFY on :data:`HISTORY_CHANNEL` per committed batch that wrote history
(:func:`notify_history`), and the monitor reads the rows after the last it saw, by id
(:func:`history_since`).

Trio-free: the sender may be ``statemachine-db send-event``. The caller owns the
transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

# part of this module's surface, defined with what a SQLite start imports anyway (the host's
# name, the writer's notice), so that such a start does not import this module
from statemachine_engine.persistence._dialect import HISTORY_CHANNEL as HISTORY_CHANNEL
from statemachine_engine.persistence._dialect import is_postgres
from statemachine_engine.persistence._dialect import notify_history as notify_history
from statemachine_engine.persistence._paths import HOST_ENV_VAR as HOST_ENV_VAR
from statemachine_engine.persistence._paths import host_name as host_name

#: the status of an inbox row its target's runtime has not taken yet
SENT = "sent"
#: the status of an inbox row handed to a machine that is not durable
DELIVERED = "delivered"
#: the statuses an inbox row leaves ``sent`` for (a durable target: its inbox row)
TAKEN = (DELIVERED, "pending", "handled", "unhandled")


_INBOX_PREFIX = "statemachine_inbox:"
#: PostgreSQL truncates identifiers (channel names) longer than this many bytes
_MAX_CHANNEL = 63
#: rows taken in one transaction
TAKE_LIMIT = 500


def inbox_channel(host: str) -> str:
    """The NOTIFY channel of ``host``'s inbox; a name too long for PostgreSQL is shortened
    with a digest of the whole, so that two hosts never share a channel by truncation."""
    channel = _INBOX_PREFIX + host
    if len(channel.encode()) <= _MAX_CHANNEL:
        return channel
    import hashlib  # (rarely needed: not on every command's import path)

    digest = hashlib.sha256(host.encode()).hexdigest()[:16]
    return f"{_INBOX_PREFIX}{host.encode()[:20].decode(errors='ignore')}#{digest}"


def quoted(channel: str) -> str:
    """``channel`` as a quoted identifier, for LISTEN (pg_notify takes it as text)."""
    return '"' + channel.replace('"', '""') + '"'


def send(
    conn: sqlite3.Connection,
    *,
    target: str,
    host: str | None,
    message_id: str,
    source: str | None,
    event_type: str,
    message: str,
    now: float,
) -> bool:
    """Put a message in ``target``'s inbox for its runtime to take and notify ``host``
    (None: nobody; the runtime finds it when it next looks). False when a message of that
    id was there already (counted as a duplicate; nothing else changes)."""
    inserted = conn.execute(
        "INSERT INTO inbox (target_machine, message_id, source_machine, event_type,"
        " message, status, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (target, message_id, source, event_type, message, SENT, now),
    ).rowcount
    if not inserted:
        conn.execute(
            "UPDATE inbox SET duplicates = duplicates + 1"
            " WHERE target_machine = ? AND message_id = ?",
            (target, message_id),
        )
        return False
    if host is not None and is_postgres(conn):
        conn.execute("SELECT pg_notify(?, ?)", (inbox_channel(host), target)).fetchall()
    return True


def take(
    conn: sqlite3.Connection,
    machines: Collection[str],
    durable: Collection[str],
    now: float,
    limit: int = TAKE_LIMIT,
) -> list[dict[str, Any]]:
    """Take the ``sent`` rows of ``machines`` (oldest first, at most ``limit``): those of
    ``durable`` machines become ``pending``, the others ``delivered``. Returns the rows
    taken (``id``, ``target_machine``, ``message_id``, ``message``) in id order."""
    if not machines:
        return []
    names = sorted(machines)
    marks = ", ".join("?" * len(names))
    lock = " FOR UPDATE SKIP LOCKED" if is_postgres(conn) else ""
    rows = list(
        conn.execute(
            "SELECT id, target_machine, message_id, message FROM inbox"
            f" WHERE status = ? AND target_machine IN ({marks}) ORDER BY id LIMIT ?{lock}",
            (SENT, *names, limit),
        )
    )
    if not rows:
        return []
    marked: list[tuple[str, float, int]] = [
        ("pending" if row["target_machine"] in durable else DELIVERED, now, row["id"])
        for row in rows
    ]
    conn.executemany("UPDATE inbox SET status = ?, handled_at = ? WHERE id = ?", marked)
    return rows


def status(conn: sqlite3.Connection, target: str, message_id: str) -> str | None:
    """The status of one inbox row (None: no such row)."""
    row = conn.execute(
        "SELECT status FROM inbox WHERE target_machine = ? AND message_id = ?",
        (target, message_id),
    ).fetchone()
    return None if row is None else str(row["status"])


def waiting(conn: sqlite3.Connection) -> int:
    """Inbox rows sent and not taken by their target's runtime yet (``/health``, tests)."""
    row = conn.execute("SELECT count(*) AS n FROM inbox WHERE status = ?", (SENT,)).fetchone()
    return int(row["n"]) if row else 0


# -- the history feed of the monitor ------------------------------------------------------


#: the history tables the feed reads, each with the columns it needs
_FEED = {
    "state_transitions": "id, machine_name, from_state, to_state, event, timestamp",
    "errors": "id, machine_name, state, action, message, job_id, timestamp",
}


def last_ids(conn: sqlite3.Connection) -> dict[str, int]:
    """The newest id of each history table (where a feed that starts now begins)."""
    ids: dict[str, int] = {}
    for table in _FEED:
        row = conn.execute(f"SELECT max(id) AS id FROM {table}").fetchone()
        ids[table] = int(row["id"] or 0) if row else 0
    return ids


def history_since(
    conn: sqlite3.Connection, after: dict[str, int], limit: int = 2000
) -> dict[str, Sequence[dict[str, Any]]]:
    """The rows of each history table with an id above ``after[table]`` (oldest first, at
    most ``limit`` a table), and the registry (``machine_state``: who runs where now)."""
    found: dict[str, Sequence[dict[str, Any]]] = {}
    for table, columns in _FEED.items():
        found[table] = list(
            conn.execute(
                f"SELECT {columns} FROM {table} WHERE id > ? ORDER BY id LIMIT ?",
                (after.get(table, 0), limit),
            )
        )
    found["machine_state"] = list(
        conn.execute(
            "SELECT machine_name, current_state, config_type, host FROM machine_state"
            " ORDER BY machine_name"
        )
    )
    return found
