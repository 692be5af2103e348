"""``statemachine-db`` commands on events, the registry and history: send-event and its
delivery, list/process/clean events, machine state, transition and error history, health."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from statemachine_engine._liveness import pid_alive
from statemachine_engine.cli._db_common import (
    UserError,
    _database,
    _json_arg,
)
from statemachine_engine.cli._db_durable import checkpoint_json, not_running, print_checkpoints
from statemachine_engine.cli._db_output import (
    json_ready,
    local_time,
    print_json,
    render_fields,
    render_table,
    shorten,
)
from statemachine_engine.persistence import is_db_url, remote_sql, resolve_db_path, transaction
from statemachine_engine.persistence import jobs_sql as jobs
from statemachine_engine.persistence import records_sql as records

#: exit status of ``send-event`` when the event was recorded but could not be delivered
NOT_DELIVERED = 3


def cmd_send_event(args: argparse.Namespace) -> int:
    payload = _json_arg("--payload", args.payload, want_object=False)
    text = json.dumps(payload, separators=(",", ":")) if payload is not None else None
    with _database(args) as conn:
        event_id = records.insert_event(
            conn,
            source_machine=args.source,
            target_machine=args.target,
            event_type=args.type,
            job_id=args.job_id,
            payload=text,
            status="pending",
            now=time.time(),
        )
        endpoint = host = None
        if args.target != "ui":
            row = records.get_machine(conn, args.target)
            endpoint = row.get("endpoint") if row else None
            host = row.get("host") if row else None
    elsewhere = None
    if is_db_url(resolve_db_path(args.db)):
        # hosts share this database: a machine of another host is reached through it
        from statemachine_engine.cli._db_remote import deliver_through_database

        elsewhere = partial(deliver_through_database, args, host)
    # imported here: only send-event delivers, and the transport package costs start-up time
    from statemachine_engine.transport import deliver_event

    delivered, note = deliver_event(
        args.target,
        args.type,
        payload,
        source=args.source,
        job_id=args.job_id,
        endpoint=endpoint,
        prefix=args.control_socket_prefix,
        event_socket_path=args.event_socket_path,
        timeout=args.timeout,
        elsewhere=elsewhere,
        remote=host is not None and host != remote_sql.host_name(),
    )
    # an undelivered event says so, and waits for process-events (a machine's clear_events)
    with _database(args) as conn:
        records.mark_event_delivered(conn, event_id, now=time.time(), delivered=delivered)
    if args.format == "json":
        print_json(
            {
                "id": event_id,
                "target": args.target,
                "type": args.type,
                "job_id": args.job_id,
                "payload": payload,
                "delivered": delivered,
                "note": note,
            }
        )
    else:
        verb = "sent" if delivered else "recorded"
        print(f"Event {verb}: id {event_id}, {args.type} for {args.target}")
        if args.job_id:
            print(f"  Job ID:  {args.job_id}")
        if payload is not None:
            print(f"  Payload: {shorten(text, 200)}")
        if delivered:
            print(f"  Delivered: {note}")
    if not delivered:
        print(f"statemachine-db: not delivered: {note}", file=sys.stderr)
        return NOT_DELIVERED
    return 0


def _event_rows(rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    return [
        [
            row["id"],
            row["source_machine"],
            row["target_machine"],
            row["event_type"],
            row["job_id"],
            row["status"],
            local_time(row["created_at"]),
            shorten(json.dumps(row["payload"]) if row["payload"] is not None else "", 40),
        ]
        for row in rows
    ]


_EVENT_HEADERS = ("ID", "Source", "Target", "Type", "Job ID", "Status", "Created", "Payload")


def cmd_list_events(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        rows = records.list_events(conn, target=args.target, status=args.status, limit=args.limit)
    if args.format == "json":
        print_json([json_ready(row) for row in rows])
    elif not rows:
        print("No events found")
    else:
        print(render_table(_EVENT_HEADERS, _event_rows(rows)))
    return 0


def cmd_process_events(args: argparse.Namespace) -> int:
    with _database(args) as conn, transaction(conn):
        rows = records.pending_events(conn, args.machine)
        if args.mark_processed and rows:
            records.mark_events_processed(
                conn, target=args.machine, event_types=None, now=time.time()
            )
    if args.format == "json":
        print_json([json_ready(row) for row in rows])
    elif not rows:
        print(f"No pending events for {args.machine}")
    else:
        print(f"Pending events for {args.machine}:")
        print(render_table(_EVENT_HEADERS, _event_rows(rows)))
        if args.mark_processed:
            print(f"Marked {len(rows)} event(s) processed")
    return 0


def _pid_alive(pid: Any) -> bool | None:
    """None when the row records no pid (nothing to say), else whether it runs here."""
    if not isinstance(pid, int) or pid <= 0:
        return None
    return pid_alive(pid)


_MACHINE_HEADERS = (
    "Machine",
    "Current State",
    "Config",
    "PID",
    "Alive",
    "Endpoint",
    "Last Activity",
)


def cmd_machine_state(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        if args.machine:
            row = records.get_machine(conn, args.machine)
            rows = [row] if row is not None else []
        else:
            rows = records.list_machines(conn)
        for row in rows:
            row["alive"] = _pid_alive(row["pid"])
        live = [row["machine_name"] for row in rows if row["alive"] is not False]
        resting = not_running(conn, live, args.machine)
    if args.machine and not rows and not resting:
        raise UserError(f"machine {args.machine!r} is not registered")
    if args.format == "json":
        print_json([json_ready(row) for row in rows] + [checkpoint_json(r) for r in resting])
        return 0
    if not rows and not resting:
        print("No machine state data found (no machine is registered)")
    elif not rows:
        print("No machine is running")
    else:
        alive = {True: "yes", False: "NO (stale row)", None: "?"}
        print(
            render_table(
                _MACHINE_HEADERS,
                (
                    [
                        row["machine_name"],
                        row["current_state"],
                        row["config_type"],
                        row["pid"],
                        alive[row["alive"]],
                        row["endpoint"],
                        local_time(row["last_activity"]),
                    ]
                    for row in rows
                ),
            )
        )
    if resting:
        print_checkpoints(resting)
    return 0


def _since(hours: float | None) -> float | None:
    return time.time() - hours * 3600 if hours is not None else None


def cmd_transition_history(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        rows = records.list_transitions(
            conn, machine=args.machine, since=_since(args.hours), limit=args.limit
        )
    if args.format == "json":
        print_json([json_ready(row) for row in rows])
    elif not rows:
        print("No transitions found")
    else:
        print(
            render_table(
                ("Time", "Machine", "From", "To", "Event"),
                (
                    [
                        local_time(r["timestamp"]),
                        r["machine_name"],
                        r["from_state"],
                        r["to_state"],
                        r["event"],
                    ]
                    for r in rows
                ),
            )
        )
    return 0


def cmd_error_history(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        rows = records.list_errors(
            conn, machine=args.machine, since=_since(args.hours), limit=args.limit
        )
    if args.format == "json":
        print_json([json_ready(row) for row in rows])
    elif not rows:
        print("No errors found")
    else:
        print(
            render_table(
                ("Time", "Machine", "State", "Action", "Job ID", "Message"),
                (
                    [
                        local_time(r["timestamp"]),
                        r["machine_name"],
                        r["state"],
                        r["action"],
                        r["job_id"],
                        shorten(r["message"], 60),
                    ]
                    for r in rows
                ),
            )
        )
    return 0


def cmd_list_errors(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        errors = records.list_errors(conn, limit=args.limit)
        failed = jobs.list_jobs(conn, status="failed", limit=args.limit)
    items: list[dict[str, Any]] = [
        {
            "kind": "error",
            "timestamp": r["timestamp"],
            "machine_name": r["machine_name"],
            "job_id": r["job_id"],
            "message": r["message"],
        }
        for r in errors
    ]
    items += [
        {
            "kind": "failed_job",
            "timestamp": j["completed_at"] or j["updated_at"],
            "machine_name": j["claimed_by"],
            "job_id": j["job_id"],
            "message": j["error_message"],
        }
        for j in failed
    ]
    items.sort(key=lambda item: item["timestamp"] or 0, reverse=True)
    items = items[: args.limit]
    if args.format == "json":
        print_json([json_ready(item) for item in items])
    elif not items:
        print("No errors or failed jobs found")
    else:
        print(
            render_table(
                ("Time", "Kind", "Machine", "Job ID", "Message"),
                (
                    [
                        local_time(i["timestamp"]),
                        i["kind"],
                        i["machine_name"],
                        i["job_id"],
                        shorten(i["message"], 60),
                    ]
                    for i in items
                ),
            )
        )
    return 0


def cmd_machine_health(args: argparse.Namespace) -> int:
    now = time.time()
    with _database(args) as conn:
        machines = records.list_machines(conn)
        counts = jobs.count_jobs(conn)
        stuck = jobs.stuck_jobs(conn, now=now)
        retrying = jobs.count_retrying(conn)
        recent_errors = len(records.list_errors(conn, since=now - 3600, limit=None))
        events = records.count_events(conn)
    stale = [m["machine_name"] for m in machines if _pid_alive(m["pid"]) is False]
    report: dict[str, Any] = {
        "machines": len(machines),
        "stale_machines": stale,
        "jobs": counts,
        "stuck_jobs": [
            {"job_id": j["job_id"], "claimed_by": j["claimed_by"], "lease_until": j["lease_until"]}
            for j in stuck
        ],
        "retrying_jobs": retrying,
        "errors_last_hour": recent_errors,
        "events_pending": events["pending"],
        "healthy": not stale and not stuck,
    }
    if args.format == "json":
        report["stuck_jobs"] = [json_ready(j) for j in report["stuck_jobs"]]
        print_json(report)
        return 0
    print("Machine health: " + ("OK" if report["healthy"] else "ATTENTION"))
    print(
        render_fields(
            [
                ("Machines registered", str(len(machines))),
                ("Stale registry rows", ", ".join(stale) or "none"),
                (
                    "Jobs",
                    f"{counts['pending']} pending, {counts['processing']} processing, "
                    f"{counts['completed']} completed, {counts['failed']} failed",
                ),
                ("Waiting to retry", str(retrying)),
                ("Stuck jobs (lease lapsed)", str(len(stuck)) if stuck else "none"),
                ("Errors in the last hour", str(recent_errors)),
                ("Events not delivered", str(events["pending"])),
            ]
        )
    )
    for job in stuck:
        print(f"    {job['job_id']} held by {job['claimed_by'] or '?'}")
    return 0
