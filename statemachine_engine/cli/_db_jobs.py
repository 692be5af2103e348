"""``statemachine-db`` commands on jobs: status, list, details, add, complete, fail, remove,
clean-up, and the job doorbell."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from statemachine_engine.cli._db_common import (
    UserError,
    _database,
    _json_arg,
    parse_when,
    shown_db,
)
from statemachine_engine.cli._db_output import (
    json_ready,
    local_time,
    print_json,
    render_fields,
    render_table,
)
from statemachine_engine.persistence import (
    SCHEMA_VERSION,
    is_db_url,
    recreate_postgres_schema,
    recreate_schema,
    resolve_db_path,
)
from statemachine_engine.persistence import jobs_sql as jobs
from statemachine_engine.persistence import records_sql as records

# -- commands ------------------------------------------------------------------------------


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
    path = shown_db(args)
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
    # imported here: only add-job rings, and the transport package costs start-up time
    from statemachine_engine.transport import ring_doorbells

    ring_doorbells(endpoints, job["machine_type"] or job["job_type"])
    return 0


def cmd_complete_job(args: argparse.Namespace) -> int:
    result = _json_arg("--result", args.result, want_object=False)
    with _database(args) as conn:
        job = jobs.complete_job(conn, args.job_id, now=time.time(), result=result)
    _print_job(args, "Job completed", job)
    return 0


def cmd_fail_job(args: argparse.Namespace) -> int:
    with _database(args) as conn:
        if args.retry:
            current = jobs.get_job(conn, args.job_id)
            if current is not None and current["status"] == "pending":
                raise UserError(
                    f"job {args.job_id} is pending: no attempt is running to fail and retry "
                    "(without --retry it is failed for good)"
                )
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
    path = shown_db(args)
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
        if is_db_url(resolve_db_path(args.db)):
            recreate_postgres_schema(conn)
        else:
            recreate_schema(conn)
    print(f"Recreated the database {path} (schema version {SCHEMA_VERSION})")
    return 0
