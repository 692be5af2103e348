"""``statemachine-db`` operator actions on jobs (retry, cancel, requeue) and on the registry
(forget-machine), and the audit log.

Each action is audited as ``cli:<user>``, as the monitor's actions are as ``ui:<address>``:
also a refused one (a job that has not failed cannot be retried), whose entry holds the
error. A refusal exits 1 with the reason on stderr.
"""

from __future__ import annotations

import argparse
import getpass
import os
import time
from collections.abc import Callable
from typing import Any

from statemachine_engine.cli._db_common import UserError, _database, _positive_int
from statemachine_engine.cli._db_output import (
    json_ready,
    local_time,
    print_json,
    render_fields,
    render_table,
    shorten,
)
from statemachine_engine.persistence import transaction

#: the title of each action's confirmation
_ACTIONS = {
    "retry": "Job back in the queue",
    "cancel": "Job cancelled",
    "requeue": "Job back in the queue",
}


def actor() -> str:
    """Who runs this command, as the audit log names them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        return f"cli:uid {os.getuid()}"


def _act(args: argparse.Namespace, action: str) -> int:
    # imported on use: the admin SQL pulls in the error tree (attrs), which listings avoid
    from statemachine_engine.persistence import audit_sql
    from statemachine_engine.persistence import jobs_admin_sql as admin

    do: Callable[..., dict[str, Any]] = {
        "retry": admin.retry_job,
        "cancel": admin.cancel_job,
        "requeue": admin.requeue_job,
    }[action]
    with _database(args) as conn, transaction(conn):
        job, error = audit_sql.audited(
            conn,
            lambda c, now: do(c, args.job_id, now=now),
            actor=actor(),
            action=action,
            target=args.job_id,
            detail=None,
            now=time.time(),
        )
    if error is not None:
        raise UserError(str(error))
    assert job is not None
    if args.format == "json":
        print_json(json_ready(job))
        return 0
    print(f"{_ACTIONS[action]}: {job['job_id']}")
    print(render_fields([("Status", job["status"]), ("Attempts", str(job["attempts"]))]))
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    return _act(args, "retry")


def cmd_cancel(args: argparse.Namespace) -> int:
    return _act(args, "cancel")


def cmd_requeue(args: argparse.Namespace) -> int:
    return _act(args, "requeue")


def cmd_forget_machine(args: argparse.Namespace) -> int:
    from statemachine_engine.persistence import audit_sql, records_sql

    with _database(args) as conn, transaction(conn):
        row, error = audit_sql.audited(
            conn,
            lambda c, now: records_sql.forget_machine(c, args.machine, now=now),
            actor=actor(),
            action="forget-machine",
            target=args.machine,
            detail=None,
            now=time.time(),
        )
    if error is not None:
        raise UserError(str(error))
    assert row is not None
    if args.format == "json":
        print_json(json_ready(row))
        return 0
    where = f" on host {row['host']}" if row.get("host") else ""
    print(f"Machine forgotten: {row['machine_name']} (was {row['current_state']}{where})")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from statemachine_engine.persistence import audit_sql

    with _database(args) as conn:
        page = audit_sql.entries(conn, limit=args.limit)["entries"]
    if args.format == "json":
        print_json([json_ready(entry) for entry in page])
        return 0
    if not page:
        print("No operator actions recorded")
        return 0
    rows = [
        [
            str(e["id"]),
            local_time(e["at"]),
            e["actor"],
            e["action"],
            e["target"] or "-",
            shorten(e["result"], 60),
        ]
        for e in page
    ]
    print(render_table(["ID", "When", "Who", "Action", "Target", "Result"], rows))
    return 0


def add_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Register the subcommands with ``statemachine-db``'s ``command(name, handler, ...)``."""
    for name, handler, help in (
        ("retry", cmd_retry, "put a failed job back in the queue, its attempts reset (audited)"),
        ("cancel", cmd_cancel, "cancel a pending job: it fails, no worker takes it (audited)"),
        ("requeue", cmd_requeue, "put a processing job back in the queue now (audited)"),
    ):
        command(name, handler, help, listing=True, existing=True).add_argument(
            "job_id", metavar="JOB_ID"
        )
    command(
        "forget-machine",
        cmd_forget_machine,
        "remove a machine's registry row whose runtime is gone for good (audited)",
        listing=True,
        existing=True,
    ).add_argument("machine", metavar="MACHINE")
    p = command("audit", cmd_audit, "operator actions, newest first", listing=True, existing=True)
    p.add_argument("--limit", type=_positive_int, default=20)
