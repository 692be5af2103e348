"""``statemachine-db``: inspect and change the job queue, events, registry and history.

Every subcommand takes ``--db PATH`` or ``--db postgresql://...`` (default
``$STATEMACHINE_DB``, else ``./data/pipeline.db``); listings take ``--format table|json``.
Exit status: 0 on success, 2 for a usage mistake (an unknown flag, a missing argument), 1
for bad input or something not found (one line on stderr, nothing written).

This module imports neither trio nor the runtime (nor attrs on its success paths): the short
commands must start fast. It works on the database through the synchronous SQL layer.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Sequence

from statemachine_engine.cli._db_admin import add_commands as add_admin_commands
from statemachine_engine.cli._db_common import (
    DB_HELP,
    EVENT_STATUSES,
    JOB_STATUSES,
    PROG,
    UserError,
    _non_negative,
    _Parser,
    _positive_int,
    _priority,
)
from statemachine_engine.cli._db_durable import cmd_inbox, cmd_outbox
from statemachine_engine.cli._db_jobs import (
    cmd_add_job,
    cmd_cleanup,
    cmd_cleanup_events,
    cmd_complete_job,
    cmd_details,
    cmd_fail_job,
    cmd_list,
    cmd_recreate_database,
    cmd_remove_job,
    cmd_reset_processing,
    cmd_status,
)
from statemachine_engine.cli._db_records import (
    cmd_error_history,
    cmd_list_errors,
    cmd_list_events,
    cmd_machine_health,
    cmd_machine_state,
    cmd_process_events,
    cmd_send_event,
    cmd_transition_history,
)
from statemachine_engine.persistence import (
    INBOX_STATUSES,
    OUTBOX_STATUSES,
    redact_db,
    resolve_db_path,
)
from statemachine_engine.persistence import jobs_sql as jobs


def build_parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Inspect and manage the statemachine-engine database: jobs, events, "
        "running machines and their history.",
    )
    parser.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parser.commands = sub.choices

    def command(
        name: str,
        handler: Callable[[argparse.Namespace], int],
        help: str,
        *,
        listing: bool,
        existing: bool = False,
    ) -> argparse.ArgumentParser:
        """``existing``: the command reads (or changes) what a database holds, so it refuses
        one that does not exist instead of creating it (a mistyped --db)."""
        p = sub.add_parser(name, help=help, description=help)
        # also accepted after the subcommand; SUPPRESS keeps the global value otherwise
        p.add_argument("--db", metavar="PATH|URL", default=argparse.SUPPRESS, help=DB_HELP)
        if listing:
            p.add_argument(
                "--format", choices=("table", "json"), default="table", help="output format"
            )
        p.set_defaults(handler=handler, existing=existing)
        return p

    command("status", cmd_status, "job counts by status", listing=True, existing=True).add_argument(
        "--type", help="only jobs of this type"
    )

    p = command("list", cmd_list, "list jobs, newest first", listing=True, existing=True)
    p.add_argument("--status", choices=JOB_STATUSES)
    p.add_argument("--type", help="only jobs of this type")
    p.add_argument("--machine-type", help="only jobs routed to this machine type")
    p.add_argument("--limit", type=_positive_int, default=20)

    p = command("details", cmd_details, "show one job", listing=True, existing=True)
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
    p.add_argument("--priority", type=_priority, default=jobs.DEFAULT_PRIORITY, help="1 = highest")
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
        "--retry",
        action="store_true",
        help="a job being processed goes back to pending after a backoff if it has attempts "
        "left (refused for a pending job)",
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

    p = command(
        "list-events",
        cmd_list_events,
        "list audited events, newest first",
        listing=True,
        existing=True,
    )
    p.add_argument("--target")
    p.add_argument("--status", choices=EVENT_STATUSES)
    p.add_argument("--limit", type=_positive_int, default=20)

    p = command(
        "process-events",
        cmd_process_events,
        "show a machine's pending (undelivered) events, oldest first",
        listing=True,
        existing=True,
    )
    # MACHINE, or --machine as in the other subcommands (SUPPRESS: an absent MACHINE does
    # not overwrite --machine)
    p.add_argument("machine", metavar="MACHINE", nargs="?", default=argparse.SUPPRESS)
    p.add_argument("--machine", dest="machine", metavar="NAME", help="the same as MACHINE")
    p.add_argument("--mark-processed", action="store_true", help="then mark them processed")

    p = command(
        "machine-state",
        cmd_machine_state,
        "running machines (registry)",
        listing=True,
        existing=True,
    )
    p.add_argument("--machine", help="only this machine")
    p = command(
        "machine-status", cmd_machine_state, "same as machine-state", listing=True, existing=True
    )
    p.add_argument("--machine", help="only this machine")

    for name, handler, what, statuses in (
        ("inbox", cmd_inbox, "messages to durable machines and across hosts", INBOX_STATUSES),
        ("outbox", cmd_outbox, "messages sent by durable machines", OUTBOX_STATUSES),
    ):
        p = command(name, handler, f"{what}, newest first", listing=True, existing=True)
        p.add_argument("--machine", help="only this machine's")
        p.add_argument(
            "--status",
            choices=(*statuses, "duplicates") if name == "inbox" else statuses,
            help="only these (inbox: duplicates = received more than once)",
        )
        p.add_argument("--limit", type=_positive_int, default=50)

    for name, handler, what in (
        ("transition-history", cmd_transition_history, "state transitions"),
        ("error-history", cmd_error_history, "recorded errors"),
    ):
        p = command(name, handler, f"{what}, newest first", listing=True, existing=True)
        p.add_argument("--machine", help="only this machine")
        p.add_argument("--hours", type=_non_negative, help="only the last N hours")
        p.add_argument("--limit", type=_positive_int, default=20)

    p = command(
        "list-errors",
        cmd_list_errors,
        "recorded errors and failed jobs, newest first",
        listing=True,
        existing=True,
    )
    p.add_argument("--limit", type=_positive_int, default=50)

    command(
        "machine-health",
        cmd_machine_health,
        "machines, stuck jobs, retries and recent errors at a glance",
        listing=True,
        existing=True,
    )
    add_admin_commands(command)  # retry, cancel, requeue, audit
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            # the subcommand's own usage, not the top level's, says what it takes
            where = parser.commands.get(args.command or "", parser)
            where.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.command == "process-events" and args.machine is None:
            parser.commands["process-events"].error("give the machine: MACHINE or --machine")
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
        # a URL's password never reaches the terminal, whoever wrote the message
        raw = resolve_db_path(getattr(args, "db", None))
        message = message.replace(raw, redact_db(raw))
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
