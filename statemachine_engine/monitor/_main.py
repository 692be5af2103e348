"""Running the monitor as a program: ``python -m statemachine_engine.monitor`` (the hub and
WebSocket server alone) and the shared runner behind ``statemachine-ui``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import trio

from statemachine_engine.errors import StateMachineError, leaf_errors
from statemachine_engine.monitor._registry import DatabaseRegistry
from statemachine_engine.monitor._serve import MonitorServer, serve_monitor
from statemachine_engine.monitor._store_feed import StoreFeed
from statemachine_engine.transport import DEFAULT_EVENT_SOCKET

if TYPE_CHECKING:
    from statemachine_engine.persistence import Browse

__all__ = ["build_parser", "main", "run_monitor"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: time given to WebSocket clients to receive their close frame on SIGINT/SIGTERM (seconds)
SHUTDOWN_GRACE = 0.2


def build_parser(prog: str = "python -m statemachine_engine.monitor") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Relay machine events from the event socket to WebSocket clients: a snapshot of "
            "every machine on connect, then every event live."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=3002, help="WebSocket port (default %(default)s)"
    )
    parser.add_argument(
        "--event-socket-path",
        default=DEFAULT_EVENT_SOCKET,
        help="Unix socket machines publish their events to (default %(default)s)",
    )
    add_common_arguments(parser)
    return parser


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags the monitor and ``statemachine-ui`` share."""
    parser.add_argument(
        "--db",
        metavar="PATH|URL",
        help="the runtime's database, a SQLite file or postgresql:// URL: its registry seeds "
        "the snapshot, the API reads its history and jobs, and operator actions write to it "
        "(default: $STATEMACHINE_DB, else ./data/pipeline.db, as the runtime; a file that "
        "does not exist yet reads as empty; on PostgreSQL, the machines of every host)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="also accept browser pages from this host or origin (repeatable; '*' for any)",
    )
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help="require this token for every read (the WebSocket, the API, the UI page); "
        "default $STATEMACHINE_UI_TOKEN, else a new one printed at start when --host is not "
        "loopback, else none",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="logging level (default %(default)s)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_monitor(
        "statemachine-monitor",
        log_level=args.log_level,
        db=args.db,
        host=args.host,
        ui_port=None,
        websocket_port=args.port,
        event_socket_path=args.event_socket_path,
        allowed_origins=args.allow_origin,
        flags={"websocket": "--port", "event_socket": "--event-socket-path"},
        token=args.token,
    )


def run_monitor(prog: str, *, log_level: str = "INFO", db: str | None = None, **serve: Any) -> int:
    """Run :func:`serve_monitor` until SIGINT/SIGTERM; returns the exit code: 130 / 143
    after SIGINT / SIGTERM, as every command of the package.

    A problem a user can fix (a port in use, an event socket another monitor owns, an
    unreadable database) is printed as one line, without a traceback.
    """
    logging.basicConfig(level=getattr(logging, log_level), format=LOG_FORMAT)
    try:
        signum = trio.run(partial(_run, _registry_path(db), _browse_path(db), serve))
    except StateMachineError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except BaseExceptionGroup as group:
        errors, rest = group.split(StateMachineError)
        if errors is None or rest is not None:
            raise
        for message in dict.fromkeys(str(exc) for exc in leaf_errors(errors)):
            print(f"{prog}: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    return 128 + signum if signum is not None else 0


async def _run(db: str | None, browse_db: str | None, serve: dict[str, Any]) -> int | None:
    """Serve until a signal; returns its number (None when the servers ended first)."""
    from statemachine_engine.persistence import browse_file

    browse = browse_file(browse_db) if browse_db is not None else None
    try:
        return await _serve_until_signal(db, browse, serve)
    finally:
        if browse is not None:
            browse.close()


async def _serve_until_signal(
    db: str | None, browse: Browse | None, serve: dict[str, Any]
) -> int | None:
    from statemachine_engine.persistence import is_db_url

    received = None
    registry = DatabaseRegistry(db) if db is not None else None
    async with trio.open_nursery() as nursery:
        server: MonitorServer = await nursery.start(
            partial(serve_monitor, store=registry, browse=browse, **serve)
        )
        _announce(server)
        if db is not None and is_db_url(db):
            # the machines of other hosts: what they record in the database they share
            await nursery.start(StoreFeed(db, server.hub).run)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                logging.getLogger(__name__).info(
                    "received %s; stopping", signal.Signals(signum).name
                )
                # Browsers get a "going away" close frame and reconnect later, rather than
                # seeing the connection cut.
                server.hub.close()
                await trio.sleep(SHUTDOWN_GRACE)
                nursery.cancel_scope.cancel()
                received = int(signum)
                break
    return received


def _announce(server: MonitorServer) -> None:
    # the token, when there is one, is printed once: in the UI's link, or else the
    # WebSocket's
    if server.ui_url:
        print(f"Monitor UI:        {server.action_link}", flush=True)
    if server.websocket:
        ws = server.websocket.url if server.ui_url else server.websocket_link
        print(f"WebSocket events:  {ws}", flush=True)
    if server.token is not None:
        print("Reads need the token in the link above (or 'Authorization: Bearer TOKEN').")
    if server.token_file is not None:
        print(f"Write token:       {server.token_file} (owner-only; actions need it)", flush=True)
    if server.event_socket_path:
        print(f"Event socket:      {server.event_socket_path}", flush=True)


def _browse_path(db: str | None) -> str:
    """The database the API reads and the actions write: the runtime's (``--db``, else
    ``$STATEMACHINE_DB``, else ``./data/pipeline.db``), a file or a PostgreSQL URL."""
    from statemachine_engine.persistence import resolve_db_path

    return resolve_db_path(db)


def _registry_path(db: str | None) -> str | None:
    """The database whose registry seeds the machine table: ``--db``, else
    ``$STATEMACHINE_DB``, else ``./data/pipeline.db`` only when it exists (the monitor never
    creates a database of its own)."""
    from statemachine_engine.persistence import DB_ENV_VAR, DEFAULT_DB_PATH, resolve_db_path

    path = resolve_db_path(db)
    if db is not None or os.environ.get(DB_ENV_VAR):
        return path
    return path if path == DEFAULT_DB_PATH and os.path.exists(path) else None
