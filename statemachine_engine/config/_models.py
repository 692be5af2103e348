"""Frozen models of a machine configuration (what the YAML means, not how it is written)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from statemachine_engine.errors import ConfigIssue

WILDCARD = "*"
TIMEOUT_EVENT = re.compile(r"^timeout\((\d+(?:\.\d+)?)\)$")
#: States that end a machine when a config declares no ``final_states`` (the published
#: package's convention).
CONVENTIONAL_FINAL_STATES = frozenset({"stopped", "shutdown", "completed"})


def timeout_seconds(event: str) -> float | None:
    """``"timeout(2.5)"`` -> 2.5; any other event -> None."""
    match = TIMEOUT_EVENT.match(event)
    return float(match.group(1)) if match else None


def action_param(config: Any, key: str, default: Any = None) -> Any:
    """The one rule for reading an action's key: at the top level of its mapping, else
    under ``params:``, else ``default``. A value that is not a mapping has no keys."""
    # every action reads its keys through here: a plain dict skips the ABC check
    if type(config) is not dict and not isinstance(config, Mapping):
        return default
    if key in config:
        return config[key]
    params = config.get("params")
    # (most actions have no params: None skips the ABC check too)
    if params is not None and isinstance(params, Mapping) and key in params:
        return params[key]
    return default


@attrs.frozen(hash=False)
class ActionSpec:
    """One action as written. ``config`` is the whole mapping (``type`` and ``params`` included),
    which is what custom actions see as ``self.config``."""

    type: str
    config: Mapping[str, Any] = attrs.field(factory=dict)
    path: str = "$"
    line: int | None = None

    def get(self, key: str, default: Any = None) -> Any:
        """A key read at the top level of the action, else under ``params:``."""
        return action_param(self.config, key, default)

    @property
    def params(self) -> dict[str, Any]:
        """Top-level keys and ``params:`` keys merged (``params`` wins); ``type`` excluded."""
        merged = {k: v for k, v in self.config.items() if k not in ("type", "params")}
        params = self.config.get("params")
        if isinstance(params, Mapping):
            merged.update(params)
        return merged


@attrs.frozen(hash=False)
class EventSpec:
    name: str
    #: context key -> dot path into the received message (``payload.user.name``)
    context_map: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(hash=False)
class Transition:
    from_: tuple[str, ...]
    to: str
    event: str
    actions: tuple[ActionSpec, ...] = ()
    index: int = 0
    line: int | None = None

    @property
    def wildcard(self) -> bool:
        return WILDCARD in self.from_

    @property
    def timeout(self) -> float | None:
        return timeout_seconds(self.event)

    def applies_to(self, state: str) -> bool:
        return self.wildcard or state in self.from_


@attrs.frozen(hash=False)
class MachineSpec:
    """A whole machine. Build it with :func:`statemachine_engine.config.load_config`."""

    initial_state: str = "waiting"
    name: str | None = None
    description: str | None = None
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    states: tuple[str, ...] = ()
    events: Mapping[str, EventSpec] = attrs.field(factory=dict)
    transitions: tuple[Transition, ...] = ()
    actions: Mapping[str, tuple[ActionSpec, ...]] = attrs.field(factory=dict)
    template: bool = False
    #: checkpointed at every step and resumed after any stop that did not end it
    durable: bool = False
    final_states: frozenset[str] = frozenset()
    state_groups: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    known_context: tuple[str, ...] = ()
    #: top-level keys the model does not know, kept as written
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    #: the file it came from, and its stem (the published package's ``config_type``)
    source: str | None = None
    config_type: str = "machine"
    warnings: tuple[ConfigIssue, ...] = ()

    @property
    def machine_name(self) -> str | None:
        value = self.metadata.get("machine_name")
        return str(value) if value is not None else None

    @property
    def default_name(self) -> str:
        """``metadata.machine_name``, else the file stem."""
        return self.machine_name or self.config_type

    @property
    def all_states(self) -> tuple[str, ...]:
        """Declared states, then any other state a transition or action names, in file order."""
        seen = dict.fromkeys(self.states)
        seen.setdefault(self.initial_state)
        for t in self.transitions:
            for s in t.from_:
                if s != WILDCARD:
                    seen.setdefault(s)
            seen.setdefault(t.to)
        for s in self.actions:
            seen.setdefault(s)
        return tuple(seen)
