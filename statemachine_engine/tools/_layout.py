"""How a machine is laid out for drawing: node ids, groups and the edges between nodes."""

from __future__ import annotations

import attrs

from statemachine_engine.config import WILDCARD, MachineSpec
from statemachine_engine.tools._ids import IdAllocator

#: the node that stands for ``from: "*"``
WILDCARD_LABEL = "any state"
WILDCARD_BASE_ID = "any_state"


@attrs.frozen
class Edge:
    source: str  # a state name, or "*"
    target: str
    event: str


@attrs.frozen
class Layout:
    spec: MachineSpec
    #: every state to draw, in all_states order (group members the spec never uses included)
    states: tuple[str, ...]
    state_ids: dict[str, str]
    #: group name -> its states (a state listed in two groups stays in the first)
    groups: dict[str, tuple[str, ...]]
    group_ids: dict[str, str]
    group_of: dict[str, str]
    #: id of the wildcard node, or None when no transition starts at "*"
    wildcard_id: str | None
    edges: tuple[Edge, ...]

    def node(self, state: str) -> str:
        if state == WILDCARD:
            assert self.wildcard_id is not None
            return self.wildcard_id
        return self.state_ids[state]

    @property
    def ordered_finals(self) -> list[str]:
        return [s for s in self.states if s in self.spec.final_states]


def build_layout(spec: MachineSpec) -> Layout:
    states = list(spec.all_states)
    for members in spec.state_groups.values():
        states.extend(m for m in members if m not in states)
    for final in sorted(spec.final_states):
        if final not in states:
            states.append(final)
    ids = IdAllocator()
    state_ids = {s: ids.take(s) for s in states}

    group_of: dict[str, str] = {}
    groups: dict[str, tuple[str, ...]] = {}
    for group, members in spec.state_groups.items():
        kept = tuple(m for m in dict.fromkeys(members) if m not in group_of)
        for m in kept:
            group_of[m] = group
        if kept:
            groups[group] = kept
    group_ids = {g: ids.take(g, group=True) for g in groups}

    edges: list[Edge] = []
    for t in spec.transitions:
        for source in dict.fromkeys(t.from_):
            edges.append(Edge(source, t.to, t.event))
    wildcard = any(e.source == WILDCARD for e in edges)
    wildcard_id = ids.take(WILDCARD_BASE_ID) if wildcard else None
    return Layout(
        spec=spec,
        states=tuple(states),
        state_ids=state_ids,
        groups=groups,
        group_ids=group_ids,
        group_of=group_of,
        wildcard_id=wildcard_id,
        edges=tuple(edges),
    )
