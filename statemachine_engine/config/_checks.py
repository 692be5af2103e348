"""Semantic checks of a structured machine: states, timeouts, context maps, action types.

Problems go to the loader's collector, so that every one is reported at once."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable

from statemachine_engine.config._issues import Collector
from statemachine_engine.config._models import WILDCARD, ActionSpec, MachineSpec
from statemachine_engine.config._shell_command import shell_hazards
from statemachine_engine.config._yaml import Path


def choices(name: str, valid: Iterable[str]) -> str:
    valid = sorted(set(valid))
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; valid: {', '.join(valid) if valid else '(none)'}"


def check_semantics(
    spec: MachineSpec,
    out: Collector,
    known_actions: Collection[str] | None,
    *,
    has_initial: bool,
) -> None:
    declared = set(spec.states)
    if declared:
        if spec.initial_state not in declared:
            if has_initial:
                out.add(
                    ("initial_state",),
                    f"initial state {spec.initial_state!r} is not declared in states"
                    f"{choices(spec.initial_state, declared)}",
                )
            else:
                out.add(
                    (),
                    "initial_state is missing and the default 'waiting' is not among the "
                    f"declared states; add initial_state: <one of {', '.join(spec.states)}>",
                )
        for t in spec.transitions:
            for j, s in enumerate(t.from_):
                if s != WILDCARD and s not in declared:
                    where: Path = ("transitions", t.index, "from")
                    if len(t.from_) > 1:
                        where = (*where, j)
                    out.add(where, f"state {s!r} is not declared in states{choices(s, declared)}")
            if t.to not in declared:
                out.add(
                    ("transitions", t.index, "to"),
                    f"state {t.to!r} is not declared in states{choices(t.to, declared)}",
                )
        for state in spec.actions:
            if state not in declared:
                out.add(
                    ("actions", state),
                    f"actions for undeclared state {state!r}{choices(state, declared)}",
                    key=True,
                )
        for state in spec.final_states:
            if state not in declared:
                out.add(
                    ("final_states",),
                    f"final state {state!r} is not declared in states{choices(state, declared)}",
                )
        for group, members in spec.state_groups.items():
            for state in members:
                if state not in declared:
                    out.add(
                        ("state_groups", group),
                        f"state {state!r} in group {group!r} is not declared in states"
                        f"{choices(state, declared)}",
                    )
    for t in spec.transitions:
        if not t.from_:
            out.add(("transitions", t.index, "from"), "'from' names no state")
        if t.event.startswith(("timeout(", "timeout (")) and t.timeout is None:
            out.add(
                ("transitions", t.index, "event"),
                f"malformed timeout event {t.event!r}: expected timeout(N) with N a "
                "number of seconds such as timeout(5) or timeout(2.5)",
            )
    for name, event in spec.events.items():
        for key, dot in event.context_map.items():
            if not dot or any(not part for part in dot.split(".")):
                out.add(
                    ("events", name, "context_map", key),
                    f"context_map path {dot!r} must be a dot path such as payload.user.name",
                )
    all_actions = [a for lst in spec.actions.values() for a in lst]
    all_actions += [a for t in spec.transitions for a in t.actions]
    for action in all_actions:
        if action.type == "bash":
            _check_command(action, out)
    if known_actions is not None:
        known = set(known_actions)
        for action in all_actions:
            if action.type and action.type not in known:
                out.add(
                    (*_path(action), "type"),
                    f"unknown action type {action.type!r}{choices(action.type, known)}",
                )


def _path(action: ActionSpec) -> Path:
    return tuple(
        int(p) if p.isdigit() else p
        for p in action.path.replace("[", ".").replace("]", "").split(".")[1:]
    )


def _check_command(action: ActionSpec, out: Collector) -> None:
    """A bash command whose placeholder's value would run as code is refused (no quoting
    can protect it; the message gives the safe spelling)."""
    command = action.get("command")
    if not isinstance(command, str) or "{" not in command:
        return
    where = "command" if "command" in action.config else "params"
    path: Path = (*_path(action), *((where,) if where == "command" else ("params", "command")))
    for hazard in shell_hazards(command):
        out.add(path, f"{hazard.message}; {hazard.fix}")
