"""``statemachine-db`` commands on durable machines: their checkpoints, inbox and outbox."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from statemachine_engine.cli._db_common import _database
from statemachine_engine.cli._db_output import (
    json_ready,
    local_time,
    print_json,
    render_table,
    shorten,
)
from statemachine_engine.persistence import durable_sql as durable

#: a checkpoint's status as a user reads it ("running": its process died without a word)
_STATUS = {"running": "interrupted", "stopped": "stopped", "crashed": "crashed"}
_CHECKPOINT_HEADERS = ("Machine", "State", "Status", "Step", "At", "Entered", "Saved")


def not_running(conn: Any, running: Sequence[str], machine: str | None) -> list[dict[str, Any]]:
    """Checkpoints of durable machines that are not running (``running``: the names of the
    registry's live rows), ``machine`` only when given."""
    rows = [
        row
        for row in durable.checkpoints(conn)
        if row["machine_name"] not in running and row["status"] != "final"
    ]
    return [row for row in rows if machine is None or row["machine_name"] == machine]


def print_checkpoints(rows: Sequence[Mapping[str, Any]]) -> None:
    """The table ``machine-state`` prints under the running machines."""
    print()
    print("Durable machines not running (the same command resumes them; --fresh starts over):")
    print(
        render_table(
            _CHECKPOINT_HEADERS,
            (
                [
                    row["machine_name"],
                    row["state"],
                    _STATUS.get(row["status"], row["status"]),
                    row["step"],
                    _position(row),
                    local_time(row["entered_at"]),
                    local_time(row["updated_at"]),
                ]
                for row in rows
            ),
        )
    )


def checkpoint_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint as ``machine-state --format json`` lists it beside the registry rows."""
    data = json_ready(row)
    data["current_state"] = row["state"]
    data["context"] = json.loads(row["context"]) if row.get("context") else {}
    data["durable"] = True
    data["alive"] = False
    return data


def _position(row: Mapping[str, Any]) -> str:
    """Where in its actions the machine was: ``entry 2/attempt 1`` and the like."""
    where = f"{row['phase']} action {row['action_index']}"
    return f"{where}, attempt {row['attempt']}" if row["attempt"] else where


def cmd_inbox(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        rows = durable.list_inbox(conn, machine=args.machine, status=args.status, limit=args.limit)
    headers = ("ID", "Target", "Message ID", "Source", "Type", "Status", "Dup", "Received")
    columns = ("target_machine", "source_machine", "duplicates", "received_at")
    return _print_messages(args, rows, "inbox", headers, columns)


def cmd_outbox(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        rows = durable.list_outbox(conn, machine=args.machine, status=args.status, limit=args.limit)
    headers = ("ID", "Source", "Message ID", "Target", "Type", "Status", "Tries", "Sent")
    columns = ("source_machine", "target_machine", "attempts", "created_at")
    return _print_messages(args, rows, "outbox", headers, columns)


def _print_messages(
    args: argparse.Namespace,
    rows: Sequence[Mapping[str, Any]],
    box: str,
    headers: Sequence[str],
    columns: tuple[str, str, str, str],
) -> int:
    """An inbox or outbox listing: ``columns`` are the one machine, the other machine, a
    count and a time, around the id, type and status every message has."""
    if args.format == "json":
        print_json([_message_json(row) for row in rows])
    elif not rows:
        print(f"No {box} messages found")
    else:
        mine, other, count, when = columns
        print(
            render_table(
                headers,
                (
                    [
                        row["id"],
                        row[mine],
                        shorten(row["message_id"], 30),
                        row[other],
                        row["event_type"],
                        row["status"],
                        row[count],
                        local_time(row[when]),
                    ]
                    for row in rows
                ),
            )
        )
    return 0


def _message_json(row: Mapping[str, Any]) -> dict[str, Any]:
    data = json_ready(row)
    with contextlib.suppress(TypeError, ValueError):
        data["message"] = json.loads(row["message"])
    return data
