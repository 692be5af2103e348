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
    if args.format == "json":
        print_json([_message_json(row) for row in rows])
    elif not rows:
        print("No inbox messages found")
    else:
        print(
            render_table(
                ("ID", "Target", "Message ID", "Source", "Type", "Status", "Dup", "Received"),
                (
                    [
                        row["id"],
                        row["target_machine"],
                        shorten(row["message_id"], 30),
                        row["source_machine"],
                        row["event_type"],
                        row["status"],
                        row["duplicates"],
                        local_time(row["received_at"]),
                    ]
                    for row in rows
                ),
            )
        )
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        rows = durable.list_outbox(conn, machine=args.machine, status=args.status, limit=args.limit)
    if args.format == "json":
        print_json([_message_json(row) for row in rows])
    elif not rows:
        print("No outbox messages found")
    else:
        print(
            render_table(
                ("ID", "Source", "Message ID", "Target", "Type", "Status", "Tries", "Sent"),
                (
                    [
                        row["id"],
                        row["source_machine"],
                        shorten(row["message_id"], 30),
                        row["target_machine"],
                        row["event_type"],
                        row["status"],
                        row["attempts"],
                        local_time(row["created_at"]),
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
