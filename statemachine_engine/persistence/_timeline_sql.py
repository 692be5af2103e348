"""Timelines: a machine's (or every machine's) transitions, errors and activity lines merged
newest first, paged with a keyset cursor. Plain functions over a ``sqlite3`` connection.

Each item kind lives in its own table, ordered by ``(timestamp, id)``. A page takes up to
``limit + 1`` rows of each kind below the cursor (one index range scan each), merges them
and keeps ``limit``: the cost of a page does not depend on how much history there is.
The cursor is the last item's ``(timestamp, kind, id)`` as text; items compare by that
triple, so equal timestamps of different kinds are never skipped nor repeated.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Collection, Iterable
from typing import Any, NamedTuple

from statemachine_engine.persistence._codec import loads_object

#: item kinds, in the order they are ranked between equal timestamps (last is newest)
KINDS = ("activity", "error", "transition")
_RANK = {kind: rank for rank, kind in enumerate(KINDS)}

#: the most items one page may hold
MAX_LIMIT = 500


class Cursor(NamedTuple):
    """Where a page ends: items strictly older than this come next."""

    at: float
    rank: int
    id: int

    def encode(self) -> str:
        return f"{self.at!r}:{KINDS[self.rank]}:{self.id}"


def decode_cursor(text: str | None) -> Cursor | None:
    """The cursor a page returned as ``next_before``; ValueError saying what is wrong."""
    if text is None or text == "":
        return None
    parts = text.split(":")
    try:
        at, kind, ident = float(parts[0]), parts[1], int(parts[2])
        if len(parts) != 3 or kind not in _RANK or at != at:
            raise ValueError
    except (ValueError, IndexError):
        raise ValueError(
            f"before={text!r} is not a cursor of this listing (pass the next_before it returned)"
        ) from None
    return Cursor(at, _RANK[kind], ident)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit={limit} is out of range: 1 to {MAX_LIMIT}")
    return limit


_SOURCES = {
    "transition": (
        "SELECT id, machine_name, timestamp, from_state, to_state, event FROM state_transitions"
    ),
    "error": "SELECT id, machine_name, timestamp, state, action, message FROM errors",
    "activity": "SELECT id, machine_name, timestamp, level, message, fields FROM activity_log",
}


def timeline(
    conn: sqlite3.Connection,
    *,
    machine: str | None,
    kinds: Collection[str] = KINDS,
    limit: int = 50,
    before: str | None = None,
) -> dict[str, Any]:
    """``{"items": [...], "next_before": cursor or None}``: the newest ``limit`` items of
    ``kinds`` below ``before`` for ``machine`` (None: every machine, each item naming its
    machine). Raises ValueError for an unknown kind, a bad limit or cursor."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"kind={unknown[0]!r} is not one of {', '.join(KINDS)}")
    check_limit(limit)
    cursor = decode_cursor(before)
    streams = [_rows(conn, kind, machine, cursor, limit + 1) for kind in KINDS if kind in kinds]
    merged = list(heapq.merge(*streams, key=lambda item: item[0], reverse=True))
    page = merged[:limit]
    more = len(merged) > limit
    items = [_item(kind, row, with_machine=machine is None) for (_, kind, row) in page]
    return {
        "items": items,
        "next_before": Cursor(*page[-1][0]).encode() if more and page else None,
    }


def _rows(
    conn: sqlite3.Connection, kind: str, machine: str | None, cursor: Cursor | None, limit: int
) -> Iterable[tuple[tuple[float, int, int], str, dict[str, Any]]]:
    rank = _RANK[kind]
    sql = _SOURCES[kind] + " WHERE TRUE"
    params: list[Any] = []
    if machine is not None:
        sql += " AND machine_name = ?"
        params.append(machine)
    if cursor is not None:
        # rows of a kind ranked below the cursor's may share its timestamp; above, may not
        if rank < cursor.rank:
            sql += " AND timestamp <= ?"
            params.append(cursor.at)
        elif rank > cursor.rank:
            sql += " AND timestamp < ?"
            params.append(cursor.at)
        else:
            sql += " AND (timestamp < ? OR (timestamp = ? AND id < ?))"
            params += [cursor.at, cursor.at, cursor.id]
    sql += " ORDER BY timestamp DESC, id DESC LIMIT ?"
    params.append(limit)
    return [
        ((float(row["timestamp"]), rank, row["id"]), kind, row) for row in conn.execute(sql, params)
    ]


def _item(kind: str, row: dict[str, Any], *, with_machine: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": kind, "at": float(row["timestamp"]), "id": row["id"]}
    if kind == "transition":
        item.update(from_state=row["from_state"], to_state=row["to_state"], event=row["event"])
    elif kind == "error":
        item.update(state=row["state"], message=row["message"], action=row["action"])
    else:
        item.update(message=row["message"], level=row["level"])
        fields = loads_object(row["fields"])
        if fields:
            item["fields"] = fields
    if with_machine:
        item["machine"] = row["machine_name"]
    return item


def insert_activity(
    conn: sqlite3.Connection,
    machine_name: str,
    *,
    message: str,
    level: str,
    job_id: str | None,
    fields: str | None,
    timestamp: float,
) -> None:
    """One activity line (``fields``: JSON text of its extra fields, or NULL)."""
    conn.execute(
        "INSERT INTO activity_log (machine_name, level, message, job_id, fields, timestamp)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (machine_name, level, message, job_id, fields, timestamp),
    )
