"""Render the generated reference pages docs/actions.md and docs/commands.md from the code.

The built-in action classes (their docstrings, ``EVENTS`` and ``REQUIRED``) and the commands'
own ``--help`` are the source of truth; tests/test_docs.py keeps both pages equal to what this
script renders. Run it after changing an action or a flag:

    .venv/bin/python scripts/render_docs.py
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from statemachine_engine.actions import get_registry
from statemachine_engine.actions.builtin import ALIASES, BUILTIN_ACTIONS

ROOT = Path(__file__).resolve().parent.parent
ACTIONS_PAGE = ROOT / "docs" / "actions.md"
COMMANDS_PAGE = ROOT / "docs" / "commands.md"

ACTIONS_HEADER = """# Built-in actions

Generated from the action classes (`statemachine_engine/actions/builtin/`); a test keeps this
page equal to them. Keys may sit at the top level of an action or under `params:`. Every action
also takes `description`; every value may hold `{placeholders}` (see the YAML reference).
An action that raises returns its `error` event (default `error`) with `last_error` set.
"""

COMMANDS_HEADER = """# Commands

Every command and every flag, as each command's `--help` prints it (generated; a test keeps
this page equal to the commands). The README has the overview.
"""

Main = Callable[[list[str]], object]


def render_action_reference() -> str:
    """docs/actions.md: one section per built-in action, in type order."""
    registry = get_registry(None)
    parts = [ACTIONS_HEADER]
    aliases = {target: alias for alias, target in ALIASES.items()}
    for action_type in sorted(BUILTIN_ACTIONS):
        cls = registry.get(action_type)
        title = f"## `{action_type}`"
        if action_type in aliases:
            title += f" (also `{aliases[action_type]}`)"
        parts.append(title)
        doc = inspect.cleandoc(cls.__doc__ or "").strip()
        parts.append(doc)
        events = ", ".join(
            f"`{key}` -> `{default}`" if default else f"`{key}` -> none"
            for key, default in cls.EVENTS.items()
        )
        facts = [f"Events (key -> default): {events}."]
        if cls.REQUIRED:
            facts.append("Required: " + ", ".join(f"`{k}`" for k in cls.REQUIRED) + ".")
        parts.append(" ".join(facts))
    return "\n\n".join(parts) + "\n"


def render_command_reference() -> str:
    """docs/commands.md: every command's ``--help``, at a fixed width of 100 columns."""
    parts = [COMMANDS_HEADER]
    for title, main, argv in _commands():
        parts.append(f"## `{title}`\n\n```\n{_help(main, argv)}\n```")
    return "\n\n".join(parts) + "\n"


def _commands() -> list[tuple[str, Main, list[str]]]:
    # The commands' own modules: the package exports no names for its command-line entry
    # points (pyproject.toml's [project.scripts] names these same functions).
    from statemachine_engine.cli import _db, _diagrams, _events, _statemachine, _ui, _validate
    from statemachine_engine.monitor import _main as monitor_main

    db_sub: dict[str, object] = {}
    for action in _db.build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            db_sub = dict(action.choices)
    commands: list[tuple[str, Main, list[str]]] = [
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


def _help(main: Main, argv: Sequence[str]) -> str:
    out = io.StringIO()
    with _fixed_width(), contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*argv, "--help"])
    return out.getvalue().rstrip()


@contextlib.contextmanager
def _fixed_width(columns: int = 100) -> Iterator[None]:
    # argparse wraps to the terminal's width; the page must not depend on who renders it
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(columns)
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def main() -> int:
    """Rewrite both pages; say which changed."""
    for page, render in (
        (ACTIONS_PAGE, render_action_reference),
        (COMMANDS_PAGE, render_command_reference),
    ):
        text = render()
        old = page.read_text(encoding="utf-8") if page.exists() else None
        if text == old:
            print(f"{page.relative_to(ROOT)}: unchanged")
        else:
            page.write_text(text, encoding="utf-8")
            print(f"{page.relative_to(ROOT)}: rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
