"""Mermaid ``stateDiagram-v2`` text for a machine (main view) and for each state group.

Main view: each group is a composite ``state GROUP { ... }`` block declaring its states;
ungrouped states are declared at the top level; then every transition is drawn between
states, ``[*] --> initial`` and ``final --> [*]``. Transitions with ``from: "*"`` are drawn
once, from a single dashed node labelled "any state" (id ``any_state``), instead of from
every state: the diagram stays readable and the event label is still on an arrow.

Group view: the group's states; the states and groups its transitions come from or lead to,
drawn as plain nodes (other groups by their composite id); the wildcard node when the machine
has one; ``[*] --> initial`` when the initial state is in the group, ``final --> [*]`` for its
final states.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from statemachine_engine.config import WILDCARD
from statemachine_engine.tools._layout import WILDCARD_LABEL, Edge, Layout

INDENT = "    "
_STYLES = (
    "classDef wildcard stroke-dasharray:5 5",
    "classDef external stroke-dasharray:3 3",
)


def label(text: str) -> str:
    """Text safe after ``a --> b :`` or inside ``state "..."``: no colon, semicolon, quote, hash
    or line break reaches the parser (Mermaid turns the ``#NN;`` entities back into text)."""
    return _SPECIAL.sub(lambda m: _ENTITIES[m.group(0)], " ".join(text.split()))


_ENTITIES = {"#": "#35;", ":": "#58;", ";": "#59;", '"': "#quot;"}
_SPECIAL = re.compile('[#:;"]')


def declaration(layout: Layout, state: str) -> str:
    node = layout.state_ids[state]
    return node if node == state else f'state "{label(state)}" as {node}'


def _arrows(edges: Iterable[tuple[str, str, str]]) -> list[str]:
    """The arrow lines for ``(source node, target node, event)`` edges, each once, in order.

    The self-loops of a node become one arrow, one event per line of its label (``<br>``):
    Mermaid 11 routes every loop of a node through the same hidden nodes and draws only the
    last one (mermaid-js/mermaid#6034).
    """
    lines: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    loops: dict[str, tuple[int, list[str]]] = {}  # node -> (its line, the events on it)
    for source, target, event in edges:
        text = label(event)
        if (source, target, text) in seen:
            continue
        seen.add((source, target, text))
        if source == target and text:
            if source in loops:
                index, texts = loops[source]
                texts.append(text)
                lines[index] = f"{source} --> {target} : {'<br>'.join(texts)}"
                continue
            loops[source] = (len(lines), [text])
        lines.append(f"{source} --> {target} : {text}" if text else f"{source} --> {target}")
    return lines


def main_diagram(layout: Layout, title: str) -> str:
    spec = layout.spec
    lines = ["stateDiagram-v2", f"{INDENT}%% {' '.join(title.split())}"]
    for group, members in layout.groups.items():
        count = f"{len(members)} state{'s' if len(members) != 1 else ''}"
        lines.append(f"{INDENT}%% {' '.join(group.split())} ({count})")
        lines.append(f"{INDENT}state {layout.group_ids[group]} {{")
        lines.extend(f"{INDENT * 2}{declaration(layout, s)}" for s in members)
        lines.append(f"{INDENT}}}")
    lines.extend(
        f"{INDENT}{declaration(layout, s)}" for s in layout.states if s not in layout.group_of
    )
    if layout.wildcard_id is not None:
        lines.append(f'{INDENT}state "{WILDCARD_LABEL}" as {layout.wildcard_id}')
    lines.append(f"{INDENT}[*] --> {layout.state_ids[spec.initial_state]}")
    edges = ((layout.node(e.source), layout.node(e.target), e.event) for e in layout.edges)
    lines.extend(INDENT + arrow for arrow in _arrows(edges))
    lines.extend(f"{INDENT}{layout.state_ids[s]} --> [*]" for s in layout.ordered_finals)
    if layout.wildcard_id is not None:
        lines.append(INDENT + _STYLES[0])
        lines.append(f"{INDENT}class {layout.wildcard_id} wildcard")
    return "\n".join(lines) + "\n"


def _outside(layout: Layout, state: str) -> tuple[str, str]:
    """The node that stands for ``state`` in another group's diagram, and its declaration."""
    group = layout.group_of.get(state)
    if group is None:
        return layout.state_ids[state], declaration(layout, state)
    node = layout.group_ids[group]
    text = label(group)
    return node, (node if node == text else f'state "{text}" as {node}')


def group_edges(layout: Layout, group: str) -> list[Edge]:
    """Transitions that start or end in ``group``, and every wildcard transition."""
    members = set(layout.groups[group])
    return [
        e
        for e in layout.edges
        if e.source == WILDCARD or e.source in members or e.target in members
    ]


def group_diagram(layout: Layout, group: str) -> str:
    spec = layout.spec
    members = layout.groups[group]
    inside = set(members)
    lines = ["stateDiagram-v2", f"{INDENT}%% {' '.join(group.split())}"]
    lines.extend(f"{INDENT}{declaration(layout, s)}" for s in members)

    def node(state: str) -> str:
        if state == WILDCARD or state in inside:
            return layout.node(state)
        return _outside(layout, state)[0]

    edges = group_edges(layout, group)
    external: dict[str, str] = {}
    for e in edges:
        for end in (e.source, e.target):
            if end != WILDCARD and end not in inside:
                ext_node, decl = _outside(layout, end)
                external.setdefault(ext_node, decl)
    lines.extend(INDENT + decl for decl in external.values())
    uses_wildcard = any(e.source == WILDCARD for e in edges)
    if uses_wildcard:
        lines.append(f'{INDENT}state "{WILDCARD_LABEL}" as {layout.wildcard_id}')
    if spec.initial_state in inside:
        lines.append(f"{INDENT}[*] --> {layout.state_ids[spec.initial_state]}")
    lines.extend(
        INDENT + a for a in _arrows((node(e.source), node(e.target), e.event) for e in edges)
    )
    lines.extend(
        f"{INDENT}{layout.state_ids[s]} --> [*]" for s in layout.ordered_finals if s in inside
    )
    if uses_wildcard:
        lines.append(INDENT + _STYLES[0])
        lines.append(f"{INDENT}class {layout.wildcard_id} wildcard")
    if external:
        lines.append(INDENT + _STYLES[1])
        lines.append(f"{INDENT}class {','.join(external)} external")
    return "\n".join(lines) + "\n"


def entry_states(layout: Layout, group: str) -> list[str]:
    """Group states entered from outside the group (wildcards count), and the initial state."""
    inside = set(layout.groups[group])
    found = {
        e.target
        for e in layout.edges
        if e.target in inside and (e.source == WILDCARD or e.source not in inside)
    }
    if layout.spec.initial_state in inside:
        found.add(layout.spec.initial_state)
    return [s for s in layout.groups[group] if s in found]


def exit_states(layout: Layout, group: str) -> list[str]:
    """Group states with a transition (not a wildcard one) to a state outside the group."""
    inside = set(layout.groups[group])
    found = {e.source for e in layout.edges if e.source in inside and e.target not in inside}
    return [s for s in layout.groups[group] if s in found]
