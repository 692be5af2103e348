"""The command reference (docs/commands.md), rendered from the commands' own ``--help``.

A test keeps docs/commands.md equal to :func:`render_command_reference`, so the page never
drifts from the flags the commands accept.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from collections.abc import Callable, Iterator, Sequence

HEADER = """# Commands

Every command and every flag, as each command's `--help` prints it (generated; a test keeps
this page equal to the commands). The README has the overview.
"""


@contextlib.contextmanager
def _fixed_width(columns: int = 100) -> Iterator[None]:
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def _help(main: Callable[[list[str]], object], argv: Sequence[str]) -> str:
    out = io.StringIO()
    with _fixed_width(), contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*argv, "--help"])
    return out.getvalue().rstrip()


def _commands() -> list[tuple[str, Callable[[list[str]], object], list[str]]]:
    from statemachine_engine.cli import _db, _diagrams, _events, _statemachine, _ui, _validate
    from statemachine_engine.monitor import _main as monitor_main

    db_sub: dict[str, object] = {}
    for action in _db.build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            db_sub = dict(action.choices)
    commands: list[tuple[str, Callable[[list[str]], object], list[str]]] = [
        ("statemachine", _statemachine.main, []),
        ("statemachine simulate", _statemachine.main, ["simulate"]),
        ("statemachine run", _statemachine.main, ["run"]),
        ("statemachine-db", _db.main, []),
    ]
    commands += [(f"statemachine-db {name}", _db.main, [name]) for name in db_sub]
    commands += [
        ("statemachine-ui", _ui.main, []),
        ("python -m statemachine_engine.monitor", monitor_main.main, []),
        ("statemachine-events", _events.main, []),
        ("statemachine-diagrams (also statemachine-fsm)", _diagrams.main, []),
        ("statemachine-validate", _validate.main_validate, []),
        ("statemachine-lint", _validate.main_lint, []),
    ]
    return commands


def render_command_reference() -> str:
    parts = [HEADER]
    for title, main, argv in _commands():
        parts.append(f"## `{title}`\n\n```\n{_help(main, argv)}\n```")
    return "\n\n".join(parts) + "\n"
