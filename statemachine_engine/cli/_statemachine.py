"""``statemachine``: run a machine, simulate machines, or run a whole project.

statemachine CONFIG [--machine-name NAME] [--actions-dir DIR] [--event-socket-path PATH]
                    [--control-socket-prefix PATH] [--initial-context JSON] [--db PATH|URL]
                    [--debug] [--log-level LEVEL] [--monitor ...]
statemachine simulate CONFIG [CONFIG ...] --events EVENTS.yaml [--until S] [--format F]
statemachine run [MANIFEST]
statemachine --version
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from statemachine_engine.cli._interrupted import exit_130_on_ctrl_c

if TYPE_CHECKING:
    from statemachine_engine.config import CachedStart, MachineSpec

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _VersionAction(argparse.Action):
    """``--version``: the installed package's version, looked up only when asked for (the
    start of ``statemachine CONFIG`` is benchmarked, and importlib.metadata is not free)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("statemachine-engine")
        except PackageNotFoundError:  # run from a source tree that was never installed
            from statemachine_engine import __version__ as number
        print(f"{parser.prog} {number}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statemachine",
        description=(
            "Run a state machine from its YAML file until it reaches a final state. "
            "Other forms: 'statemachine simulate ...' (virtual time) and "
            "'statemachine run [MANIFEST]' (a whole project)."
        ),
    )
    parser.add_argument("config", metavar="CONFIG", help="the machine's YAML file")
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    parser.add_argument(
        "--machine-name",
        metavar="NAME",
        help="name of the machine (default: metadata.machine_name, else the file name)",
    )
    parser.add_argument("--actions-dir", metavar="DIR", help="folder of custom *_action.py files")
    parser.add_argument(
        "--event-socket-path",
        metavar="PATH",
        help="monitor's event socket (default /tmp/statemachine-events.sock)",
    )
    parser.add_argument(
        "--control-socket-prefix",
        metavar="PATH",
        help="control sockets are PATH-<machine>.sock (default /tmp/statemachine-control)",
    )
    parser.add_argument(
        "--initial-context",
        metavar="JSON",
        default="{}",
        help="a JSON object merged into the machine's context at start",
    )
    parser.add_argument(
        "--db",
        metavar="PATH|URL",
        help="SQLite file or postgresql:// URL (default $STATEMACHINE_DB, else ./data/pipeline.db)",
    )
    parser.add_argument("--debug", action="store_true", help="same as --log-level DEBUG")
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
        help="logging level (default INFO)",
    )
    parser.add_argument(
        "--monitor",
        action="store_true",
        help="also serve the live monitor (WebSocket and web UI) from this process",
    )
    # a monitor flag without --monitor asks for the monitor: it implies --monitor
    parser.add_argument("--ui-port", type=int, help="web UI port (default 3001); implies --monitor")
    parser.add_argument(
        "--websocket-port", type=int, help="WebSocket port (default 3002); implies --monitor"
    )
    parser.add_argument("--host", help="monitor address (default 127.0.0.1); implies --monitor")
    parser.add_argument(
        "--token",
        help="token the monitor requires for every read (default $STATEMACHINE_UI_TOKEN, "
        "else a new one printed at start when --host is not loopback); implies --monitor",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="a durable machine: discard its checkpoint and start at its initial state",
    )
    parser.add_argument(
        "--durable",
        action="store_true",
        help="checkpoint the machine and resume it after any stop, as 'durable: true' does",
    )
    parser.add_argument(
        "--sync",
        choices=("normal", "full"),
        default="normal",
        help="commit durability: normal survives kill -9 (default), full also a power loss",
    )
    # set by a parent runtime that started this one as a child process
    parser.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--parent-fd", type=int, help=argparse.SUPPRESS)
    return parser


def fail(message: str) -> int:
    print(f"statemachine: {message}", file=sys.stderr)
    return 1


def checked_spec(args: argparse.Namespace, context_keys: list[str]) -> MachineSpec | None:
    """The spec to run, checked as ``statemachine-validate`` checks it: its errors refuse the
    start, word for word (printed here; None returned), its warnings are logged.

    An unchanged configuration comes from the start cache (see config/_cache.py) with the
    warnings its check gave, without importing the YAML parser, cattrs or the checker.
    """
    from statemachine_engine.config import StartCache

    cache = StartCache()
    key = cache.key(
        args.config,
        actions_dir=args.actions_dir,
        initial_context=context_keys,
        durable=args.durable,
    )
    cached = cache.load(key)
    if cached is None:
        before = {args.config: cache.digest(args.config)}
        checked = _check(args, context_keys)
        if checked is None:
            return None
        cached, files = checked
        cache.store(key, cached, files=files, actions_dir=args.actions_dir, before=before)
    for line in cached.warnings:
        logging.getLogger("statemachine_engine.config").warning("%s", line)
    return cached.spec


def _check(
    args: argparse.Namespace, context_keys: list[str]
) -> tuple[CachedStart, tuple[str, ...]] | None:
    """Run the checker; what to cache and the configuration files it read, or None after
    printing its errors."""
    from statemachine_engine.config import CachedStart
    from statemachine_engine.tools import check_start, finding_line, finding_lines

    checked = check_start(
        args.config,
        actions_dirs=[args.actions_dir] if args.actions_dir else [],
        initial_context=context_keys,
        durable=args.durable,
    )
    # a broken custom action file (A006) is left to load_all in main, which names the
    # file's own line and warns about an unused one
    errors = [f for f in checked.errors if f.code != "A006"]
    if errors or checked.spec is None:
        print("\n".join(line for f in errors for line in finding_lines(f)), file=sys.stderr)
        fail(f"{len(errors)} error{'s' if len(errors) != 1 else ''}; nothing started")
        return None
    warnings = tuple(finding_line(w) for w in checked.warnings if w.code != "A006")
    return CachedStart(checked.spec, warnings), checked.result.files


@exit_130_on_ctrl_c("statemachine")
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "simulate":
        from statemachine_engine.cli._simulate import main as simulate

        return simulate(argv[1:])
    if argv and argv[0] == "run":
        from statemachine_engine.cli._project import main as run_project

        code: int = run_project(argv[1:])
        return code
    args = build_parser().parse_args(argv)
    monitor_flags = (args.ui_port, args.websocket_port, args.host, args.token)
    args.monitor = args.monitor or any(flag is not None for flag in monitor_flags)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else getattr(logging, args.log_level),
        format=LOG_FORMAT,
    )
    from statemachine_engine import _strict_json
    from statemachine_engine.errors import ConfigError, StateMachineError
    from statemachine_engine.transport import check_machine_name

    try:
        context: Any = _strict_json.loads(args.initial_context)
    except ValueError as exc:
        return fail(f"--initial-context is not valid JSON: {exc}")
    if not isinstance(context, dict):
        return fail('--initial-context must be a JSON object, such as \'{"job_id": "j1"}\'')
    if args.actions_dir is not None and not os.path.isdir(os.path.expanduser(args.actions_dir)):
        return fail(f"--actions-dir {args.actions_dir}: not a folder")
    spec = checked_spec(args, list(context))
    if spec is None:
        return 1
    from statemachine_engine.actions import get_registry

    try:
        # every custom action file now, before anything is started: a broken one is a
        # warning, or an error when this machine uses it
        get_registry(args.actions_dir).load_all(spec)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1

    name = args.machine_name or spec.default_name
    try:
        check_machine_name(name)
    except ValueError as exc:
        where = "--machine-name" if args.machine_name else f"{args.config} (its default name)"
        return fail(f"{where}: {exc}")
    from statemachine_engine.persistence import resolve_db_path
    from statemachine_engine.service import ProcessOptions, run_machine_process

    monitor = None
    if args.monitor:
        from statemachine_engine.monitor import embedded_monitor
        from statemachine_engine.service import monitor_configs

        monitor = embedded_monitor(
            host=args.host or "127.0.0.1",
            ui_port=3001 if args.ui_port is None else args.ui_port,
            websocket_port=3002 if args.websocket_port is None else args.websocket_port,
            configs=monitor_configs([args.config], [spec]),
            flags={"ui": "--ui-port", "websocket": "--websocket-port"},
            token=args.token,
        )
    options = ProcessOptions(
        spec=spec,
        name=name,
        db=resolve_db_path(args.db),
        context=context,
        actions_dir=args.actions_dir,
        event_socket_path=args.event_socket_path,
        control_socket_prefix=args.control_socket_prefix,
        monitor=monitor,
        ready_fd=args.ready_fd,
        parent_fd=args.parent_fd,
        durable=args.durable,
        fresh=args.fresh,
        sync=args.sync,
    )
    try:
        return run_machine_process(options)
    except StateMachineError as exc:
        return fail(str(exc))
