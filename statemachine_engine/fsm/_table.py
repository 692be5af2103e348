"""The pure step function and spec queries: no I/O, no trio, no clock.

A :class:`Table` is a machine spec compiled for constant-time lookups. The rules it encodes
(docs/architecture.md, "Machine actors"):

* transitions whose ``from`` names the state win over ``from: "*"`` ones; within each group,
  the first in file order wins;
* a state arms one deadline per distinct ``timeout(N)`` event that can fire from it, and the
  earliest is the one that matters (leaving the state disarms the rest);
* a state is final if the spec says so;
* an entry action marked ``repeatable: true`` (or ``run_policy: repeat_per_tick`` /
  ``repeat``) runs again while the machine stays idle in its state, every
  ``repeat_interval`` seconds (default :data:`REPEAT_INTERVAL`), as the published
  package's engine ran it on every tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from statemachine_engine.config import WILDCARD, ActionSpec, MachineSpec, Transition

#: seconds between two runs of a repeatable action (the published package's tick)
REPEAT_INTERVAL = 0.05


class Repeat:
    """The entry actions of a state that run again while the machine waits in it:
    ``indices``, every ``interval`` seconds. ``explicit``: the interval was given
    (``repeat_interval``), so an action that can wait for its moment (a queue check waits
    for a job) still runs at least this often."""

    __slots__ = ("explicit", "indices", "interval")

    def __init__(self, indices: tuple[int, ...], interval: float, explicit: bool) -> None:
        self.indices = indices
        self.interval = interval
        self.explicit = explicit

    def __repr__(self) -> str:
        return f"Repeat({self.indices!r}, {self.interval!r}, {self.explicit!r})"


class Table:
    """A machine's transitions by (state, event), its wildcard transitions by event, its
    final states, its timeouts by state (worked out on first use) and its states with
    repeatable entry actions (``repeats``: most machines have none). ``memo`` keeps what the
    runtime works out once per action of the spec (by ``id``, with the action itself)."""

    __slots__ = ("_timers", "final", "memo", "repeats", "spec", "specific", "wildcard")

    def __init__(
        self,
        spec: MachineSpec,
        specific: dict[tuple[str, str], Transition],
        wildcard: dict[str, Transition],
        final: frozenset[str],
        timers: dict[str, tuple[tuple[float, str], ...]] | None = None,
        repeats: dict[str, Repeat] | None = None,
    ) -> None:
        self.spec = spec
        self.specific = specific
        self.wildcard = wildcard
        self.final = final
        self._timers = {} if timers is None else timers
        self.repeats = {} if repeats is None else repeats
        self.memo: dict[int, tuple[ActionSpec, Any]] = {}

    def select(self, state: str, event: str) -> Transition | None:
        """The transition ``event`` fires from ``state``, or None."""
        found = self.specific.get((state, event))
        if found is None:
            found = self.wildcard.get(event)
        return found

    def timers(self, state: str) -> tuple[tuple[float, str], ...]:
        """``(seconds, event)`` for every timeout that can fire from ``state``, earliest first."""
        cached = self._timers.get(state)
        if cached is None:
            cached = _timers_for(self, state)
            self._timers[state] = cached
        return cached

    def first_timer(self, state: str) -> tuple[float, str] | None:
        """The earliest timeout of ``state``, or None (asked on every state entry)."""
        timers = self._timers.get(state)
        if timers is None:
            timers = self.timers(state)
        return timers[0] if timers else None

    def is_final(self, state: str) -> bool:
        return state in self.final

    def step(self, state: str, event: str) -> str | None:
        """The state after ``event`` in ``state``, or None when nothing fires."""
        found = self.select(state, event)
        return found.to if found is not None else None


def compile_spec(spec: MachineSpec) -> Table:
    specific: dict[tuple[str, str], Transition] = {}
    wildcard: dict[str, Transition] = {}
    for t in spec.transitions:
        if t.wildcard:
            wildcard.setdefault(t.event, t)
        for state in t.from_:
            if state != WILDCARD:
                specific.setdefault((state, t.event), t)
    repeats = {
        state: repeat
        for state, actions in spec.actions.items()
        if (repeat := _repeat(actions)) is not None
    }
    return Table(
        spec=spec,
        specific=specific,
        wildcard=wildcard,
        final=spec.final_states,
        repeats=repeats,
    )


def _repeat(actions: tuple[ActionSpec, ...]) -> Repeat | None:
    indices = tuple(i for i, action in enumerate(actions) if repeatable(action.config))
    if not indices:
        return None
    given = [
        seconds
        for i in indices
        if (seconds := _seconds(actions[i].config.get("repeat_interval"))) is not None
    ]
    return Repeat(indices, min(given) if given else REPEAT_INTERVAL, bool(given))


def repeatable(config: object) -> bool:
    """``repeatable: true`` (or a true-ish string), or ``run_policy: repeat_per_tick|repeat``
    -- the published package's two spellings."""
    if not isinstance(config, Mapping):
        return False
    flag = config.get("repeatable")
    if isinstance(flag, str):
        flag = flag.strip().lower() in ("true", "1", "yes", "on")
    policy = str(config.get("run_policy") or "").strip().lower()
    return flag is True or policy in ("repeat_per_tick", "repeat")


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def _timers_for(table: Table, state: str) -> tuple[tuple[float, str], ...]:
    found: dict[str, tuple[float, int]] = {}
    for t in table.spec.transitions:
        seconds = t.timeout
        if seconds is None or t.event in found or not t.applies_to(state):
            continue
        if table.select(state, t.event) is not None:
            found[t.event] = (seconds, t.index)
    ordered = sorted(found.items(), key=lambda item: item[1])
    return tuple((seconds, event) for event, (seconds, _) in ordered)


def select_transition(spec: MachineSpec, state: str, event: str) -> Transition | None:
    """Reference rule by linear scan (what :meth:`Table.select` computes in O(1))."""
    wildcard: Transition | None = None
    for t in spec.transitions:
        if t.event != event:
            continue
        if state in t.from_:
            return t
        if wildcard is None and t.wildcard:
            wildcard = t
    return wildcard
