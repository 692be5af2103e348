"""``statemachine-events``: print live machine events (``tools.print_events``)."""

from __future__ import annotations

import argparse
import os

from statemachine_engine.cli._interrupted import exit_130_on_ctrl_c
from statemachine_engine.transport import DEFAULT_EVENT_SOCKET


@exit_130_on_ctrl_c("statemachine-events")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="statemachine-events",
        description=(
            "Print live machine events: from the monitor's WebSocket when one runs, else by "
            "listening on the event socket; with --db postgresql://..., those of every host "
            "from the database."
        ),
    )
    parser.add_argument("--machine", metavar="NAME", help="only events of this machine")
    parser.add_argument(
        "--format",
        choices=("human", "json", "compact"),
        default="human",
        help="human (default), json (one object per line) or compact (one short line)",
    )
    parser.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop after this many seconds"
    )
    parser.add_argument(
        "--event-socket-path",
        default=DEFAULT_EVENT_SOCKET,
        metavar="PATH",
        help=f"event socket to listen on when no monitor runs (default {DEFAULT_EVENT_SOCKET})",
    )
    parser.add_argument("--host", default="127.0.0.1", help="monitor host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3002, help="monitor WebSocket port (3002)")
    parser.add_argument(
        "--token",
        default=os.environ.get("STATEMACHINE_UI_TOKEN") or None,
        help="the monitor's token, when it asks for one (default $STATEMACHINE_UI_TOKEN)",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="follow the machines of every host through this PostgreSQL database (what "
        "their runtimes record: registrations, state changes, errors, ends) instead of the "
        "monitor or the event socket. A SQLite file's machines run on this host: their "
        "events are on the event socket, followed without --db",
    )
    args = parser.parse_args(argv)
    if args.db is not None:
        from statemachine_engine.persistence import is_db_url

        if not is_db_url(args.db):
            parser.error(
                f"--db {args.db}: not a postgresql:// URL; the machines of a SQLite file run "
                "on this host and publish on the event socket, which statemachine-events "
                "follows without --db"
            )
    from statemachine_engine.tools import print_events

    return print_events(
        machine=args.machine,
        format=args.format,
        duration=args.duration,
        host=args.host,
        port=args.port,
        event_socket_path=args.event_socket_path,
        token=args.token,
        db=args.db,
    )
