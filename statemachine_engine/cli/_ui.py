"""``statemachine-ui``: the web UI, the WebSocket server and the event hub in one process."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from statemachine_engine.cli._interrupted import exit_130_on_ctrl_c
from statemachine_engine.monitor import add_common_arguments, run_monitor
from statemachine_engine.transport import DEFAULT_EVENT_SOCKET


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statemachine-ui",
        description=(
            "Serve the live monitor: state diagrams with the current state lit, a Kanban board "
            "of templated instances and an activity log, fed by the machines' event socket."
        ),
    )
    parser.add_argument(
        "--port",
        "--ui-port",
        dest="port",
        type=int,
        default=3001,
        help="web UI port (default %(default)s); --ui-port as in the other commands",
    )
    parser.add_argument(
        "--websocket-port", type=int, default=3002, help="WebSocket port (default %(default)s)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    parser.add_argument(
        "--project-root",
        metavar="DIR",
        help="folder searched for machine YAML files to draw (default: the current directory)",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="a machine YAML file to draw (repeatable); with only --config, no folder is searched",
    )
    parser.add_argument(
        "--event-socket-path",
        default=DEFAULT_EVENT_SOCKET,
        help="Unix socket machines publish their events to (default %(default)s)",
    )
    parser.add_argument(
        "--no-websocket",
        action="store_true",
        help="serve only the UI; the browser connects to a monitor already running on "
        "--websocket-port",
    )
    add_common_arguments(parser)
    return parser


@exit_130_on_ctrl_c("statemachine-ui")
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for path in args.config:
        if not os.path.isfile(path):
            parser.error(f"--config {path}: no such file")
    if args.project_root is not None and not os.path.isdir(args.project_root):
        parser.error(f"--project-root {args.project_root}: no such directory")
    project_root = args.project_root
    if project_root is None and not args.config:
        project_root = os.getcwd()
    refused = _check_database(args.db)
    if refused is not None:
        print(f"statemachine-ui: {refused}", file=sys.stderr)
        return 1
    return run_monitor(
        "statemachine-ui",
        log_level=args.log_level,
        db=args.db,
        host=args.host,
        ui_port=args.port,
        websocket_port=None if args.no_websocket else args.websocket_port,
        browser_websocket_port=args.websocket_port,
        event_socket_path=None if args.no_websocket else args.event_socket_path,
        project_root=project_root,
        configs=args.config,
        allowed_origins=args.allow_origin,
        token=args.token,
        flags={
            "ui": "--port",
            "websocket": "--websocket-port",
            "event_socket": "--event-socket-path",
        },
    )


def _check_database(db: str | None) -> str | None:
    """Why a PostgreSQL database (``--db`` or ``$STATEMACHINE_DB``) cannot be used, found by
    opening it once at start (a wrong URL, a server not there, missing rights); None when
    it can, or when the database is a file (a file that does not exist yet reads as empty)."""
    from statemachine_engine.persistence import is_db_url, resolve_db_path

    url = resolve_db_path(db)
    if not is_db_url(url):
        return None
    import trio

    from statemachine_engine.errors import StoreError
    from statemachine_engine.persistence import open_store

    async def check() -> None:
        async with open_store(url):
            pass

    try:
        trio.run(check)
    except StoreError as exc:
        return str(exc)
    return None


if __name__ == "__main__":
    sys.exit(main())
