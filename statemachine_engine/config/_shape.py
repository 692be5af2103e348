"""The written YAML turned into the shapes the typed model is built from.

Only the keys the model knows, a lone ``from`` as a list, events as a mapping, every action as
``{type, config}``. Unknown keys are kept aside and reported as warnings; malformed pieces are
reported and left for the model step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from statemachine_engine.config._checks import choices
from statemachine_engine.config._issues import Collector, describe
from statemachine_engine.config._yaml import Path

TOP_LEVEL_KEYS = (
    "name",
    "description",
    "metadata",
    "initial_state",
    "states",
    "events",
    "transitions",
    "actions",
    "template",
    "durable",
    "final_states",
    "state_groups",
    "known_context",
    "actions_root",
)
TRANSITION_KEYS = ("from", "to", "event", "actions", "description", "guard_description")
EVENT_KEYS = ("context_map", "description")


def shape(data: Mapping[str, Any], out: Collector) -> tuple[dict[str, Any], dict[str, Any]]:
    """Turn the written forms into the model's shapes (lists for ``from``, dicts for events).

    Returns the shaped document and the top-level keys kept as written (unknown keys and
    ``actions_root``).
    """
    shaped: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if key not in TOP_LEVEL_KEYS:
            extra[str(key)] = value
            out.add(
                (str(key),),
                f"unknown key {key!r} is ignored{choices(str(key), TOP_LEVEL_KEYS)}",
                severity="warning",
                key=True,
            )
            continue
        if value is None and key != "initial_state":
            continue
        shaped[key] = value

    if "actions_root" in shaped:
        extra["actions_root"] = shaped.pop("actions_root")

    for key in ("states", "final_states", "known_context"):
        if isinstance(shaped.get(key), str):
            # a lone name would be structured as a tuple of its characters
            out.add((key,), f"expected a list of names, got {describe(shaped.pop(key))}")

    if "events" in shaped:
        shaped["events"] = _shape_events(shaped["events"], out)
    if "transitions" in shaped:
        shaped["transitions"] = _shape_transitions(shaped["transitions"], out)

    actions = shaped.get("actions")
    if isinstance(actions, Mapping):
        shaped["actions"] = {
            str(state): _shape_actions(lst, ("actions", str(state)), out)
            for state, lst in actions.items()
            if lst is not None
        }
    return shaped, extra


def _shape_events(events: Any, out: Collector) -> Any:
    """A list of names or a mapping of name -> body, as a mapping of name -> ``EventSpec``
    fields."""
    if isinstance(events, list):
        names: dict[str, Any] = {}
        for i, name in enumerate(events):
            if isinstance(name, str):
                names[name] = {"name": name}
            else:
                out.add(("events", i), f"an event name must be a string, got {describe(name)}")
        return names
    if not isinstance(events, Mapping):
        return events  # the model step reports the wrong type
    converted: dict[str, Any] = {}
    for name, body in events.items():
        entry: dict[str, Any] = {"name": str(name)}
        if isinstance(body, Mapping):
            for k in body:
                if k not in EVENT_KEYS:
                    out.add(
                        ("events", str(name), str(k)),
                        f"unknown key {k!r} in event{choices(str(k), EVENT_KEYS)}",
                        severity="warning",
                        key=True,
                    )
            if body.get("context_map") is not None:
                entry["context_map"] = body["context_map"]
        elif body is not None:
            out.add(("events", str(name)), f"expected a mapping or nothing, got {describe(body)}")
        converted[str(name)] = entry
    return converted


def _shape_transitions(transitions: Any, out: Collector) -> Any:
    if not isinstance(transitions, list):
        return transitions  # the model step reports the wrong type
    shaped_transitions = []
    for i, t in enumerate(transitions):
        if not isinstance(t, Mapping):
            shaped_transitions.append(t)
            continue
        t = dict(t)
        for k in list(t):
            if k not in TRANSITION_KEYS:
                out.add(
                    ("transitions", i, str(k)),
                    f"unknown key {k!r} in transition{choices(str(k), TRANSITION_KEYS)}",
                    severity="warning",
                    key=True,
                )
                del t[k]
        t.pop("description", None)
        t.pop("guard_description", None)
        if isinstance(t.get("from"), str):
            t["from"] = [t["from"]]
        if "actions" in t:
            t["actions"] = _shape_actions(t["actions"], ("transitions", i, "actions"), out)
        shaped_transitions.append(t)
    return shaped_transitions


def _shape_actions(actions: Any, path: Path, out: Collector) -> Any:
    if not isinstance(actions, list):
        return actions  # cattrs reports the wrong type
    shaped = []
    for i, action in enumerate(actions):
        if isinstance(action, Mapping):
            if "type" not in action:
                out.add((*path, i), "an action needs a 'type' key")
            shaped.append({"type": action.get("type", ""), "config": dict(action)})
        else:
            out.add((*path, i), f"expected a mapping with a 'type' key, got {describe(action)}")
            shaped.append({"type": "", "config": {}})  # keeps the later actions' indexes
    return shaped
