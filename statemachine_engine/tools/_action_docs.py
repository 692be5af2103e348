"""The built-in action reference (docs/actions.md), rendered from the action classes.

The classes' docstrings and their ``EVENTS`` / ``REQUIRED`` attributes are the source of
truth; a test keeps docs/actions.md equal to :func:`render_action_reference`.
"""

from __future__ import annotations

import inspect

from statemachine_engine.actions import get_registry
from statemachine_engine.actions.builtin import ALIASES, BUILTIN_ACTIONS

HEADER = """# Built-in actions

Generated from the action classes (`statemachine_engine/actions/builtin/`); a test keeps this
page equal to them. Keys may sit at the top level of an action or under `params:`. Every action
also takes `description`; every value may hold `{placeholders}` (see the YAML reference).
An action that raises returns its `error` event (default `error`) with `last_error` set.
"""


def render_action_reference() -> str:
    registry = get_registry(None)
    parts = [HEADER]
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
