"""The audit log of operator actions: one row per action (also a refused one), newest first.
Plain functions over a ``sqlite3`` connection; the caller owns the transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from statemachine_engine.persistence._codec import errors, loads_object
from statemachine_engine.persistence._timeline_sql import check_limit

T = TypeVar("T")

#: the result of an action that did what it was asked
OK = "ok"


def audited(
    conn: sqlite3.Connection,
    fn: Callable[[sqlite3.Connection, float], T],
    *,
    actor: str,
    action: str,
    target: str | None,
    detail: Mapping[str, Any] | None,
    now: float,
) -> tuple[T | None, Exception | None]:
    """Run the operator action ``fn(conn, now)`` and append its audit entry: ``(value,
    None)``, or ``(None, error)`` when it refused with a StoreError (nothing written but
    the entry, whose result is the error). ``fn`` must check before it writes. A list
    result is counted in the entry's detail (``count``)."""
    try:
        value = fn(conn, now)
    except errors().StoreError as exc:
        record(conn, actor=actor, action=action, target=target, detail=detail, result=str(exc),
               at=now)  # fmt: skip
        return None, exc
    done = dict(detail or {})
    if isinstance(value, list):
        done["count"] = len(value)
    record(conn, actor=actor, action=action, target=target, detail=done or None, result=OK, at=now)
    return value, None


def record(
    conn: sqlite3.Connection,
    *,
    actor: str,
    action: str,
    target: str | None,
    detail: Mapping[str, Any] | None,
    result: str,
    at: float,
) -> int:
    """Append one entry; returns its id. ``result``: :data:`OK`, else what was wrong."""
    text = json.dumps(dict(detail), separators=(",", ":"), default=str) if detail else None
    row = conn.execute(
        "INSERT INTO audit_log (at, actor, action, target, detail, result)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (at, actor, action, target, text, result),
    ).fetchone()
    return int(row["id"])


def entries(
    conn: sqlite3.Connection, *, limit: int = 50, before: str | None = None
) -> dict[str, Any]:
    """``{"entries": [...], "next_before": cursor or None}``, newest first (by id)."""
    check_limit(limit)
    params: list[Any] = []
    sql = "SELECT * FROM audit_log"
    if before:
        try:
            params.append(int(before))
        except ValueError:
            raise ValueError(
                f"before={before!r} is not a cursor of this listing (pass the next_before it"
                " returned)"
            ) from None
        sql += " WHERE id < ?"
    rows = conn.execute(f"{sql} ORDER BY id DESC LIMIT ?", [*params, limit + 1]).fetchall()
    page = [{**row, "detail": loads_object(row["detail"])} for row in rows[:limit]]
    return {
        "entries": page,
        "next_before": str(page[-1]["id"]) if len(rows) > limit else None,
    }
