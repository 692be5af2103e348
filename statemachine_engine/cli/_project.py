"""``statemachine run [MANIFEST]``: validate and run a whole project (see service/_manifest.py)."""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="statemachine run",
        description=(
            "Validate every machine of a project manifest, then run them all with the live "
            "monitor in one supervised process. Ctrl-C stops everything cleanly."
        ),
    )
    parser.add_argument(
        "manifest",
        nargs="?",
        default="statemachine-project.yaml",
        help="the project manifest (default ./statemachine-project.yaml)",
    )
    parser.add_argument("--no-monitor", action="store_true", help="do not serve the monitor")
    parser.add_argument("--ui-port", type=int, help="override the manifest's monitor.ui_port")
    parser.add_argument(
        "--token",
        help="the token the monitor's reads need (default: $STATEMACHINE_UI_TOKEN; one is"
        " generated and printed when the monitor listens beyond loopback)",
    )
    parser.add_argument(
        "--websocket-port", type=int, help="override the manifest's monitor.websocket_port"
    )
    parser.add_argument(
        "--db",
        metavar="PATH|URL",
        help="override the manifest's db: a SQLite file or a postgresql:// URL",
    )
    parser.add_argument(
        "--control-socket-prefix",
        metavar="PATH",
        help="override the manifest's control_socket_prefix (sockets are PATH-<name>.sock)",
    )
    parser.add_argument(
        "--event-socket-path", metavar="PATH", help="override the manifest's event_socket_path"
    )
    parser.add_argument(
        "--check", action="store_true", help="only validate the project, then exit (0 = clean)"
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="durable machines discard their checkpoints and start at their initial states",
    )
    parser.add_argument(
        "--sync",
        choices=("normal", "full"),
        help="override the manifest's sync (commit durability: normal survives kill -9,"
        " full also a power loss)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    import attrs

    from statemachine_engine.errors import ConfigError, StateMachineError
    from statemachine_engine.service import (
        MonitorSettings,
        check_project,
        load_manifest,
        run_project,
    )

    def say(text: str) -> None:
        print(f"statemachine run: {text}", flush=True)

    try:
        manifest = load_manifest(args.manifest)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if args.no_monitor:
        manifest = attrs.evolve(manifest, monitor=None)
    elif manifest.monitor is not None and (
        args.ui_port is not None or args.websocket_port is not None or args.token is not None
    ):
        settings: MonitorSettings = manifest.monitor
        manifest = attrs.evolve(
            manifest,
            monitor=attrs.evolve(
                settings,
                ui_port=settings.ui_port if args.ui_port is None else args.ui_port,
                websocket_port=(
                    settings.websocket_port if args.websocket_port is None else args.websocket_port
                ),
                token=settings.token if args.token is None else args.token,
            ),
        )
    if args.db:
        manifest = attrs.evolve(manifest, db=args.db)
    if args.control_socket_prefix:
        manifest = attrs.evolve(manifest, control_socket_prefix=args.control_socket_prefix)
    if args.event_socket_path:
        manifest = attrs.evolve(manifest, event_socket_path=args.event_socket_path)
    if args.sync:
        manifest = attrs.evolve(manifest, sync=args.sync)
    if args.fresh:
        manifest = attrs.evolve(manifest, fresh=True)
    errors = check_project(manifest)
    if errors:
        print("\n".join(line for lines in errors for line in lines), file=sys.stderr)
        count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
        print(f"statemachine run: {count}; nothing started", file=sys.stderr)
        return 1
    entries = len(manifest.machines)
    say(f"{manifest.file}: {entries} machine {'entry' if entries == 1 else 'entries'} checked")
    if args.check:
        return 0
    try:
        return run_project(manifest, say=say)
    except (ConfigError, StateMachineError) as exc:
        print(f"statemachine run: {exc}", file=sys.stderr)
        return 1
