"""``statemachine-db``: inspect and change the job queue, events, registry and history.

Every subcommand takes ``--db PATH`` (default ``$STATEMACHINE_DB``, else
``./data/pipeline.db``); listings take ``--format table|json``. Exit status: 0 on success,
1 for bad input or something not found (one line on stderr, nothing written).

This module imports neither trio nor the runtime (nor attrs on its success paths): the short
commands must start fast. It works on the database through the synchronous SQL layer.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from statemachine_engine.cli._db_output import (
    json_ready,
    local_time,
    print_json,
    render_fields,
    render_table,
    shorten,
)
from statemachine_engine.persistence import _jobs_sql as jobs
from statemachine_engine.persistence import _records_sql as records
from statemachine_engine.persistence._paths import resolve_db_path
from statemachine_engine.persistence._schema import (
    SCHEMA_VERSION,
    connect,
    drop_all,
    ensure_schema,
    transaction,
)

PROG = "statemachine-db"

# Job statuses and event statuses (as in _jobs_sql / _records_sql), spelled out here so
# that --help needs no import beyond the SQL modules.
JOB_STATUSES = jobs.JOB_STATUSES
EVENT_STATUSES = records.EVENT_STATUSES


class UserError(Exception):
    """Bad input or something not found: reported on one line, exit status 1."""


# -- arguments ----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Usage mistakes exit with status 1 and one line, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_when(text: str, *, now: float) -> float:
    """``--run-at``: epoch seconds, ``+N[s|m|h|d]`` from now, or an ISO-8601 date-time
    (local time unless it carries an offset)."""
    value = text.strip()
    if value.startswith("+"):
        number, unit = value[1:], ""
        if number and number[-1].lower() in "smhd":
            number, unit = number[:-1], number[-1].lower()
        try:
            return now + float(number) * _UNITS[unit]
        except ValueError:
            pass
    else:
        try:
            return float(value)
        except ValueError:
            pass
        from datetime import datetime  # only --run-at needs it

        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise UserError(
        f"--run-at: cannot read {text!r}; use epoch seconds, +30s / +5m / +2h / +1d, "
        "or an ISO-8601 date-time such as 2026-05-01T12:00:00"
    )


def _json_arg(flag: str, text: str | None, *, want_object: bool) -> Any:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UserError(f"{flag} is not valid JSON ({exc}): {shorten(text, 60)}") from None
    if want_object and not isinstance(value, dict):
        raise UserError(f'{flag} must be a JSON object such as \'{{"key": "value"}}\'')
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Inspect and manage the statemachine-engine database: jobs, events, "
        "running machines and their history.",
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="database file (default: $STATEMACHINE_DB, else ./data/pipeline.db)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help: str, *, listing: bool
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        # also accepted after the subcommand; SUPPRESS keeps the global value otherwise
        p.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help="database file")
        if listing:
            p.add_argument(
                "--format", choices=("table", "json"), default="table", help="output format"
            )
        p.set_defaults(handler=handler)
        return p

    command("status", cmd_status, "job counts by status", listing=True).add_argument(
        "--type", help="only jobs of this type"
    )

    p = command("list", cmd_list, "list jobs, newest first", listing=True)
    p.add_argument("--status", choices=JOB_STATUSES)
    p.add_argument("--type", help="only jobs of this type")
    p.add_argument("--machine-type", help="only jobs routed to this machine type")
    p.add_argument("--limit", type=_positive_int, default=20)

    p = command("details", cmd_details, "show one job", listing=True)
    p.add_argument("job_id", metavar="JOB_ID")

    p = command("cleanup", cmd_cleanup, "delete jobs of one status", listing=False)
    p.add_argument("--status", choices=JOB_STATUSES, required=True)
    p.add_argument(
        "--older-than", type=_non_negative, metavar="HOURS", help="only jobs created earlier"
    )

    p = command(
        "reset-processing",
        cmd_reset_processing,
        "put processing jobs back to pending (those started over --minutes ago, or all)",
        listing=False,
    )
    p.add_argument("--force", action="store_true", help="reset every processing job")
    p.add_argument("--minutes", type=_non_negative, default=10.0)

    p = command("cleanup-events", cmd_cleanup_events, "delete audited events", listing=False)
    p.add_argument("--status", choices=EVENT_STATUSES, help="only events with this status")

    p = command("add-job", cmd_add_job, "add a pending job", listing=True)
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("--type", required=True, help="job type")
    p.add_argument("--machine-type", help="machine type that takes it (default: the job type)")
    p.add_argument("--input-file", help="a file that must exist; stored as data.input_file_path")
    p.add_argument("--payload", help="job data as a JSON object")
    p.add_argument("--priority", type=int, default=jobs.DEFAULT_PRIORITY, help="1 = highest")
    p.add_argument(
        "--run-at", help="not before: epoch seconds, +30s/+5m/+2h/+1d, or ISO-8601 date-time"
    )
    p.add_argument("--max-attempts", type=_positive_int, default=jobs.DEFAULT_MAX_ATTEMPTS)
    p.add_argument("--source-job-id", help="the job this one was made from")

    p = command("complete-job", cmd_complete_job, "mark a job completed", listing=True)
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("--result", help="a JSON value stored with the job")

    p = command("fail-job", cmd_fail_job, "mark a job failed", listing=True)
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("--reason", required=True)
    p.add_argument(
        "--retry", action="store_true", help="retry after a backoff if it has attempts left"
    )

    p = command("remove-job", cmd_remove_job, "delete a job", listing=False)
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("--reason", help="noted in the confirmation")

    p = command(
        "recreate-database",
        cmd_recreate_database,
        "drop every table and create them empty",
        listing=False,
    )
    p.add_argument("--force", "--yes", action="store_true", help="do not ask")

    p = command(
        "send-event",
        cmd_send_event,
        "send an event to a running machine (through its control socket) and record it",
        listing=True,
    )
    p.add_argument("--target", required=True, help="the machine it is for ('ui': the monitor)")
    p.add_argument("--type", required=True, help="event type")
    p.add_argument("--source", default="cli", help="sender name (default: cli)")
    p.add_argument("--job-id")
    p.add_argument("--payload", help="a JSON value")
    p.add_argument(
        "--control-socket-prefix",
        help="control sockets are PREFIX-<machine>.sock when the registry names no endpoint "
        "(default /tmp/statemachine-control)",
    )
    p.add_argument(
        "--event-socket-path",
        help="the monitor's event socket, for --target ui (default /tmp/statemachine-events.sock)",
    )
    p.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for the acknowledgement (5)"
    )

    p = command("list-events", cmd_list_events, "list audited events, newest first", listing=True)
    p.add_argument("--target")
    p.add_argument("--status", choices=EVENT_STATUSES)
    p.add_argument("--limit", type=_positive_int, default=20)

    p = command(
        "process-events",
        cmd_process_events,
        "show a machine's pending (undelivered) events, oldest first",
        listing=True,
    )
    p.add_argument("machine", metavar="MACHINE")
    p.add_argument("--mark-processed", action="store_true", help="then mark them processed")

    p = command("machine-state", cmd_machine_state, "running machines (registry)", listing=True)
    p.add_argument("--machine", help="only this machine")
    p = command("machine-status", cmd_machine_state, "same as machine-state", listing=True)
    p.add_argument("--machine", help="only this machine")

    for name, handler, what in (
        ("transition-history", cmd_transition_history, "state transitions"),
        ("error-history", cmd_error_history, "recorded errors"),
    ):
        p = command(name, handler, f"{what}, newest first", listing=True)
        p.add_argument("--machine", help="only this machine")
        p.add_argument("--hours", type=_non_negative, help="only the last N hours")
        p.add_argument("--limit", type=_positive_int, default=20)

    p = command(
        "list-errors",
        cmd_list_errors,
        "recorded errors and failed jobs, newest first",
        listing=True,
    )
    p.add_argument("--limit", type=_positive_int, default=50)

    command(
        "machine-health",
        cmd_machine_health,
        "machines, stuck jobs, retries and recent errors at a glance",
        listing=True,
    )
    return parser


# -- commands ------------------------------------------------------------------------------


@contextmanager
def _database(args: argparse.Namespace, *, migrate: bool = True) -> Iterator[sqlite3.Connection]:
    """The database of ``--db`` (created on first use), closed afterwards."""
    conn = connect(resolve_db_path(args.db), migrate=migrate)
    try:
        yield conn
    finally:
        conn.close()


def _job_row(job: Mapping[str, Any]) -> list[Any]:
    return [
        job["job_id"],
        job["job_type"],
        job["machine_type"],
        job["status"],
        job["priority"],
        f"{job['attempts']}/{job['max_attempts']}",
        local_time(job["created_at"]),
        local_time(job["updated_at"]),
    ]


_JOB_HEADERS = (
    "Job ID",
    "Type",
    "Machine Type",
    "Status",
    "Priority",
    "Attempts",
    "Created",
    "Updated",
)


def _job_fields(job: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [
        ("Status", job["status"]),
        ("Job Type", job["job_type"]),
        ("Machine Type", job["machine_type"]),
        ("Priority", job["priority"]),
        ("Attempts", f"{job['attempts']} of {job['max_attempts']}"),
        ("Created", local_time(job["created_at"])),
        ("Run At", local_time(job["run_at"])),
        ("Started", local_time(job["started_at"])),
        ("Completed", local_time(job["completed_at"])),
        ("Claimed By", job["claimed_by"]),
        ("Lease Until", local_time(job["lease_until"])),
        ("Source Job", job["source_job_id"]),
        ("Error", job["error_message"]),
        ("Data", job["data"] or None),
        ("Result", job["result"]),
        ("Database ID", job["id"]),
    ]


def _print_job(args: argparse.Namespace, title: str, job: Mapping[str, Any]) -> None:
    if getattr(args, "format", "table") == "json":
        print_json(json_ready(job))
        return
    print(f"{title}: {job['job_id']}")
    print(render_fields(_job_fields(job)))


def cmd_status(args: argparse.Namespace) -> int:
    path = resolve_db_path(args.db)
    with _database(args) as conn:
        counts = jobs.count_jobs(conn, job_type=args.type)
        events = records.count_events(conn)
        machines = len(records.list_machines(conn))
    if args.format == "json":
        print_json(
            {
                "database": path,
                "schema_version": SCHEMA_VERSION,
                "jobs": counts,
                "events": events,
                "machines": machines,
            }
        )
        return 0
    suffix = f" (type {args.type})" if args.type else ""
    print(f"Database Status{suffix}: {path}")
    print(
        render_fields(
            [
                ("Total", str(counts["total"])),
                ("Pending", str(counts["pending"])),
                ("Processing", str(counts["processing"])),
                ("Completed", str(counts["completed"])),
                ("Failed", str(counts["failed"])),
                ("Events pending", str(events["pending"])),
                ("Machines", str(machines)),
            ]
        )
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        rows = jobs.list_jobs(
            conn,
            status=args.status,
            job_type=args.type,
            machine_type=args.machine_type,
            limit=args.limit,
        )
    if args.format == "json":
        print_json([json_ready(row) for row in rows])
    elif not rows:
        what = f" of type {args.type}" if args.type else ""
        status = f" with status '{args.status}'" if args.status else ""
        print(f"No jobs{what}{status} found")
    else:
        print(render_table(_JOB_HEADERS, (_job_row(row) for row in rows)))
    return 0


def cmd_details(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        job = jobs.get_job(conn, args.job_id)
    if job is None:
        raise UserError(f"job {args.job_id!r} not found")
    _print_job(args, "Job Details", job)
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    if args.status == "processing":
        raise UserError(
            "refusing to delete processing jobs: workers hold them; "
            "run reset-processing first, or wait for them to finish"
        )
    hours = args.older_than
    with _database(args) as conn:
        count = jobs.delete_jobs(
            conn,
            status=args.status,
            older_than=hours * 3600 if hours is not None else None,
            now=time.time(),
        )
    print(f"Deleted {count} {args.status} job(s)")
    return 0


def cmd_reset_processing(args: argparse.Namespace) -> int:
    older_than = None if args.force else args.minutes * 60
    with _database(args) as conn:
        reset = jobs.reset_processing(conn, now=time.time(), older_than=older_than)
    if not reset:
        scope = "" if args.force else f" started more than {args.minutes:g} minutes ago"
        print(f"No processing jobs{scope}")
        return 0
    print(f"Reset {len(reset)} processing job(s) to pending:")
    for row in reset:
        print(f"  {row['job_id']}")
    return 0


def cmd_cleanup_events(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        count = records.delete_events(conn, status=args.status)
    which = f" {args.status}" if args.status else ""
    print(f"Deleted {count}{which} event(s)")
    return 0


def cmd_add_job(args: argparse.Namespace) -> int:
    now = time.time()
    data = _json_arg("--payload", args.payload, want_object=True) or {}
    if args.input_file is not None:
        path = os.path.abspath(os.path.expanduser(args.input_file))
        if not os.path.isfile(path):
            raise UserError(f"--input-file: no such file: {args.input_file}")
        data["input_file_path"] = path
    run_at = parse_when(args.run_at, now=now) if args.run_at is not None else None
    new = jobs.NewJob(
        job_id=args.job_id,
        job_type=args.type,
        machine_type=args.machine_type,
        data=data,
        priority=args.priority,
        run_at=run_at,
        max_attempts=args.max_attempts,
        source_job_id=args.source_job_id,
    )
    with _database(args) as conn:
        job = jobs.add_job(conn, new, now=now)
        endpoints = sorted(
            {m["endpoint"] for m in records.list_machines(conn) if m.get("endpoint")}
        )
    _print_job(args, "Job created", job)
    ring_doorbells(endpoints, job["machine_type"] or job["job_type"])
    return 0


#: the control message that wakes a runtime's workers waiting for jobs (service.JOB_DOORBELL)
JOB_DOORBELL = "sm.job_added"


def ring_doorbells(endpoints: Sequence[str], machine_type: str) -> None:
    """Wake workers waiting for jobs in other runtimes at once (they poll slowly otherwise).

    Best effort: a runtime that is gone or slow is skipped after a short timeout.
    """
    if not endpoints:
        return
    from statemachine_engine.errors import TransportError
    from statemachine_engine.transport._control_client import send_to_socket
    from statemachine_engine.transport._paths import endpoint_path

    bell = {"type": JOB_DOORBELL, "payload": {"machine_type": machine_type}}
    for endpoint in endpoints:
        try:
            send_to_socket(endpoint_path(endpoint), bell, timeout=0.5)
        except TransportError:
            continue


def cmd_complete_job(args: argparse.Namespace) -> int:
    result = _json_arg("--result", args.result, want_object=False)
    with _database(args) as conn:
        job = jobs.complete_job(conn, args.job_id, now=time.time(), result=result)
    _print_job(args, "Job completed", job)
    return 0


def cmd_fail_job(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        job = jobs.fail_job(conn, args.job_id, error=args.reason, now=time.time(), retry=args.retry)
    title = "Job will be retried" if job["status"] == "pending" else "Job failed"
    _print_job(args, title, job)
    return 0


def cmd_remove_job(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        job = jobs.delete_job(conn, args.job_id)
    reason = f" ({args.reason})" if args.reason else ""
    print(f"Removed job {job['job_id']} (status was {job['status']}){reason}")
    return 0


def cmd_recreate_database(args: argparse.Namespace) -> int:
    path = resolve_db_path(args.db)
    if not args.force:
        if not sys.stdin.isatty():
            raise UserError(
                f"recreate-database deletes every job, event and record in {path}; "
                "pass --force to confirm"
            )
        answer = input(f"Delete every job, event and record in {path}? Type 'yes': ")
        if answer.strip().lower() != "yes":
            print("Nothing changed")
            return 0
    with _database(args, migrate=False) as conn:
        drop_all(conn)
        ensure_schema(conn)
    print(f"Recreated the database {path} (schema version {SCHEMA_VERSION})")
    return 0


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
        endpoint = None
        if args.target != "ui":
            row = records.get_machine(conn, args.target)
            endpoint = row.get("endpoint") if row else None
    delivered, note = deliver_event(args, payload, endpoint)
    if delivered:  # an undelivered event stays pending (see process-events)
        with _database(args) as conn:
            conn.execute(
                "UPDATE machine_events SET status = 'delivered', processed_at = ? WHERE id = ?",
                (time.time(), event_id),
            )
            conn.commit()
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


def deliver_event(args: argparse.Namespace, payload: Any, endpoint: str | None) -> tuple[bool, str]:
    """Deliver a recorded event; returns (delivered, note).

    A machine gets it through the control socket its registry row names (else the path
    convention) and must acknowledge it; ``--target ui`` publishes it to the monitor's event
    socket as an event of machine ``--source``.
    """
    # imported only here: the transport's error type pulls in the error tree
    from statemachine_engine.errors import TransportError

    if args.target == "ui":
        from statemachine_engine.transport._event_client import send_events
        from statemachine_engine.transport._paths import DEFAULT_EVENT_SOCKET
        from statemachine_engine.transport._protocol import MachineEvent

        path = args.event_socket_path or DEFAULT_EVENT_SOCKET
        body = (
            payload
            if isinstance(payload, dict)
            else ({} if payload is None else {"value": payload})
        )
        event = MachineEvent(args.source, args.type, body, time.time(), 0)
        try:
            send_events([event], path, timeout=args.timeout)
        except TransportError as exc:
            return False, str(exc)
        return True, f"published to the monitor at {path}"

    from statemachine_engine.transport._control_client import send_to_socket
    from statemachine_engine.transport._paths import resolve_socket_path

    message: dict[str, Any] = {"type": args.type, "payload": payload if payload is not None else {}}
    message.update(target=args.target, source=args.source)
    if args.job_id:
        message["job_id"] = args.job_id
    try:
        path = resolve_socket_path(args.target, endpoint, args.control_socket_prefix)
        send_to_socket(path, message, timeout=args.timeout)
    except TransportError as exc:
        return False, str(exc)
    return True, f"acknowledged by {path}"


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
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
            if row is None:
                raise UserError(f"machine {args.machine!r} is not registered")
            rows = [row]
        else:
            rows = records.list_machines(conn)
    for row in rows:
        row["alive"] = _pid_alive(row["pid"])
    if args.format == "json":
        print_json([json_ready(row) for row in rows])
    elif not rows:
        print("No machine state data found (no machine is registered)")
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
        retrying = conn.execute(
            "SELECT count(*) AS n FROM jobs WHERE status = 'pending' AND attempts > 0"
        ).fetchone()["n"]
        recent_errors = len(records.list_errors(conn, since=now - 3600, limit=None))
        events = records.count_events(conn)
    stale = [m["machine_name"] for m in machines if _pid_alive(m["pid"]) is False]
    report = {
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


# -- entry point ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage mistake (already reported)
        return exc.code if isinstance(exc.code, int) else 1
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (| head): not an error of ours
        sys.stderr.close()
        return 0
    except Exception as exc:
        message = _user_message(exc)
        if message is None:
            raise
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return 1


def _user_message(exc: Exception) -> str | None:
    """The one-line message for a mistake or a database problem; None for a bug."""
    if isinstance(exc, UserError | ValueError):
        return str(exc)
    if isinstance(exc, sqlite3.Error):
        return f"database error: {exc}"
    # imported only now: errors.py pulls in attrs, which the success paths avoid
    from statemachine_engine.errors import StateMachineError

    if isinstance(exc, StateMachineError):
        return str(exc)
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
